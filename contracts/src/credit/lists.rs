//! The serious-dishonesty list (joint punishment) and the watch list: entry and exit
//! by the recording authority or the credit authority, record by record.

use jialing_core::Role;

use super::payloads::SetList;
use super::records::finish;
use super::rules::{rule_list_by_authority, rule_list_category, rule_phase_allows};
use super::store;
use super::types::{ListEntry, ListKind, Phase};
use crate::error::ContractError;
use crate::executor::Tx;
use crate::registry::decode_payload;

/// Phases in which a record may enter a list (it must be in publication).
pub const LISTABLE: &[Phase] = &[
    Phase::Published,
    Phase::Eligible,
    Phase::Applied,
    Phase::Accepted,
    Phase::Incomplete,
    Phase::Denied,
    Phase::Reinstated,
];

/// The list's name in `credit/lists/`.
pub fn list_name(list: ListKind) -> &'static str {
    match list {
        ListKind::SeriousDishonesty => "serious",
        ListKind::Watch => "watch",
    }
}

/// `credit.set_list`.
pub fn run_set_list(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: SetList = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    let mut r = store::load_record(tx, &p.record_id)?;
    rule_list_by_authority(&r, tx.org(), tx.has_role(Role::CreditAuthority))?;
    let now = tx.time_ms();
    let on_list = match p.list {
        ListKind::SeriousDishonesty => r.serious_list.is_some(),
        ListKind::Watch => r.watch_list.is_some(),
    };
    let entry = if p.enter {
        rule_list_category(&r, p.list)?;
        rule_phase_allows(&r, now, "entering a list", LISTABLE)?;
        if on_list {
            return Err(ContractError::rule(
                "credit.invalid_transition",
                format!("record {} is already on the {:?} list", r.id, p.list),
            ));
        }
        Some(ListEntry { by: tx.org().clone(), entered_ms: now, reasons: p.reasons })
    } else {
        if !on_list {
            return Err(ContractError::rule(
                "credit.invalid_transition",
                format!("record {} is not on the {:?} list", r.id, p.list),
            ));
        }
        None
    };
    let name = list_name(p.list);
    if entry.is_some() {
        store::list_add(tx, name, &r.id)?;
    } else {
        store::list_remove(tx, name, &r.id)?;
    }
    match p.list {
        ListKind::SeriousDishonesty => r.serious_list = entry,
        ListKind::Watch => r.watch_list = entry,
    }
    finish(tx, &r)
}

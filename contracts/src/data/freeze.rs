//! Regulator freezes: the data regulator freezes a product (no listing, new trade or
//! delivery) or a licence (no delivery, use or transfer) and unfreezes it; the record
//! names the regulator, the reasons and the decision's hash. Rule codes: `data.frozen`
//! (enforced where things move), `data.status` (freezing twice, unfreezing what is not
//! frozen).

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Hash;
use serde::{Deserialize, Serialize};

use super::methods::{load_product, load_trade, rule, save_product, save_trade};
use super::types::FreezeRecord;
use crate::error::ContractError;
use crate::executor::Tx;
use crate::registry::decode_payload;

/// What a freeze applies to.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum FreezeTarget {
    /// A data product.
    Product(String),
    /// A licence (trade).
    Licence(String),
}

/// `data.freeze`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Freeze {
    /// The product or licence.
    pub target: FreezeTarget,
    /// Reasons.
    pub reasons: String,
    /// Hash of the freeze decision.
    pub document: Hash,
}
payload!(Freeze, "freeze");

/// `data.unfreeze`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Unfreeze {
    /// The product or licence.
    pub target: FreezeTarget,
}
payload!(Unfreeze, "unfreeze");

fn set(slot: &mut Option<FreezeRecord>, to: Option<FreezeRecord>, what: &str, id: &str) -> Result<(), ContractError> {
    match (slot.is_some(), to.is_some()) {
        (true, true) => Err(rule("data.status", format!("{what} {id} is already frozen"))),
        (false, false) => Err(rule("data.status", format!("{what} {id} is not frozen"))),
        _ => {
            *slot = to;
            Ok(())
        }
    }
}

fn apply(tx: &mut Tx<'_>, target: FreezeTarget, to: Option<FreezeRecord>) -> Result<(), ContractError> {
    match target {
        FreezeTarget::Product(id) => {
            let mut d = load_product(tx, &id)?;
            set(&mut d.frozen, to, "product", &id)?;
            save_product(tx, &d);
        }
        FreezeTarget::Licence(id) => {
            let mut t = load_trade(tx, &id)?;
            set(&mut t.frozen, to, "licence", &id)?;
            save_trade(tx, &t);
        }
    }
    Ok(())
}

pub(crate) fn freeze(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Freeze = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    let rec = FreezeRecord { by: tx.org().clone(), reasons: p.reasons, document: p.document, at_ms: tx.time_ms() };
    apply(tx, p.target, Some(rec))
}

pub(crate) fn unfreeze(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Unfreeze = decode_payload(payload)?;
    apply(tx, p.target, None)
}

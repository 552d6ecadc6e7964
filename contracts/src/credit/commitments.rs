//! Credit commitments: signed, published promises by a subject.

use super::AUTHORITY_ROLES;
use super::payloads::Commit;
use super::records::check_hash;
use super::store::{self, check_id};
use super::types::{Commitment, Subject};
use crate::error::ContractError;
use crate::executor::Tx;
use crate::receipt::TagKind;
use crate::registry::decode_payload;

/// `credit.commit`: any member of an organisation publishes a commitment for its own
/// organisation; an authority files a person's signed commitment.
pub fn run_commit(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Commit = decode_payload(payload)?;
    check_id("id", &p.id)?;
    tx.check_text("promise", &p.promise, true)?;
    check_hash("document", &p.document)?;
    let subject = match p.person {
        None => Subject::Org(tx.org().clone()),
        Some(h) => {
            check_hash("person", &h)?;
            if !AUTHORITY_ROLES.iter().any(|r| tx.has_role(*r)) {
                return Err(ContractError::rule(
                    "credit.subject_only",
                    format!("a person's commitment is filed by an authority; {} is not one", tx.org()),
                ));
            }
            Subject::Person(h)
        }
    };
    if tx.get_raw(&store::commitment_key(&p.id))?.is_some() {
        return Err(ContractError::AlreadyExists { what: "credit commitment", id: p.id });
    }
    let subject_id = subject.id();
    let c = Commitment {
        id: p.id.clone(),
        subject,
        filed_by: tx.org().clone(),
        promise: p.promise,
        document: p.document,
        made_ms: tx.time_ms(),
        proven_false_ms: None,
    };
    let mut index = store::load_index(tx, &subject_id)?.unwrap_or_default();
    index.commitments.push(p.id.clone());
    store::save_index(tx, &subject_id, &index);
    tx.put(store::commitment_key(&p.id), &c);
    tx.tag(TagKind::CreditSubject, subject_id);
    Ok(())
}

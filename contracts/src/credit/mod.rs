//! The credit contract (register 3): dishonesty records, publication, commitments,
//! repair, lists and joint punishment. Being written.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Uscc;
use serde::{Deserialize, Serialize};

use crate::error::ContractError;
use crate::executor::Tx;
use crate::registry::Method;

/// Credit parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreditParams {}

/// The credit contract's methods.
pub const METHODS: &[Method] = &[];

/// Whether `subject` is under joint punishment (on the serious-dishonesty list and not
/// repaired) at the transaction's block time. Other registers call this.
pub fn is_under_joint_punishment(tx: &Tx<'_>, subject: &Uscc) -> Result<bool, ContractError> {
    let _ = (tx, subject);
    Ok(false)
}

//! The governance contract: proposals to change membership, keys, validators and
//! parameters, effective once regulators holding more than two thirds have approved.
//! Being written.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::registry::Method;

/// Governance parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GovernanceParams {}

/// The governance contract's methods.
pub const METHODS: &[Method] = &[];

//! The data-trading contract (register 2): products, review and registration, listing,
//! trades and licences, delivery, settlement, usage and lineage. Being written.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::registry::Method;

/// Data-trading parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataParams {}

/// The data-trading contract's methods.
pub const METHODS: &[Method] = &[];

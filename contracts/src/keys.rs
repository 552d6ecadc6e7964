//! The state key layout. Every key is a short ASCII prefix followed by an id, so the
//! store can scan one kind of object and a human can read a state dump.

use jialing_core::{PublicKey, Uscc};

/// The prefix of organisation keys.
pub const ORG_PREFIX: &[u8] = b"org/";

/// The prefix of member keys.
pub const MEMBER_PREFIX: &[u8] = b"member/";

/// `org/{uscc}` → [`crate::membership::Organisation`].
pub fn org(uscc: &Uscc) -> Vec<u8> {
    [ORG_PREFIX, uscc.as_str().as_bytes()].concat()
}

/// `member/{key hex}` → [`crate::membership::Member`].
pub fn member(key: &PublicKey) -> Vec<u8> {
    [MEMBER_PREFIX, key.to_hex().as_bytes()].concat()
}

/// `nonce/{key hex}` → `u64`, the next nonce the ledger expects from this key.
pub fn nonce(key: &PublicKey) -> Vec<u8> {
    [b"nonce/".as_slice(), key.to_hex().as_bytes()].concat()
}

/// `params` → [`crate::params::Params`], the contract parameters in force.
pub const PARAMS: &[u8] = b"params";

/// `validators` → [`jialing_core::ValidatorSet`], the set certifying the next block.
pub const VALIDATORS: &[u8] = jialing_core::chain_identity::VALIDATORS_KEY;

/// `chain` → [`crate::genesis_state::ChainInfo`]: chain id and genesis facts.
pub const CHAIN: &[u8] = b"chain";

/// Builds `{prefix}{id}` for contract-specific keys.
pub fn with_id(prefix: &str, id: &str) -> Vec<u8> {
    [prefix.as_bytes(), id.as_bytes()].concat()
}

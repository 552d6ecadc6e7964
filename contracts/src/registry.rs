//! The method table: every callable contract method, the roles allowed to call it and
//! its handler. Dispatch is a lookup here; the role check happens before the handler.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Role;

use crate::error::ContractError;
use crate::executor::Tx;

/// One callable method.
pub struct Method {
    /// Contract name, as in `Transaction::contract`.
    pub contract: &'static str,
    /// Method name, as in `Transaction::method`.
    pub name: &'static str,
    /// The signer must hold at least one of these roles.
    pub roles: &'static [Role],
    /// One line for `--help` and the API's method list.
    pub summary: &'static str,
    /// Decodes the payload and executes the method.
    pub run: fn(&mut Tx<'_>, &[u8]) -> Result<(), ContractError>,
    /// Payload bytes to JSON (for the API and explorers): use [`json_of`].
    pub to_json: fn(&[u8]) -> Result<serde_json::Value, ContractError>,
    /// JSON to payload bytes (for the CLI's generic `tx call`): use [`from_json_of`].
    pub from_json: fn(serde_json::Value) -> Result<Vec<u8>, ContractError>,
}

/// Generic [`Method::to_json`].
pub fn json_of<P: CallPayload + serde::Serialize>(bytes: &[u8]) -> Result<serde_json::Value, ContractError> {
    let p: P = decode_payload(bytes)?;
    serde_json::to_value(&p).map_err(|e| ContractError::BadPayload { method: P::METHOD.into(), reason: e.to_string() })
}

/// Generic [`Method::from_json`].
pub fn from_json_of<P: CallPayload + serde::de::DeserializeOwned>(
    v: serde_json::Value,
) -> Result<Vec<u8>, ContractError> {
    let p: P = serde_json::from_value(v).map_err(|e| ContractError::BadPayload {
        method: format!("{}.{}", P::CONTRACT, P::METHOD),
        reason: e.to_string(),
    })?;
    Ok(jialing_core::encoding::encode(&p))
}

/// A method's argument type: knows which method it belongs to.
pub trait CallPayload: BorshSerialize + BorshDeserialize {
    /// Contract name.
    const CONTRACT: &'static str;
    /// Method name.
    const METHOD: &'static str;

    /// `(contract, method, payload bytes)` for building a transaction.
    fn to_call(&self) -> (String, String, Vec<u8>) {
        (Self::CONTRACT.to_string(), Self::METHOD.to_string(), jialing_core::encoding::encode(self))
    }
}

/// Decodes a method's payload with a precise error.
pub fn decode_payload<P: CallPayload>(bytes: &[u8]) -> Result<P, ContractError> {
    jialing_core::encoding::decode_limited(P::METHOD, bytes, jialing_core::tx::MAX_TX_BYTES).map_err(|e| {
        ContractError::BadPayload { method: format!("{}.{}", P::CONTRACT, P::METHOD), reason: e.to_string() }
    })
}

/// Every method of every contract.
pub fn methods() -> impl Iterator<Item = &'static Method> {
    crate::membership::METHODS
        .iter()
        .chain(crate::trace::METHODS)
        .chain(crate::data::METHODS)
        .chain(crate::credit::METHODS)
        .chain(crate::governance::METHODS)
        .chain(crate::anchor::METHODS)
        .chain(crate::attest::METHODS)
}

/// Finds a method by contract and name.
pub fn find(contract: &str, name: &str) -> Option<&'static Method> {
    methods().find(|m| m.contract == contract && m.name == name)
}

/// Runs `contract.method` with `payload` inside `tx`, under its signer's authority: the
/// method must exist and the signer must hold one of its roles, then its handler runs.
/// The executor dispatches every transaction through here, and a method that applies
/// other methods' rules (`trace.epcis_capture`) calls them through here too, so the
/// rules and role checks are the same either way.
pub fn dispatch(tx: &mut Tx<'_>, contract: &str, method: &str, payload: &[u8]) -> Result<(), ContractError> {
    let m = find(contract, method)
        .ok_or_else(|| ContractError::UnknownMethod { contract: contract.to_string(), method: method.to_string() })?;
    if !m.roles.iter().any(|r| tx.member().roles.contains(r)) {
        return Err(ContractError::WrongRole {
            method: format!("{}.{}", m.contract, m.name),
            needed: crate::error::role_list(m.roles),
            have: crate::error::role_list(&tx.member().roles),
        });
    }
    (m.run)(tx, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_are_unique_and_every_method_names_roles() {
        let all: Vec<_> = methods().collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!a.roles.is_empty(), "{}.{} allows no role", a.contract, a.name);
            for b in &all[i + 1..] {
                assert!(!(a.contract == b.contract && a.name == b.name), "duplicate {}.{}", a.contract, a.name);
            }
        }
    }
}

//! Building and signing transactions: [`TxBuilder`] tracks the signer's nonce locally
//! so many transactions can be built without asking the node each time, and the
//! generic argument path (`key=value` pairs or JSON -> a method's payload through the
//! contract registry) used by `jialing tx <contract> <method>`.

use jialing_contracts::registry::{self, CallPayload};
use jialing_core::{Keypair, PublicKey, SignedTransaction, Transaction};
use serde_json::{Map, Value};

use crate::error::ClientError;
use crate::sdk::Client;

/// Builds signed transactions for one key, numbering them with consecutive nonces.
#[derive(Clone, Debug)]
pub struct TxBuilder {
    key: Keypair,
    chain_id: String,
    next_nonce: u64,
}

impl TxBuilder {
    /// A builder for `key` on `chain_id` whose next transaction gets `next_nonce`.
    pub fn new(key: Keypair, chain_id: impl Into<String>, next_nonce: u64) -> Self {
        TxBuilder { key, chain_id: chain_id.into(), next_nonce }
    }

    /// A builder whose chain id and next nonce (counting the mempool) come from the node.
    pub fn from_node(client: &Client, key: Keypair) -> Result<Self, ClientError> {
        let chain_id = client.status()?.chain_id;
        let next = client.next_nonce(&key.public())?;
        Ok(TxBuilder::new(key, chain_id, next))
    }

    /// The signer's public key.
    pub fn signer(&self) -> PublicKey {
        self.key.public()
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The nonce the next built transaction will carry.
    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Resets the local nonce (after a refused submission, from `Client::next_nonce`).
    pub fn set_next_nonce(&mut self, nonce: u64) {
        self.next_nonce = nonce;
    }

    /// Signs a call with raw payload bytes and advances the nonce.
    pub fn build_raw(&mut self, contract: &str, method: &str, payload: Vec<u8>) -> SignedTransaction {
        let tx = Transaction {
            chain_id: self.chain_id.clone(),
            signer: self.key.public(),
            nonce: self.next_nonce,
            contract: contract.to_string(),
            method: method.to_string(),
            payload,
        };
        self.next_nonce = self.next_nonce.saturating_add(1);
        tx.sign(&self.key)
    }

    /// Signs a typed call (`membership::Certify`, ...) and advances the nonce.
    pub fn build<P: CallPayload>(&mut self, payload: &P) -> SignedTransaction {
        let (contract, method, bytes) = payload.to_call();
        self.build_raw(&contract, &method, bytes)
    }

    /// Signs a call given as JSON arguments, encoded through the registry. The nonce
    /// advances only if the arguments fit the method.
    pub fn build_json(&mut self, contract: &str, method: &str, args: Value) -> Result<SignedTransaction, ClientError> {
        let payload = payload_from_json(contract, method, args)?;
        Ok(self.build_raw(contract, method, payload))
    }
}

/// Encodes JSON arguments as `contract.method`'s payload via the registry's `from_json`.
pub fn payload_from_json(contract: &str, method: &str, args: Value) -> Result<Vec<u8>, ClientError> {
    let m = registry::find(contract, method)
        .ok_or_else(|| ClientError::UnknownMethod { contract: contract.into(), method: method.into() })?;
    (m.from_json)(args).map_err(|e| ClientError::bad_args(contract, method, e))
}

/// Builds a JSON object from `key=value` pairs. A value that parses as JSON is taken
/// as JSON (`n=3`, `ok=true`, `roles=["producer"]`), otherwise as a string
/// (`name=Fengdu pepper`). Dotted keys build nested objects
/// (`origin.county=Fengdu` -> `{"origin": {"county": "Fengdu"}}`).
pub fn args_from_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<Value, ClientError> {
    let mut root = Map::new();
    for pair in pairs {
        let pair = pair.as_ref();
        let (key, raw) = pair.split_once('=').ok_or_else(|| {
            ClientError::Args(format!("argument {pair:?} is not key=value (e.g. origin.county=Fengdu)"))
        })?;
        let value = serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
        insert_path(&mut root, key, value)?;
    }
    Ok(Value::Object(root))
}

/// Merges `extra` into `base` (both objects): `extra`'s leaves win.
pub fn merge_args(base: Value, extra: Value) -> Result<Value, ClientError> {
    match (base, extra) {
        (Value::Object(mut b), Value::Object(e)) => {
            for (k, v) in e {
                let merged = match b.remove(&k) {
                    Some(old @ Value::Object(_)) if v.is_object() => merge_args(old, v)?,
                    _ => v,
                };
                b.insert(k, merged);
            }
            Ok(Value::Object(b))
        }
        (b, Value::Object(e)) if e.is_empty() => Ok(b),
        _ => Err(ClientError::Args("--args must be a JSON object to combine it with key=value pairs".into())),
    }
}

fn insert_path(root: &mut Map<String, Value>, key: &str, value: Value) -> Result<(), ClientError> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ClientError::Args(format!("key {key:?} has an empty part; write keys like origin.county")));
    }
    let Some((last, parents)) = parts.split_last() else {
        return Err(ClientError::Args("empty key".into()));
    };
    let mut node = root;
    for (i, p) in parents.iter().enumerate() {
        let entry = node.entry(p.to_string()).or_insert_with(|| Value::Object(Map::new()));
        node = match entry {
            Value::Object(m) => m,
            _ => {
                return Err(ClientError::Args(format!(
                    "key {key:?}: {} is already a value, not an object",
                    parts[..=i].join(".")
                )));
            }
        };
    }
    if node.contains_key(*last) {
        return Err(ClientError::Args(format!("key {key:?} is given twice (or is also used as an object)")));
    }
    node.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jialing_contracts::membership::Certify;
    use jialing_core::Role;
    use serde_json::json;

    #[test]
    fn pairs_build_json_with_nesting_and_types() {
        let v = args_from_pairs(&[
            "name=Fengdu pepper",
            "weight_g=1500",
            "organic=true",
            "roles=[\"producer\"]",
            "origin.county=Fengdu",
            "origin.town=Xingyi",
            "note=",
            "eq=a=b",
        ])
        .unwrap();
        assert_eq!(
            v,
            json!({
                "name": "Fengdu pepper", "weight_g": 1500, "organic": true, "roles": ["producer"],
                "origin": {"county": "Fengdu", "town": "Xingyi"}, "note": "", "eq": "a=b"
            })
        );
        assert_eq!(args_from_pairs::<&str>(&[]).unwrap(), json!({}));
        assert_eq!(args_from_pairs(&["id=\"2024\""]).unwrap(), json!({"id": "2024"}));
    }

    #[test]
    fn bad_pairs_say_what_is_wrong() {
        let e = |p: &[&str]| args_from_pairs(p).unwrap_err().to_string();
        assert!(e(&["novalue"]).contains("not key=value"));
        assert!(e(&["a=1", "a=2"]).contains("given twice"));
        assert!(e(&["a=1", "a.b=2"]).contains("already a value"));
        assert!(e(&["a.b=1", "a=2"]).contains("given twice"));
        assert!(e(&["a..b=1"]).contains("empty part"));
        assert!(e(&["=1"]).contains("empty part"));
    }

    #[test]
    fn merge_lets_pairs_override_args() {
        let m = merge_args(json!({"a": 1, "o": {"x": 1, "y": 2}}), json!({"o": {"y": 3}, "b": 2})).unwrap();
        assert_eq!(m, json!({"a": 1, "b": 2, "o": {"x": 1, "y": 3}}));
        assert!(merge_args(json!([1]), json!({"a": 1})).is_err());
        assert_eq!(merge_args(json!([1]), json!({})).unwrap(), json!([1]));
    }

    #[test]
    fn json_call_matches_typed_call_and_signs() {
        let key = Keypair::from_label("admin");
        let member = Keypair::from_label("member").public();
        let typed = Certify { member, roles: vec![Role::Producer], expires_ms: 5_000 };
        let mut b = TxBuilder::new(key.clone(), "jialing-test", 7);
        let a = b.build(&typed);
        let args =
            args_from_pairs(&[format!("member={member}"), "roles=[\"producer\"]".into(), "expires_ms=5000".into()])
                .unwrap();
        let c = b.build_json("membership", "certify", args).unwrap();
        assert_eq!((a.tx.nonce, c.tx.nonce, b.next_nonce()), (7, 8, 9));
        assert_eq!(a.tx.payload, c.tx.payload);
        assert_eq!((c.tx.contract.as_str(), c.tx.method.as_str()), ("membership", "certify"));
        // Round trip through the wire format, and the signature verifies.
        let (back, hash) = SignedTransaction::decode(&c.to_bytes()).unwrap();
        assert_eq!(back, c);
        back.verify("jialing-test", &hash).unwrap();
        let decoded: Certify = jialing_contracts::registry::decode_payload(&back.tx.payload).unwrap();
        assert_eq!(decoded, typed);
    }

    #[test]
    fn bad_json_args_do_not_consume_a_nonce() {
        let mut b = TxBuilder::new(Keypair::from_label("a"), "c", 0);
        let e = b.build_json("membership", "certify", serde_json::json!({"member": "zz"})).unwrap_err();
        assert!(matches!(e, ClientError::BadArgs { .. }), "{e}");
        assert!(e.to_string().contains("membership.certify"), "{e}");
        let e = b.build_json("membership", "nope", serde_json::json!({})).unwrap_err();
        assert!(e.to_string().contains("jialing tx list"), "{e}");
        assert_eq!(b.next_nonce(), 0);
    }
}

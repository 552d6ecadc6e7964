//! The node's HTTP API (docs/api.md) as typed request and response structs, and the
//! pure decoding of responses (status + body -> value or [`ClientError`]), kept apart
//! from the transport so it can be tested on recorded bodies.
//!
//! Shapes that belong to contracts (lot and organisation state, decoded arguments,
//! block headers) stay [`serde_json::Value`].

use jialing_core::{Hash, PublicKey, SignedTransaction};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ClientError;

/// The error body of every failed request (`{"error": {"code", "message"}}`) and its
/// detail, as the node declares them.
pub use jialing_api_types::{ErrorBody as ApiErrorBody, ErrorDetail as ApiError};

/// `GET /status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The chain id transactions must name.
    pub chain_id: String,
    /// Latest committed height.
    pub height: u64,
    /// Its block hash.
    pub block_hash: Hash,
    /// Its state root.
    pub state_root: Hash,
    /// Its block time (ms).
    pub time_ms: u64,
    /// The validator set (shape chosen by the node).
    #[serde(default)]
    pub validators: Value,
    /// Transactions waiting in the mempool.
    #[serde(default)]
    pub mempool_txs: u64,
    /// Their total size.
    #[serde(default)]
    pub mempool_bytes: u64,
    /// The node's network key.
    #[serde(default)]
    pub node_key: Value,
    /// Its validator key; null on full nodes.
    #[serde(default)]
    pub validator_key: Option<String>,
}

/// `POST /v1/tx` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// Hex of the borsh `SignedTransaction`.
    pub tx: String,
}

impl SubmitRequest {
    /// The request for one transaction.
    pub fn new(stx: &SignedTransaction) -> Self {
        SubmitRequest { tx: hex::encode(stx.to_bytes()) }
    }
}

/// `POST /v1/tx` answer (202).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {
    /// The transaction hash.
    pub hash: Hash,
}

/// `POST /v1/txs` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRequest {
    /// Hex of each borsh `SignedTransaction` (at most 10,000).
    pub txs: Vec<String>,
}

impl BatchRequest {
    /// The request for many transactions.
    pub fn new(stxs: &[SignedTransaction]) -> Self {
        BatchRequest { txs: stxs.iter().map(|s| hex::encode(s.to_bytes())).collect() }
    }
}

/// `POST /v1/txs` answer and its lines: the node's own types.
pub use jialing_api_types::{BatchResult, BatchResults};

/// Whether a transaction is still in the mempool or in a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    /// Waiting in the mempool.
    Pending,
    /// In a committed block.
    Committed,
}

/// `GET /v1/tx/{hash}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxInfo {
    /// The transaction hash.
    pub hash: Hash,
    /// Pending or committed.
    pub status: TxState,
    /// Block height (committed only).
    #[serde(default)]
    pub height: Option<u64>,
    /// Position in the block (committed only).
    #[serde(default)]
    pub index: Option<u32>,
    /// Block time (committed only).
    #[serde(default)]
    pub time_ms: Option<u64>,
    /// The receipt (committed only).
    #[serde(default)]
    pub receipt: Option<ApiReceipt>,
    /// The transaction itself (`None` when only its public part may be shown: the
    /// caller may not read it).
    #[serde(default, deserialize_with = "readable_tx")]
    pub tx: Option<TxView>,
}

/// A transaction view, or `None` for the public part of a restricted transaction.
fn readable_tx<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<TxView>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) if v["restricted"] == Value::Bool(true) => Ok(None),
        Some(v) => serde_json::from_value(v).map(Some).map_err(serde::de::Error::custom),
    }
}

impl TxInfo {
    /// The committed transaction, or [`ClientError::Refused`] if a rule refused it.
    /// A pending transaction is returned as is.
    pub fn into_result(self) -> Result<TxInfo, ClientError> {
        match &self.receipt {
            Some(r) if r.status == Outcome::Refused => Err(ClientError::Refused {
                hash: self.hash.to_hex(),
                height: self.height.unwrap_or_default(),
                code: r.code.clone().unwrap_or_default(),
                message: r.message.clone().unwrap_or_default(),
            }),
            _ => Ok(self),
        }
    }
}

pub use jialing_api_types::{HistoryEntry, Outcome};

/// A receipt as the API shows it: `{tx_hash, status, code, message, tags}`.
///
/// Also accepts the nested shape `{"status": {"status": "refused", "code", "message"}}`
/// that serialising `jialing_contracts::receipt::Receipt` directly would give.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawReceipt")]
pub struct ApiReceipt {
    /// The transaction.
    pub tx_hash: Hash,
    /// Ok or refused.
    pub status: Outcome,
    /// The refusal code.
    pub code: Option<String>,
    /// The refusal message.
    pub message: Option<String>,
    /// Objects it touched (`{kind, id}`).
    pub tags: Vec<Value>,
}

#[derive(Deserialize)]
struct RawReceipt {
    tx_hash: Hash,
    status: Value,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    tags: Vec<Value>,
}

impl TryFrom<RawReceipt> for ApiReceipt {
    type Error = String;
    fn try_from(r: RawReceipt) -> Result<Self, String> {
        let (status, code, message) = match r.status {
            Value::String(s) => (s, r.code, r.message),
            Value::Object(m) => {
                let s = m.get("status").and_then(Value::as_str).unwrap_or_default().to_string();
                let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
                (s, text("code").or(r.code), text("message").or(r.message))
            }
            other => {
                return Err(format!("receipt status must be \"ok\" or \"refused\", got {other}"));
            }
        };
        let status = match status.as_str() {
            "ok" => Outcome::Ok,
            "refused" => Outcome::Refused,
            other => {
                return Err(format!("receipt status must be \"ok\" or \"refused\", got {other:?}"));
            }
        };
        Ok(ApiReceipt { tx_hash: r.tx_hash, status, code, message, tags: r.tags })
    }
}

/// A transaction as the API shows it, with its arguments decoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxView {
    /// Chain id.
    pub chain_id: String,
    /// Signer's key.
    pub signer: PublicKey,
    /// Its nonce.
    pub nonce: u64,
    /// Contract called.
    pub contract: String,
    /// Method called.
    pub method: String,
    /// Payload hex.
    #[serde(default)]
    pub payload: String,
    /// Decoded arguments.
    #[serde(default)]
    pub args: Value,
}

/// `GET /v1/block/{height}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockInfo {
    /// Block hash.
    pub hash: Hash,
    /// The header (`height`, `time_ms`, roots, ...).
    pub header: Value,
    /// Its transactions' hashes, in order.
    #[serde(default)]
    pub tx_hashes: Vec<Hash>,
    /// The commit certificate.
    #[serde(default)]
    pub certificate: Option<CertificateView>,
}

impl BlockInfo {
    /// The header's height, if present.
    pub fn height(&self) -> Option<u64> {
        self.header.get("height").and_then(Value::as_u64)
    }
    /// The header's block time, if present.
    pub fn time_ms(&self) -> Option<u64> {
        self.header.get("time_ms").and_then(Value::as_u64)
    }
}

/// A commit certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Block hash.
    pub block_hash: Hash,
    /// Precommit signatures.
    pub signatures: Vec<CertSignature>,
}

/// One validator's precommit signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertSignature {
    /// Validator key.
    pub validator: PublicKey,
    /// Signature hex.
    pub signature: String,
}

/// `GET /v1/nonce/{key}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nonce {
    /// Next nonce after committed transactions.
    pub committed_next_nonce: u64,
    /// Next nonce counting the mempool: use this for a new transaction.
    pub pending_next_nonce: u64,
}

/// `GET /v1/lot/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LotInfo {
    /// The lot state (shape owned by the trace contract).
    pub lot: Value,
    /// Every transaction that touched it, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

/// `GET /v1/org/{uscc}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrgInfo {
    /// The organisation.
    pub org: Value,
    /// Transactions that touched it, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

/// `GET /v1/methods` item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodInfo {
    /// Contract.
    pub contract: String,
    /// Method.
    pub method: String,
    /// Roles allowed to call it.
    pub roles: Vec<String>,
    /// One line.
    pub summary: String,
}

/// Which block to fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockRef {
    /// A height.
    Height(u64),
    /// The latest committed block.
    Latest,
}

impl std::str::FromStr for BlockRef {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self, ClientError> {
        if s == "latest" {
            return Ok(BlockRef::Latest);
        }
        s.parse()
            .map(BlockRef::Height)
            .map_err(|_| ClientError::Args(format!("block must be a height (a whole number) or `latest`, got {s:?}")))
    }
}

impl std::fmt::Display for BlockRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockRef::Height(h) => write!(f, "{h}"),
            BlockRef::Latest => f.write_str("latest"),
        }
    }
}

/// Decodes a response: a 2xx body as `T`, anything else as the API error body.
/// `what` names the request in error messages.
pub fn decode<T: DeserializeOwned>(what: &str, status: u16, body: &str) -> Result<T, ClientError> {
    if (200..300).contains(&status) {
        return serde_json::from_str(body)
            .map_err(|e| ClientError::Decode { what: what.to_string(), reason: e.to_string() });
    }
    Err(error_from_body(what, status, body))
}

/// Maps an error response to [`ClientError::Api`] (or [`ClientError::Http`] if the
/// body is not the API's error shape).
pub fn error_from_body(what: &str, status: u16, body: &str) -> ClientError {
    match serde_json::from_str::<ApiErrorBody>(body) {
        Ok(b) => ClientError::Api { status, code: b.error.code, message: b.error.message },
        Err(_) => ClientError::Http { status, url: what.to_string(), body: snippet(body) },
    }
}

fn snippet(body: &str) -> String {
    let t = body.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None if t.is_empty() => "(empty body)".to_string(),
        None => t.to_string(),
    }
}

/// Percent-encodes one path segment (keeps RFC 3986 unreserved characters).
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Decoding of bodies shaped exactly as docs/api.md describes them.
    use super::*;
    use serde_json::json;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const K: &str = "c27aec410bee36518ceac3a51e670280e7fec6cfec2181c26b4e4157d0f94ec3";

    fn hash() -> Hash {
        H.parse().unwrap()
    }

    #[test]
    fn status_decodes_for_validators_and_full_nodes() {
        let body = format!(
            r#"{{"chain_id":"jialing-test","height":42,"block_hash":"{H}","state_root":"{H}","time_ms":1700000000000,
               "validators":[{{"public_key":"{K}","power":1}}],"mempool_txs":3,"mempool_bytes":900,
               "node_key":"{K}","validator_key":"{K}"}}"#
        );
        let s: Status = decode("/status", 200, &body).unwrap();
        assert_eq!((s.chain_id.as_str(), s.height, s.block_hash, s.mempool_txs), ("jialing-test", 42, hash(), 3));
        assert_eq!(s.validator_key.as_deref(), Some(K));
        let full = body.replace(&format!(r#""validator_key":"{K}""#), r#""validator_key":null"#);
        assert_eq!(decode::<Status>("/status", 200, &full).unwrap().validator_key, None);
    }

    #[test]
    fn submit_and_batch_decode() {
        let s: Submitted = decode("/v1/tx", 202, &format!(r#"{{"hash":"{H}"}}"#)).unwrap();
        assert_eq!(s.hash, hash());
        let body = format!(
            r#"{{"results":[{{"hash":"{H}","accepted":true}},
                {{"hash":"{H}","accepted":false,"error":{{"code":"bad_nonce","message":"expected 3, got 5"}}}},
                {{"hash":null,"accepted":false,"error":{{"code":"malformed_tx","message":"truncated"}}}}]}}"#
        );
        let b: BatchResults = decode("/v1/txs", 200, &body).unwrap();
        assert_eq!(b.results.len(), 3);
        assert!(b.results[0].accepted && b.results[0].error.is_none());
        assert_eq!(b.results[1].error.as_ref().unwrap().code, "bad_nonce");
        assert_eq!(b.results[2].hash, None);
    }

    #[test]
    fn request_bodies_have_the_documented_shape() {
        let key = jialing_core::Keypair::from_label("a");
        let stx = jialing_core::Transaction {
            chain_id: "c".into(),
            signer: key.public(),
            nonce: 0,
            contract: "membership".into(),
            method: "revoke".into(),
            payload: vec![],
        }
        .sign(&key);
        let one = serde_json::to_value(SubmitRequest::new(&stx)).unwrap();
        assert_eq!(one, json!({"tx": hex::encode(stx.to_bytes())}));
        let many = serde_json::to_value(BatchRequest::new(&[stx.clone(), stx.clone()])).unwrap();
        assert_eq!(many["txs"].as_array().unwrap().len(), 2);
        let (back, _) = SignedTransaction::decode(&hex::decode(one["tx"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(back, stx);
    }

    #[test]
    fn committed_refused_and_pending_txs_decode() {
        let body = format!(
            r#"{{"hash":"{H}","status":"committed","height":7,"index":2,"time_ms":1700000000000,
               "receipt":{{"tx_hash":"{H}","status":"refused","code":"membership.roles_within_org",
                          "message":"organisation X does not hold role inspector","tags":[{{"kind":"org","id":"X"}}]}},
               "tx":{{"chain_id":"jialing-test","signer":"{K}","nonce":4,"contract":"membership","method":"certify",
                     "payload":"0102","args":{{"member":"{K}","roles":["inspector"],"expires_ms":1}}}}}}"#
        );
        let t: TxInfo = decode("/v1/tx", 200, &body).unwrap();
        assert_eq!((t.status, t.height, t.index), (TxState::Committed, Some(7), Some(2)));
        let r = t.receipt.unwrap();
        assert_eq!(r.status, Outcome::Refused);
        assert_eq!(r.code.as_deref(), Some("membership.roles_within_org"));
        assert_eq!(r.tags, vec![json!({"kind": "org", "id": "X"})]);
        let tx = t.tx.unwrap();
        assert_eq!((tx.nonce, tx.method.as_str(), &tx.args["roles"]), (4, "certify", &json!(["inspector"])));

        let ok = format!(
            r#"{{"hash":"{H}","status":"committed","height":1,"index":0,"time_ms":5,
            "receipt":{{"tx_hash":"{H}","status":"ok","code":null,"message":null,"tags":[]}}}}"#
        );
        assert_eq!(decode::<TxInfo>("/v1/tx", 200, &ok).unwrap().receipt.unwrap().status, Outcome::Ok);

        let refused: TxInfo = decode("/v1/tx", 200, &body).unwrap();
        let e = refused.into_result().unwrap_err();
        assert_eq!((e.code(), e.exit_code()), ("membership.roles_within_org", 3));
        assert!(e.to_string().contains("refused at height 7"), "{e}");

        let pending =
            format!(r#"{{"hash":"{H}","status":"pending","height":null,"index":null,"time_ms":null,"receipt":null}}"#);
        let p: TxInfo = decode("/v1/tx", 200, &pending).unwrap();
        assert_eq!((p.status, p.receipt), (TxState::Pending, None));
    }

    #[test]
    fn nested_receipt_status_from_the_contract_type_also_decodes() {
        let nested = format!(
            r#"{{"tx_hash":"{H}","status":{{"status":"refused","code":"not_found","message":"gone"}},"tags":[]}}"#
        );
        let r: ApiReceipt = serde_json::from_str(&nested).unwrap();
        assert_eq!(
            (r.status, r.code.as_deref(), r.message.as_deref()),
            (Outcome::Refused, Some("not_found"), Some("gone"))
        );
        let bad = format!(r#"{{"tx_hash":"{H}","status":"maybe","tags":[]}}"#);
        assert!(serde_json::from_str::<ApiReceipt>(&bad).unwrap_err().to_string().contains("\"ok\" or \"refused\""));
    }

    #[test]
    fn block_nonce_lot_org_methods_decode() {
        let body = format!(
            r#"{{"hash":"{H}","header":{{"chain_id":"c","height":9,"time_ms":1000}},"tx_hashes":["{H}"],
               "certificate":{{"height":9,"round":0,"block_hash":"{H}","signatures":[{{"validator":"{K}","signature":"ab"}}]}}}}"#
        );
        let b: BlockInfo = decode("/v1/block/9", 200, &body).unwrap();
        assert_eq!((b.height(), b.time_ms(), b.tx_hashes.len()), (Some(9), Some(1000), 1));
        assert_eq!(b.certificate.unwrap().signatures.len(), 1);

        let n: Nonce = decode("/v1/nonce", 200, r#"{"committed_next_nonce":3,"pending_next_nonce":5}"#).unwrap();
        assert_eq!((n.committed_next_nonce, n.pending_next_nonce), (3, 5));

        let entry = format!(
            r#"{{"height":3,"index":0,"time_ms":3000,"tx_hash":"{H}","contract":"trace","method":"create_lot",
               "signer":"{K}","status":"ok","code":null,"message":null,"args":{{"lot_id":"L1"}}}}"#
        );
        let l: LotInfo = decode("/v1/lot/L1", 200, &format!(r#"{{"lot":{{"id":"L1"}},"history":[{entry}]}}"#)).unwrap();
        assert_eq!((l.lot["id"].as_str(), l.history[0].method.as_str()), (Some("L1"), "create_lot"));
        let o: OrgInfo =
            decode("/v1/org/X", 200, &format!(r#"{{"org":{{"name":"Farm"}},"history":[{entry},{entry}]}}"#)).unwrap();
        assert_eq!(o.history.len(), 2);

        let m: Vec<MethodInfo> = decode(
            "/v1/methods",
            200,
            r#"[{"contract":"membership","method":"certify","roles":["admin"],"summary":"certify"}]"#,
        )
        .unwrap();
        assert_eq!(m[0].roles, vec!["admin".to_string()]);
    }

    #[test]
    fn api_error_bodies_map_to_their_code_with_a_hint() {
        let e = decode::<Submitted>(
            "/v1/tx",
            403,
            r#"{"error":{"code":"not_member","message":"signer aa is not a member"}}"#,
        )
        .unwrap_err();
        assert!(matches!(&e, ClientError::Api { status: 403, code, .. } if code == "not_member"), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("signer aa is not a member") && text.contains("jialing keys certify"), "{text}");
        assert_eq!((e.code(), e.exit_code()), ("not_member", 1));

        let nf = decode::<TxInfo>("/v1/tx/x", 404, r#"{"error":{"code":"not_found","message":"no tx"}}"#).unwrap_err();
        assert_eq!(nf.code(), "not_found");

        let proxy = decode::<Status>("/status", 502, "<html>Bad Gateway</html>").unwrap_err();
        assert!(matches!(proxy, ClientError::Http { status: 502, .. }));
        assert!(proxy.to_string().contains("Bad Gateway"));

        let shape = decode::<Status>("/status", 200, r#"{"height":"high"}"#).unwrap_err();
        assert!(matches!(shape, ClientError::Decode { .. }), "{shape:?}");
        assert_eq!(shape.code(), "bad_response");
    }

    #[test]
    fn block_refs_and_path_segments() {
        assert_eq!("latest".parse::<BlockRef>().unwrap(), BlockRef::Latest);
        assert_eq!("12".parse::<BlockRef>().unwrap().to_string(), "12");
        assert!("-1".parse::<BlockRef>().unwrap_err().to_string().contains("latest"));
        assert_eq!(path_segment("LOT-2024/07 a"), "LOT-2024%2F07%20a");
        assert_eq!(path_segment("辣"), "%E8%BE%A3");
    }
}

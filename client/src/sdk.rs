//! [`Client`]: a blocking HTTP client for one node's API (docs/api.md).
//!
//! ```no_run
//! # fn main() -> Result<(), jialing_client::ClientError> {
//! let client = jialing_client::Client::new("http://127.0.0.1:8700");
//! let status = client.status()?;
//! println!("chain {} at height {}", status.chain_id, status.height);
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant};

use jialing_contracts::trace::epcis_capture::CaptureErrorBehaviour;
use jialing_core::{Hash, PublicKey, SignedTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    self, BatchRequest, BatchResults, BlockInfo, BlockRef, LotInfo, MethodInfo, Nonce, OrgInfo, Status, SubmitRequest,
    Submitted, TxInfo, TxState,
};
use crate::error::ClientError;

/// How often [`Client::wait_committed`] polls.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Per-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The headers that sign an EPCIS capture (`POST /epcis/capture`, docs/api.md): the
/// `trace.epcis_capture` transaction of exactly `document` (the request body, byte for
/// byte) with `behaviour`, by `key` with `nonce` on `chain_id`, as the node rebuilds it.
/// A partner's gateway holding a member key calls this and sends the document with
/// these headers; returns the headers and the capture ID (the transaction hash).
pub fn capture_headers(
    chain_id: &str,
    key: &jialing_core::Keypair,
    nonce: u64,
    behaviour: CaptureErrorBehaviour,
    document: &str,
) -> (Vec<(&'static str, String)>, Hash) {
    use jialing_api_types::capture_headers::{ERROR_BEHAVIOUR, NONCE, SIGNATURE, SIGNER};
    use jialing_contracts::trace::epcis_capture::capture_tx;
    let stx = capture_tx(chain_id, key.public(), nonce, behaviour, document).sign(key);
    let headers = vec![
        (SIGNER, key.public().to_hex()),
        (NONCE, nonce.to_string()),
        (SIGNATURE, stx.signature.to_hex()),
        (ERROR_BEHAVIOUR, behaviour.name().to_string()),
    ];
    (headers, stx.hash())
}

/// A blocking client for one node.
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    /// The key every GET is signed with ([`Client::with_query_key`]).
    query_key: Option<std::sync::Arc<jialing_core::Keypair>>,
    /// The key that reads a restricted transaction in full once it is committed
    /// ([`Client::with_receipt_key`]).
    receipt_key: Option<std::sync::Arc<jialing_core::Keypair>>,
    /// The node's chain id and query audience, read once from `/status`.
    identity: std::sync::Arc<std::sync::OnceLock<(String, String)>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("query_key", &self.query_key.as_ref().map(|k| k.public()))
            .finish()
    }
}

/// A fresh query nonce: 128 random bits as hex.
fn fresh_nonce() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl Client {
    /// A client for the node at `url` (for example `http://127.0.0.1:8700`).
    pub fn new(url: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .user_agent(concat!("jialing-client/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            base: url.trim_end_matches('/').to_string(),
            agent: config.into(),
            query_key: None,
            receipt_key: None,
            identity: Default::default(),
        }
    }

    /// The same client reading a committed restricted transaction in full with `key`
    /// (one signed read in [`Client::wait_committed`], e.g. the signer's own key, so
    /// it sees why its transaction was refused); other reads stay unsigned.
    pub fn with_receipt_key(mut self, key: jialing_core::Keypair) -> Self {
        self.receipt_key = Some(std::sync::Arc::new(key));
        self
    }

    /// The same client signing every GET with `key` as a query request
    /// (`jialing_core::query`): restricted items the key may read are served in full,
    /// raw blocks are served to members, and the node logs each such query.
    pub fn with_query_key(mut self, key: jialing_core::Keypair) -> Self {
        self.query_key = Some(std::sync::Arc::new(key));
        self
    }

    /// The node URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        if let Some(k) = &self.query_key
            && path != "/status"
        {
            return self.signed_get(path, &k.clone());
        }
        let url = format!("{}{path}", self.base);
        tracing::debug!(target: "client::http", %url, "GET");
        let resp = self.agent.get(&url).call().map_err(|e| unreachable(&url, e))?;
        self.finish(&url, resp)
    }

    fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        tracing::debug!(target: "client::http", %url, "POST");
        let resp = self.agent.post(&url).send_json(body).map_err(|e| unreachable(&url, e))?;
        self.finish(&url, resp)
    }

    fn finish<T: DeserializeOwned>(
        &self,
        url: &str,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> Result<T, ClientError> {
        let status = resp.status().as_u16();
        let body =
            resp.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string().map_err(|e| unreachable(url, e))?;
        tracing::debug!(target: "client::http", %url, status, bytes = body.len(), "response");
        api::decode(url, status, &body)
    }

    /// Any `GET` path as text, unsigned: the status code and body (e.g. a checkpoint
    /// note).
    pub fn get_text(&self, path: &str) -> Result<(u16, String), ClientError> {
        let url = format!("{}{path}", self.base);
        let mut resp = self.agent.get(&url).call().map_err(|e| unreachable(&url, e))?;
        let status = resp.status().as_u16();
        let body =
            resp.body_mut().with_config().limit(1024 * 1024).read_to_string().map_err(|e| unreachable(&url, e))?;
        Ok((status, body))
    }

    /// Any `GET` path as JSON.
    pub fn get_json(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        self.get(path)
    }

    /// `GET /v1/credit/{subject}`: the subject's records in publication (public).
    pub fn credit(&self, subject: &str) -> Result<serde_json::Value, ClientError> {
        self.get(&format!("/v1/credit/{subject}"))
    }

    /// `GET /v1/credit/{subject}/full`, signed with `key` (authorities and auditors
    /// only; the node records the query in its query log).
    pub fn credit_full(&self, subject: &str, key: &jialing_core::Keypair) -> Result<serde_json::Value, ClientError> {
        let path = format!("/v1/credit/{subject}/full");
        self.signed_get(&path, key)
    }

    /// The node's chain id and query audience (from `/status`, read once).
    fn identity(&self) -> Result<(String, String), ClientError> {
        if let Some(id) = self.identity.get() {
            return Ok(id.clone());
        }
        let st: serde_json::Value = self.get_unsigned("/status")?;
        let field = |name: &str| {
            st[name].as_str().map(str::to_string).ok_or_else(|| ClientError::Decode {
                what: "status".into(),
                reason: format!("the node's /status has no {name}; is it a Jialing node of this version?"),
            })
        };
        let id = (field("chain_id")?, field("query_audience")?);
        Ok(self.identity.get_or_init(|| id).clone())
    }

    fn get_unsigned<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self.agent.get(&url).call().map_err(|e| unreachable(&url, e))?;
        self.finish(&url, resp)
    }

    /// A GET signed as a query request for this node (see `jialing_core::query`): bound
    /// to the node's chain and query audience, with a fresh nonce.
    pub fn signed_get<T: DeserializeOwned>(&self, path: &str, key: &jialing_core::Keypair) -> Result<T, ClientError> {
        let (chain_id, audience) = self.identity()?;
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let headers =
            jialing_core::query::signed_headers(key, &chain_id, "GET", path, time_ms, &audience, &fresh_nonce());
        let url = format!("{}{path}", self.base);
        tracing::debug!(target: "client::http", %url, "signed GET");
        let mut req = self.agent.get(&url);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = req.call().map_err(|e| unreachable(&url, e))?;
        self.finish(&url, resp)
    }

    /// `GET /status`.
    pub fn status(&self) -> Result<Status, ClientError> {
        self.get_unsigned("/status")
    }

    /// `POST /v1/tx`: submits one transaction to the mempool; returns its hash.
    pub fn submit(&self, stx: &SignedTransaction) -> Result<Hash, ClientError> {
        let s: Submitted = self.post("/v1/tx", &SubmitRequest::new(stx))?;
        Ok(s.hash)
    }

    /// `POST /v1/txs`: submits up to 10,000 transactions; one result each, in order.
    pub fn submit_batch(&self, stxs: &[SignedTransaction]) -> Result<BatchResults, ClientError> {
        self.post("/v1/txs", &BatchRequest::new(stxs))
    }

    /// `POST /epcis/capture`: signs `document` with `key` (its next nonce on the node's
    /// chain, [`capture_headers`]) and submits it; returns the capture ID. The node
    /// answers 202 once the transaction is in its mempool.
    pub fn epcis_capture(
        &self,
        key: &jialing_core::Keypair,
        behaviour: CaptureErrorBehaviour,
        document: &str,
    ) -> Result<Hash, ClientError> {
        let chain = self.status()?.chain_id;
        let nonce = self.next_nonce(&key.public())?;
        let (headers, id) = capture_headers(&chain, key, nonce, behaviour, document);
        let url = format!("{}/epcis/capture", self.base);
        tracing::debug!(target: "client::http", %url, bytes = document.len(), "POST capture");
        let mut req = self.agent.post(&url).header("content-type", "application/ld+json");
        for (name, value) in &headers {
            req = req.header(*name, value);
        }
        let resp = req.send(document.as_bytes()).map_err(|e| unreachable(&url, e))?;
        let answer: serde_json::Value = self.finish(&url, resp)?;
        match answer["captureID"].as_str().map(Hash::from_hex) {
            Some(Ok(h)) if h == id => Ok(h),
            _ => Err(ClientError::Api {
                code: "unexpected_answer".into(),
                message: format!("the node's capture answer names another capture: {answer}"),
                status: 202,
            }),
        }
    }

    /// `GET /epcis/capture/{captureID}`: the capture job (running, success, errors, the
    /// events with their hash IDs).
    pub fn epcis_capture_job(&self, id: &Hash) -> Result<serde_json::Value, ClientError> {
        self.get_unsigned(&format!("/epcis/capture/{id}"))
    }

    /// Polls the capture job until it is no longer running, or `timeout` passes.
    pub fn wait_capture(&self, id: &Hash, timeout: Duration) -> Result<serde_json::Value, ClientError> {
        let start = Instant::now();
        loop {
            let last = match self.epcis_capture_job(id) {
                Ok(job) if job["running"] == false => return Ok(job),
                Ok(_) => "running",
                Err(ClientError::Api { code, .. }) if code == "not_found" => "unknown to the node",
                Err(e) => return Err(e),
            };
            if start.elapsed() >= timeout {
                return Err(ClientError::Timeout { hash: id.to_hex(), secs: timeout.as_secs(), last: last.into() });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// `GET /v1/tx/{hash}`.
    pub fn tx(&self, hash: &Hash) -> Result<TxInfo, ClientError> {
        self.get(&format!("/v1/tx/{hash}"))
    }

    /// Polls `GET /v1/tx/{hash}` (unsigned) until the transaction is committed or
    /// `timeout` passes ([`ClientError::Timeout`]). A refused transaction is committed
    /// too: check its receipt. If only its public part was shown (a restricted
    /// transaction) and this client has a query key, reads it once more, signed.
    pub fn wait_committed(&self, hash: &Hash, timeout: Duration) -> Result<TxInfo, ClientError> {
        let start = Instant::now();
        let path = format!("/v1/tx/{hash}");
        loop {
            let last = match self.get_unsigned::<TxInfo>(&path) {
                Ok(info) if info.status == TxState::Committed && info.tx.is_none() => {
                    // Restricted: its signer (or the query key) may read it in full.
                    let key = self.query_key.as_ref().or(self.receipt_key.as_ref());
                    return Ok(key.and_then(|k| self.signed_get(&path, &k.clone()).ok()).unwrap_or(info));
                }
                Ok(info) if info.status == TxState::Committed => return Ok(info),
                Ok(_) => "pending in the mempool",
                Err(ClientError::Api { code, .. }) if code == "not_found" => "unknown to the node",
                Err(e) => return Err(e),
            };
            if start.elapsed() >= timeout {
                return Err(ClientError::Timeout { hash: hash.to_hex(), secs: timeout.as_secs(), last: last.into() });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Submits `stx` and waits for its commit; a refused transaction is
    /// [`ClientError::Refused`].
    pub fn submit_and_wait(&self, stx: &SignedTransaction, timeout: Duration) -> Result<TxInfo, ClientError> {
        let hash = self.submit(stx)?;
        self.wait_committed(&hash, timeout)?.into_result()
    }

    /// `GET /v1/nonce/{key}`.
    pub fn nonce(&self, key: &PublicKey) -> Result<Nonce, ClientError> {
        self.get(&format!("/v1/nonce/{key}"))
    }

    /// The nonce a new transaction from `key` should carry (counting the mempool).
    pub fn next_nonce(&self, key: &PublicKey) -> Result<u64, ClientError> {
        Ok(self.nonce(key)?.pending_next_nonce)
    }

    /// `GET /v1/block/{height|latest}`.
    pub fn block(&self, at: BlockRef) -> Result<BlockInfo, ClientError> {
        self.get(&format!("/v1/block/{at}"))
    }

    /// `GET /v1/lot/{id}`.
    pub fn lot(&self, id: &str) -> Result<LotInfo, ClientError> {
        self.get(&format!("/v1/lot/{}", api::path_segment(id)))
    }

    /// `GET /v1/org/{uscc}` with its full history.
    pub fn org(&self, uscc: &str) -> Result<OrgInfo, ClientError> {
        self.org_page(uscc, None, None)
    }

    /// `GET /v1/org/{uscc}?limit=&from_height=`.
    pub fn org_page(&self, uscc: &str, limit: Option<u64>, from_height: Option<u64>) -> Result<OrgInfo, ClientError> {
        let mut q = Vec::new();
        if let Some(l) = limit {
            q.push(format!("limit={l}"));
        }
        if let Some(h) = from_height {
            q.push(format!("from_height={h}"));
        }
        let query = if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) };
        self.get(&format!("/v1/org/{}{query}", api::path_segment(uscc)))
    }

    /// `GET /v1/methods`.
    pub fn methods(&self) -> Result<Vec<MethodInfo>, ClientError> {
        self.get("/v1/methods")
    }
}

fn unreachable(url: &str, e: ureq::Error) -> ClientError {
    ClientError::Unreachable { url: url.to_string(), reason: e.to_string() }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jialing_contracts::trace::epcis_capture::capture_tx;
    use jialing_core::{Keypair, Purpose, Signature};

    /// The headers carry what the node needs to rebuild and verify exactly the signed
    /// capture: the key, the nonce and a signature of that transaction over this body.
    #[test]
    fn capture_headers_sign_the_transaction_the_node_rebuilds() {
        let key = Keypair::from_label("gateway");
        let doc = r#"{"type": "ObjectEvent", "action": "OBSERVE"}"#;
        let (headers, id) = capture_headers("jialing-test", &key, 41, CaptureErrorBehaviour::Rollback, doc);
        let h = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap();
        let signer = PublicKey::from_hex(&h("Jialing-Signer")).unwrap();
        let nonce: u64 = h("Jialing-Nonce").parse().unwrap();
        let sig = Signature::from_hex(&h("Jialing-Signature")).unwrap();
        assert_eq!(h("GS1-Capture-Error-Behaviour"), "rollback");
        let tx = capture_tx("jialing-test", signer, nonce, CaptureErrorBehaviour::Rollback, doc);
        assert_eq!(tx.hash(), id);
        signer.verify("jialing-test", Purpose::Transaction, &id, &sig).unwrap();
        // Not for another body or chain.
        let other = capture_tx("jialing-test", signer, nonce, CaptureErrorBehaviour::Rollback, &format!("{doc} "));
        assert!(signer.verify("jialing-test", Purpose::Transaction, &other.hash(), &sig).is_err());
        assert!(signer.verify("other-chain", Purpose::Transaction, &id, &sig).is_err());
        let (proceed, _) = capture_headers("jialing-test", &key, 41, CaptureErrorBehaviour::Proceed, doc);
        assert!(proceed.contains(&("GS1-Capture-Error-Behaviour", "proceed".to_string())));
        assert_ne!(proceed[2], headers[2], "the behaviour is signed");
    }
}

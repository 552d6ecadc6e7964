//! The query-log anchor (`audit.anchor_queries`): a node's organisation records the
//! head of the node's query log (entry count and hash of the last line) on the ledger,
//! so an auditor can prove that no entry before the anchor was removed or changed
//! (`jialing audit queries`). One anchor per log (`audit/anchor/{log}`, public: a
//! count and a hash), owned by the organisation that first anchored it; a later
//! anchor never goes back.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Role, Uscc};
use serde::{Deserialize, Serialize};

use crate::error::ContractError;
use crate::executor::Tx;
use crate::receipt::TagKind;
use crate::registry::{CallPayload, Method, decode_payload, from_json_of, json_of};

/// `audit.anchor_queries`: the head of the query log `log` (the node's query
/// audience) after `count` entries.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AnchorQueries {
    /// The log's identity: the node's query audience (`/status`), 1 to 128 printable
    /// ASCII characters.
    pub log: String,
    /// Entries in the log.
    pub count: u64,
    /// SHA-256 of the log's last line.
    pub head: Hash,
}

impl CallPayload for AnchorQueries {
    const CONTRACT: &'static str = "audit";
    const METHOD: &'static str = "anchor_queries";
}

/// The latest anchor of a log.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct QueryAnchor {
    /// The organisation that keeps the log.
    pub org: Uscc,
    /// Entries anchored.
    pub count: u64,
    /// SHA-256 of the log's last line at that count.
    pub head: Hash,
    /// Block time of the anchor.
    pub time_ms: u64,
}

/// `audit/anchor/{log}` → [`QueryAnchor`].
pub fn anchor_key(log: &str) -> Vec<u8> {
    crate::keys::with_id("audit/anchor/", log)
}

/// The audit contract's methods.
pub const METHODS: &[Method] = &[Method {
    contract: "audit",
    name: "anchor_queries",
    roles: &Role::ALL,
    summary: "anchor the head of a node's query log (entry count and last line hash) on the ledger",
    run: run_anchor,
    to_json: json_of::<AnchorQueries>,
    from_json: from_json_of::<AnchorQueries>,
}];

fn run_anchor(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: AnchorQueries = decode_payload(payload)?;
    if p.log.is_empty() || p.log.len() > 128 || !p.log.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ContractError::rule("audit.log_id_format", "log is 1 to 128 printable ASCII characters"));
    }
    if let Some(prev) = tx.get::<QueryAnchor>(&anchor_key(&p.log))? {
        if &prev.org != tx.org() {
            return Err(ContractError::rule(
                "audit.anchor_owner",
                format!("log {} is anchored by organisation {}", p.log, prev.org),
            ));
        }
        if p.count < prev.count || (p.count == prev.count && p.head != prev.head) {
            return Err(ContractError::rule(
                "audit.anchor_monotonic",
                format!(
                    "log {} was anchored at {} entries (head {}); an anchor never goes back or rewrites one",
                    p.log, prev.count, prev.head
                ),
            ));
        }
    }
    let anchor = QueryAnchor { org: tx.org().clone(), count: p.count, head: p.head, time_ms: tx.time_ms() };
    tx.put(anchor_key(&p.log), &anchor);
    tx.tag(TagKind::Org, anchor.org.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testkit::{TestLedger, expect_ok, expect_refused, key, uscc};

    fn anchor(log: &str, count: u64, head: u8) -> AnchorQueries {
        AnchorQueries { log: log.into(), count, head: Hash([head; 32]) }
    }

    fn refused_unchanged(l: &mut TestLedger, by: &str, p: &AnchorQueries, code: &str) {
        let mut before = l.snapshot();
        let r = l.call(&key(by), p).unwrap();
        expect_refused(&r, code);
        let mut after = l.snapshot();
        before.remove(&crate::keys::nonce(&key(by).public()));
        after.remove(&crate::keys::nonce(&key(by).public()));
        assert_eq!(before, after);
    }

    #[test]
    fn audit_anchor_records_the_head() {
        let mut l = TestLedger::new();
        expect_ok(&l.call(&key("audit"), &anchor("node-a", 3, 1)).unwrap());
        let a: QueryAnchor = l.get(&anchor_key("node-a")).unwrap();
        assert_eq!((a.org, a.count, a.head), (uscc("audit"), 3, Hash([1; 32])));
        expect_ok(&l.call(&key("audit"), &anchor("node-a", 3, 1)).unwrap());
        expect_ok(&l.call(&key("audit"), &anchor("node-a", 9, 2)).unwrap());
    }

    #[test]
    fn audit_anchor_monotonic() {
        let mut l = TestLedger::new();
        expect_ok(&l.call(&key("audit"), &anchor("node-a", 5, 1)).unwrap());
        refused_unchanged(&mut l, "audit", &anchor("node-a", 4, 1), "audit.anchor_monotonic");
        refused_unchanged(&mut l, "audit", &anchor("node-a", 5, 2), "audit.anchor_monotonic");
    }

    #[test]
    fn audit_anchor_owner() {
        let mut l = TestLedger::new();
        expect_ok(&l.call(&key("audit"), &anchor("node-a", 5, 1)).unwrap());
        refused_unchanged(&mut l, "farm", &anchor("node-a", 6, 1), "audit.anchor_owner");
    }

    #[test]
    fn audit_log_id_format() {
        let mut l = TestLedger::new();
        refused_unchanged(&mut l, "audit", &anchor("", 1, 1), "audit.log_id_format");
        refused_unchanged(&mut l, "audit", &anchor("a b", 1, 1), "audit.log_id_format");
    }
}

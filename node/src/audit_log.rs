//! The node's query log: one JSON line per signed query answered (who, which
//! organisation and roles, what, when, and the SHA-256 of the request signature),
//! written and fsynced before the answer is sent, in `data_dir/audit/queries.jsonl`
//! (mode 0600).
//!
//! The lines form a hash chain: each carries `seq` (0, 1, ...) and `prev`, the SHA-256
//! of the previous line's bytes (64 zeros for the first), so an edited, removed or
//! reordered line breaks the chain at the next line (`jialing_core::query_log::verify` names it). The head
//! (hash of the last line, and the count) can be anchored on the ledger so that
//! removing lines at the end shows too. At start, a torn last line (a crash or a full
//! disk in the middle of a write) is cut off with a warning; a broken chain refuses
//! to open.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jialing_core::query_log::{Head, QueryLogError, verify};
use jialing_core::sha256;

/// Why a query log does not verify, or could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    /// Reading or writing the file failed.
    #[error("query log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The chain is broken.
    #[error("query log {path}: {source}")]
    Broken {
        /// The file.
        path: PathBuf,
        /// Where and how.
        source: QueryLogError,
    },
}

/// The query log file.
pub struct AuditLog {
    path: PathBuf,
    inner: Mutex<(std::fs::File, Head)>,
}

impl AuditLog {
    /// Opens (creating if needed, mode 0600) the log at `path` for appending: verifies
    /// the chain, cuts off a torn last line (with a warning) and refuses a broken chain.
    pub fn open(path: &Path) -> Result<Self, AuditLogError> {
        let io = |source| AuditLogError::Io { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).read(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        let mut text = Vec::new();
        file.rewind().map_err(io)?;
        file.read_to_end(&mut text).map_err(io)?;
        let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            tracing::warn!(
                target: "jialing::audit",
                path = %path.display(),
                bytes = text.len() - complete,
                "the query log ends in a torn entry (a crash or a full disk interrupted a write); cutting it off: that query was never answered"
            );
            file.set_len(complete as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
            text.truncate(complete);
        }
        let head = verify(&text)
            .map_err(|e| AuditLogError::Broken {
                path: path.to_path_buf(),
                source: QueryLogError {
                    line: e.line,
                    reason: format!(
                        "{}. The log was altered: keep it as evidence (jialing audit queries --file), move it aside and start the node again to begin a new log",
                        e.reason
                    ),
                },
            })?
            .head;
        Ok(AuditLog { path: path.to_path_buf(), inner: Mutex::new((file, head)) })
    }

    /// Appends one entry (its fields plus `seq` and `prev`) and syncs it to disk.
    pub fn record(&self, entry: &serde_json::Value) -> std::io::Result<Head> {
        let mut guard = self.inner.lock().map_err(|_| std::io::Error::other("query log lock poisoned"))?;
        let (file, head) = &mut *guard;
        let mut v = entry.clone();
        let obj = v.as_object_mut().ok_or_else(|| std::io::Error::other("a query log entry must be an object"))?;
        obj.insert("seq".into(), head.count.into());
        obj.insert("prev".into(), head.hash.to_hex().into());
        let line = serde_json::to_vec(&v).map_err(std::io::Error::other)?;
        let next = Head { count: head.count + 1, hash: sha256(&line) };
        let mut bytes = line;
        bytes.push(b'\n');
        file.write_all(&bytes)?;
        file.sync_data()?;
        *head = next;
        Ok(next)
    }

    /// The head: entries so far and the hash of the last line.
    pub fn head(&self) -> Head {
        self.inner.lock().map(|g| g.1).unwrap_or(Head::EMPTY)
    }

    /// The log's bytes (complete lines), for auditors.
    pub fn read_all(&self) -> std::io::Result<Vec<u8>> {
        // Hold the lock so no entry is half-written while reading.
        let _guard = self.inner.lock().map_err(|_| std::io::Error::other("query log lock poisoned"))?;
        std::fs::read(&self.path)
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Anchors the log's head on the ledger every `every`: when the log holds more entries
/// than the ledger's anchor of `audience` and no anchor of ours is pending, submits
/// `audit.anchor_queries` signed with `key` (a member key of the node's organisation).
/// Runs until the task is dropped; failures are logged and retried at the next tick.
pub async fn anchor_loop(
    ledger: std::sync::Arc<crate::app::Ledger>,
    log: std::sync::Arc<AuditLog>,
    key: jialing_core::Keypair,
    audience: String,
    every: std::time::Duration,
) {
    let key = std::sync::Arc::new(key);
    let mut pending: Option<jialing_core::TxHash> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (ledger, log, key, audience) = (ledger.clone(), log.clone(), key.clone(), audience.clone());
        let last = pending;
        let r = tokio::task::spawn_blocking(move || anchor_once(&ledger, &log, &key, &audience, last)).await;
        match r {
            Ok(Ok(p)) => pending = p,
            Ok(Err(e)) => {
                tracing::warn!(target: "jialing::audit", error = %e, "anchoring the query log failed; retrying at the next tick");
            }
            Err(e) => tracing::warn!(target: "jialing::audit", error = %e, "query log anchor task failed"),
        }
    }
}

/// One anchoring step ([`anchor_loop`]); returns the hash of the anchor now pending,
/// if any.
pub fn anchor_once(
    ledger: &crate::app::Ledger,
    log: &AuditLog,
    key: &jialing_core::Keypair,
    audience: &str,
    pending: Option<jialing_core::TxHash>,
) -> Result<Option<jialing_core::TxHash>, String> {
    use jialing_contracts::anchor::{AnchorQueries, QueryAnchor, anchor_key};
    use jialing_contracts::{CallPayload, StateView};
    if let Some(h) = pending
        && ledger.mempool.lock().map(|p| p.get(&h).is_some()).unwrap_or(false)
    {
        return Ok(Some(h));
    }
    let head = log.head();
    let anchored = match ledger.store.get(&anchor_key(audience))? {
        Some(b) => jialing_core::encoding::decode::<QueryAnchor>("anchor", &b).map_err(|e| e.to_string())?.count,
        None => 0,
    };
    if head.count <= anchored {
        return Ok(None);
    }
    let (contract, method, payload) =
        AnchorQueries { log: audience.to_string(), count: head.count, head: head.hash }.to_call();
    let signer = key.public();
    let committed = ledger.committed_next_nonce(&signer)?;
    let nonce = ledger.mempool.lock().map(|p| p.pending_next_nonce(&signer, committed)).unwrap_or(committed);
    let stx = jialing_core::Transaction { chain_id: ledger.chain_id.clone(), signer, nonce, contract, method, payload }
        .sign(key);
    let (hash, bytes) = (stx.hash(), stx.to_bytes());
    match ledger.submit(vec![(stx, hash, bytes)]).pop() {
        Some(Ok(h)) => {
            tracing::info!(target: "jialing::audit", count = head.count, head = %head.hash, tx = %h, "query log anchor submitted");
            Ok(Some(h))
        }
        Some(Err(e)) => Err(format!("{} ({})", e, e.code())),
        None => Err("no submission result".into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn log_with(n: usize) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit/queries.jsonl");
        let log = AuditLog::open(&path).unwrap();
        for i in 0..n {
            log.record(&serde_json::json!({"query": format!("/v1/q/{i}"), "signer": "k"})).unwrap();
        }
        (dir, path)
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap().lines().map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn a_clean_log_verifies_and_reopens_at_its_head() {
        let (_d, path) = log_with(5);
        let v = verify(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v.head.count, 5);
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(log.head(), v.head);
        log.record(&serde_json::json!({"query": "/x"})).unwrap();
        assert_eq!(verify(&std::fs::read(&path).unwrap()).unwrap().head.count, 6);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let l = lines(&path);
        let edited: String = l
            .iter()
            .enumerate()
            .map(|(i, s)| if i == 2 { s.replace("/v1/q/2", "/v1/q/9") } else { s.clone() })
            .collect();
        assert_eq!(verify(edited.as_bytes()).err().map(|e| e.line), Some(4), "an edit of line 3 shows at line 4");
    }

    #[test]
    fn a_torn_tail_is_cut_off_at_open_and_a_broken_chain_refuses_to_open() {
        let (_d, path) = log_with(3);
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":3,\"pre").unwrap();
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(log.head().count, 3);
        log.record(&serde_json::json!({"query": "/after"})).unwrap();
        assert_eq!(verify(&std::fs::read(&path).unwrap()).unwrap().head.count, 4);
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap().replace("/after", "/edited");
        let edited_first = text.replacen("/v1/q/0", "/v1/q/X", 1);
        std::fs::write(&path, edited_first).unwrap();
        let err = AuditLog::open(&path).err().unwrap().to_string();
        assert!(err.contains("line 2") && err.contains("move it aside"), "{err}");
    }
}

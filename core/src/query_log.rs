//! The query log's hash chain (the node writes it, auditors verify it): one JSON
//! object per line, each with `seq` (0, 1, ...) and `prev`, the SHA-256 of the previous
//! line's bytes (64 zeros for the first). An edited, removed, inserted or reordered
//! line breaks the chain at the first line that no longer follows; removing lines at
//! the end shows against the head anchored on the ledger ([`Head`]). Pure: bytes in,
//! verdict out.

use crate::hash::{Hash, sha256};

/// Where a query log's chain breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("query log breaks at line {line}: {reason}")]
pub struct QueryLogError {
    /// The first line (1-based) that does not follow from the ones before.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// The head of a chain: how many entries, and the hash of the last line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Number of entries.
    pub count: u64,
    /// SHA-256 of the last line's bytes (zeros for an empty log).
    pub hash: Hash,
}

impl Head {
    /// The head of an empty log.
    pub const EMPTY: Head = Head { count: 0, hash: Hash([0; 32]) };
}

/// A verified log: its entries and its head.
#[derive(Debug)]
pub struct Verified {
    /// The entries, in order (with `seq` and `prev`).
    pub entries: Vec<serde_json::Value>,
    /// The head after the last entry.
    pub head: Head,
    /// The head after each entry (`heads[i]` after entry `i`), to check anchors.
    pub heads: Vec<Head>,
}

/// Verifies the chain of complete lines in `text` (every line must end in `\n`, except
/// that a torn last line is reported as such).
pub fn verify(text: &[u8]) -> Result<Verified, QueryLogError> {
    let mut head = Head::EMPTY;
    let mut entries = Vec::new();
    let mut heads = Vec::new();
    let mut rest = text;
    let mut line_no = 0usize;
    while !rest.is_empty() {
        line_no += 1;
        let Some(end) = rest.iter().position(|b| *b == b'\n') else {
            return Err(QueryLogError {
                line: line_no,
                reason: format!("the last line is incomplete ({} bytes without an end of line)", rest.len()),
            });
        };
        let line = &rest[..end];
        rest = &rest[end + 1..];
        let broken = |reason: String| QueryLogError { line: line_no, reason };
        let v: serde_json::Value =
            serde_json::from_slice(line).map_err(|e| broken(format!("not a JSON entry: {e}")))?;
        let seq = v["seq"].as_u64().ok_or_else(|| broken("no seq".into()))?;
        if seq != head.count {
            return Err(broken(format!(
                "entry number {seq} where {} was due (lines removed, inserted or reordered)",
                head.count
            )));
        }
        let prev = v["prev"].as_str().and_then(|s| Hash::from_hex(s).ok()).ok_or_else(|| broken("no prev".into()))?;
        if prev != head.hash {
            return Err(broken(format!(
                "its prev hash {prev} is not the hash of line {} ({}): that line was edited, or lines were reordered",
                line_no - 1,
                head.hash
            )));
        }
        head = Head { count: head.count + 1, hash: sha256(line) };
        heads.push(head);
        entries.push(v);
    }
    Ok(Verified { entries, head, heads })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// A chain of `n` entries, built as the node writes it.
    fn chain(n: usize) -> Vec<String> {
        let mut prev = Hash([0; 32]);
        (0..n)
            .map(|i| {
                let line = format!("{{\"prev\":\"{prev}\",\"query\":\"/v1/q/{i}\",\"seq\":{i}}}");
                prev = sha256(line.as_bytes());
                format!("{line}\n")
            })
            .collect()
    }

    fn broken_at(text: &str) -> usize {
        match verify(text.as_bytes()) {
            Err(e) => e.line,
            Ok(v) => panic!("expected a break, got a chain of {}", v.head.count),
        }
    }

    #[test]
    fn a_chain_verifies_to_its_head() {
        let l = chain(4);
        let v = verify(l.concat().as_bytes()).unwrap();
        assert_eq!(v.head.count, 4);
        assert_eq!(v.head.hash, sha256(l[3].trim_end().as_bytes()));
        assert_eq!(v.heads.len(), 4);
        assert_eq!(verify(b"").unwrap().head, Head::EMPTY);
    }

    #[test]
    fn edited_removed_reordered_and_torn_logs_break_where_they_are() {
        let l = chain(5);
        let edited: String = l
            .iter()
            .enumerate()
            .map(|(i, s)| if i == 2 { s.replace("/v1/q/2", "/v1/q/9") } else { s.clone() })
            .collect();
        assert_eq!(broken_at(&edited), 4, "an edit of line 3 shows at line 4");
        let removed: String = l.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, s)| s.clone()).collect();
        assert_eq!(broken_at(&removed), 2);
        let mut swapped = l.clone();
        swapped.swap(1, 3);
        assert_eq!(broken_at(&swapped.concat()), 2);
        let all = l.concat();
        assert_eq!(broken_at(&all[..all.len() - 5]), 5, "a torn last line");
        assert_eq!(broken_at("not json\n"), 1);
    }
}

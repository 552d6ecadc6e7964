//! Signed audit reports: what `jialing audit report` writes and `jialing verify` checks.
//!
//! A report is `{"report": BODY, "signature": SIG, "signed_digest": D}`. BODY is a JSON
//! object; D is the SHA-256 of BODY serialised compactly with its keys sorted (the
//! form `serde_json` gives a `Value`), so any change to the body, even a field added,
//! breaks the digest. SIG is the auditor's Ed25519 signature over D under the chain id
//! and [`Purpose::AuditReport`].
//!
//! BODY carries the replay summary, the auditor's key, the last block's header with its
//! commit certificate and every certified validator-set change. So a reader holding
//! only the genesis file can check both who signed the report and that the block it
//! ends at is the one the validators committed.

use jialing_core::proof::{CertifiedHeader, TrustedSets, ValidatorHistory, VerifiedHeader};
use jialing_core::{Hash, Keypair, PublicKey, Purpose, Signature, ValidatorSet};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The facts a report states, as `jialing verify` established them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedReport {
    /// The auditor whose signature checked.
    pub auditor: PublicKey,
    /// Chain id.
    pub chain_id: String,
    /// Last height the auditor replayed.
    pub height: u64,
    /// Blocks replayed.
    pub blocks: u64,
    /// Transactions replayed.
    pub txs: u64,
    /// The state root the auditor recomputed at `height`.
    pub state_root: Hash,
    /// The divergence the auditor found, if any.
    pub divergence: Option<String>,
    /// The certified last block (absent when the report covers only genesis).
    pub block: Option<VerifiedHeader>,
}

/// A report that does not check out.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReportError(pub String);

/// The digest a report's signature covers.
pub fn body_digest(body: &Value) -> Hash {
    // `Value`'s map keeps keys sorted and `to_vec` writes no whitespace: one form.
    jialing_core::sha256(&serde_json::to_vec(body).unwrap_or_default())
}

/// Builds and signs a report document from a summary body (a JSON object).
pub fn sign(
    key: &Keypair,
    chain_id: &str,
    mut body: Value,
    last: Option<&CertifiedHeader>,
    history: &ValidatorHistory,
) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.insert("auditor".into(), json!(key.public()));
        o.insert("last_block".into(), json!(last));
        o.insert("validator_history".into(), json!(history));
    }
    let digest = body_digest(&body);
    let signature = key.sign(chain_id, Purpose::AuditReport, &digest);
    json!({ "report": body, "signature": signature, "signed_digest": digest })
}

/// Whether a JSON document looks like a signed report (rather than a proof).
pub fn is_report(doc: &Value) -> bool {
    doc.get("report").is_some() && doc.get("signature").is_some()
}

fn field<T: for<'de> Deserialize<'de>>(v: &Value, name: &str) -> Result<T, ReportError> {
    serde_json::from_value(v.get(name).cloned().unwrap_or(Value::Null))
        .map_err(|e| ReportError(format!("the report's {name:?} is missing or malformed: {e}")))
}

/// Checks a report against the genesis chain id and validator set: the digest, the
/// auditor's signature, the validator history and the certificate of the last block,
/// and that the summary names that block. `auditor`, when given, must be the signer.
pub fn verify(
    doc: &Value,
    chain_id: &str,
    genesis_set: ValidatorSet,
    validators_key: &[u8],
    auditor: Option<&PublicKey>,
) -> Result<VerifiedReport, ReportError> {
    let body = doc.get("report").ok_or_else(|| ReportError("the document has no \"report\" body".into()))?;
    let signature: Signature = field(doc, "signature")?;
    let digest = body_digest(body);
    if let Some(claimed) = doc.get("signed_digest") {
        let claimed: Hash = serde_json::from_value(claimed.clone())
            .map_err(|e| ReportError(format!("the report's \"signed_digest\" is malformed: {e}")))?;
        if claimed != digest {
            return Err(ReportError(format!(
                "the report body was changed after signing: it hashes to {digest}, the signature covers {claimed}"
            )));
        }
    }
    let signer: PublicKey = field(body, "auditor")?;
    signer.verify(chain_id, Purpose::AuditReport, &digest, &signature).map_err(|_| {
        ReportError(format!(
            "the signature is not {signer}'s over this body on chain {chain_id:?} (changed body, other chain, or forged)"
        ))
    })?;
    if let Some(want) = auditor
        && *want != signer
    {
        return Err(ReportError(format!("the report is signed by {signer}, not by the auditor {want} you named")));
    }
    let summary = body.get("summary").ok_or_else(|| ReportError("the report has no \"summary\"".into()))?;
    let report_chain: String = field(summary, "chain_id")?;
    if report_chain != chain_id {
        return Err(ReportError(format!(
            "the report is for chain {report_chain:?}, the genesis file defines {chain_id:?}"
        )));
    }
    let height: u64 = field(summary, "height")?;
    let block_hash: Hash = field(summary, "block_hash")?;
    let state_root: Hash = field(summary, "state_root")?;
    let history: ValidatorHistory = field(body, "validator_history")?;
    let last: Option<CertifiedHeader> = field(body, "last_block")?;
    let mut trusted = TrustedSets::from_genesis(genesis_set);
    trusted
        .apply_history(chain_id, &history, validators_key)
        .map_err(|e| ReportError(format!("the report's validator history: {e}")))?;
    let block = match (&last, height) {
        (None, 0) => None,
        (None, h) => {
            return Err(ReportError(format!("the report covers height {h} but carries no certified last block")));
        }
        (Some(c), _) => {
            let v = c
                .verify(chain_id, trusted.set_for(c.header.height))
                .map_err(|e| ReportError(format!("the report's last block: {e}")))?;
            if c.header.height != height || v.block_hash != block_hash || c.header.state_root != state_root {
                return Err(ReportError(format!(
                    "the summary (height {height}, block {block_hash}, state root {state_root}) is not the certified block {} ({}, state root {})",
                    c.header.height, v.block_hash, c.header.state_root
                )));
            }
            Some(v)
        }
    };
    Ok(VerifiedReport {
        auditor: signer,
        chain_id: report_chain,
        height,
        blocks: field(summary, "blocks")?,
        txs: field(summary, "txs")?,
        state_root,
        divergence: field(summary, "divergence")?,
        block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jialing_core::{BlockHeader, CommitCertificate, Validator};

    const KEY: &[u8] = b"validators";

    fn setup() -> (Vec<Keypair>, ValidatorSet, CertifiedHeader) {
        let keys: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("v{i}"))).collect();
        let set =
            ValidatorSet::new(keys.iter().map(|k| Validator { public_key: k.public(), power: 1 }).collect()).unwrap();
        let header = BlockHeader {
            chain_id: "c".into(),
            height: 3,
            time_ms: 10,
            parent_hash: Hash::ZERO,
            history_root: Hash::ZERO,
            tx_root: Hash::ZERO,
            state_root: jialing_core::sha256(b"state"),
            receipts_root: Hash::ZERO,
            validator_set_hash: set.hash(),
            proposer: keys[0].public(),
            tx_count: 0,
        };
        let hash = header.hash();
        let cert = CommitCertificate::sign("c", 3, 0, hash, &keys[..3].iter().collect::<Vec<_>>());
        (keys, set, CertifiedHeader { header, certificate: cert })
    }

    fn body(c: &CertifiedHeader) -> Value {
        json!({ "summary": {
            "chain_id": "c", "height": 3, "block_hash": c.header.hash(), "state_root": c.header.state_root,
            "blocks": 3, "txs": 7, "counts": {}, "divergence": null } })
    }

    #[test]
    fn a_signed_report_verifies_and_any_change_is_caught() {
        let (_, set, c) = setup();
        let auditor = Keypair::from_label("auditor");
        let history = ValidatorHistory { chain_id: "c".into(), changes: vec![] };
        let doc = sign(&auditor, "c", body(&c), Some(&c), &history);
        let v = verify(&doc, "c", set.clone(), KEY, Some(&auditor.public())).unwrap();
        assert_eq!((v.height, v.txs, v.block.as_ref().map(|b| b.signers)), (3, 7, Some(3)));
        // Round trip through pretty JSON text, as the file is written.
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let reread: Value = serde_json::from_str(&text).unwrap();
        assert!(verify(&reread, "c", set.clone(), KEY, None).is_ok());

        let mut changed = doc.clone();
        changed["report"]["summary"]["txs"] = json!(8);
        let e = verify(&changed, "c", set.clone(), KEY, None).unwrap_err().to_string();
        assert!(e.contains("changed after signing"), "{e}");
        changed["signed_digest"] = json!(body_digest(&changed["report"]));
        let e = verify(&changed, "c", set.clone(), KEY, None).unwrap_err().to_string();
        assert!(e.contains("signature is not"), "{e}");

        let e = verify(&doc, "other", set.clone(), KEY, None).unwrap_err().to_string();
        assert!(e.contains("signature is not"), "{e}");
        let e = verify(&doc, "c", set.clone(), KEY, Some(&Keypair::from_label("x").public())).unwrap_err().to_string();
        assert!(e.contains("not by the auditor"), "{e}");
    }

    #[test]
    fn an_auditor_cannot_claim_an_uncertified_block() {
        let (_, set, mut c) = setup();
        let auditor = Keypair::from_label("auditor");
        let history = ValidatorHistory { chain_id: "c".into(), changes: vec![] };
        // A summary that names another state root than the certified block.
        let mut b = body(&c);
        b["summary"]["state_root"] = json!(Hash::ZERO);
        let e = verify(&sign(&auditor, "c", b, Some(&c), &history), "c", set.clone(), KEY, None).unwrap_err();
        assert!(e.to_string().contains("is not the certified block"), "{e}");
        // A certificate with too few signatures.
        c.certificate.signatures.truncate(2);
        let e = verify(&sign(&auditor, "c", body(&c), Some(&c), &history), "c", set, KEY, None).unwrap_err();
        assert!(e.to_string().contains("last block"), "{e}");
    }
}

//! Document attestation (存证): a member records that a document existed in exactly
//! these bytes, by the SHA-256 of its content (or, for large files, the RFC 9162 Merkle
//! root of its fixed-size chunks, so one chunk can later be proven alone), with a type, a title and optional links
//! to lots, data products or credit records. Records are never edited: a new version
//! of a document is appended under the same attestation id (by the same organisation),
//! and a revocation is recorded and final. `attest/doc/{id}` holds the attestation,
//! `attest/digest/{sha256 hex}` the id a digest was attested under, so a verifier who
//! holds only the file finds its record (`jialing attest verify`).

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, PublicKey, Role, Uscc};
use serde::{Deserialize, Serialize};

use crate::error::ContractError;
use crate::executor::Tx;
use crate::receipt::TagKind;
use crate::registry::{CallPayload, Method, decode_payload, from_json_of, json_of};

/// Most links of one version.
pub const MAX_LINKS: usize = 16;

/// What a link points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// A traceability lot.
    Lot,
    /// A data product.
    DataProduct,
    /// A credit record.
    CreditRecord,
}

/// A link from an attested document to a ledger record.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Link {
    /// Kind of record.
    pub kind: LinkKind,
    /// Its id.
    pub id: String,
}

/// `attest.record`: attest a document, or a new version of attestation `id`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AttestDocument {
    /// Attestation id (1 to 64 of A-Z a-z 0-9 . _ -), chosen by the organisation.
    pub id: String,
    /// SHA-256 of the document's bytes, or with `chunk_size` the Merkle root of its
    /// chunks.
    pub digest: Hash,
    /// 0: `digest` is the SHA-256 of the whole document; otherwise the RFC 9162 root
    /// over `leaf_hash(chunk)` of consecutive chunks of this many bytes.
    pub chunk_size: u32,
    /// Its size in bytes.
    pub size: u64,
    /// Document type, e.g. `contract`, `inspection-report`.
    pub doc_type: String,
    /// Title.
    pub title: String,
    /// Records it concerns.
    pub links: Vec<Link>,
}

impl CallPayload for AttestDocument {
    const CONTRACT: &'static str = "attest";
    const METHOD: &'static str = "record";
}

/// `attest.revoke`: revoke attestation `id` (final).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RevokeAttestation {
    /// Attestation id.
    pub id: String,
    /// Why.
    pub reason: String,
}

impl CallPayload for RevokeAttestation {
    const CONTRACT: &'static str = "attest";
    const METHOD: &'static str = "revoke";
}

/// One attested version.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Version {
    /// SHA-256 of the document (or the root of its chunks).
    pub digest: Hash,
    /// Chunk size of the root (0: plain SHA-256).
    pub chunk_size: u32,
    /// Size in bytes.
    pub size: u64,
    /// Document type.
    pub doc_type: String,
    /// Title.
    pub title: String,
    /// Links.
    pub links: Vec<Link>,
    /// The member key that recorded it.
    pub signer: PublicKey,
    /// Block time.
    pub time_ms: u64,
}

/// A revocation.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Revocation {
    /// The member key that revoked it.
    pub signer: PublicKey,
    /// Block time.
    pub time_ms: u64,
    /// Why.
    pub reason: String,
}

/// `attest/doc/{id}`: an attestation with every version, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Attestation {
    /// Attestation id.
    pub id: String,
    /// The organisation that owns it.
    pub org: Uscc,
    /// Versions, oldest first.
    pub versions: Vec<Version>,
    /// Set once revoked.
    pub revoked: Option<Revocation>,
}

/// `attest/doc/{id}` → [`Attestation`].
pub fn doc_key(id: &str) -> Vec<u8> {
    crate::keys::with_id("attest/doc/", id)
}

/// `attest/digest/{hex}` → the attestation id (a `String`).
pub fn digest_key(digest: &Hash) -> Vec<u8> {
    crate::keys::with_id("attest/digest/", &digest.to_hex())
}

/// The attestation contract's methods.
pub const METHODS: &[Method] = &[
    Method {
        contract: "attest",
        name: "record",
        roles: &Role::ALL,
        summary: "attest a document (SHA-256, type, title, links), or a new version of an attestation",
        run: run_record,
        to_json: json_of::<AttestDocument>,
        from_json: from_json_of::<AttestDocument>,
    },
    Method {
        contract: "attest",
        name: "revoke",
        roles: &Role::ALL,
        summary: "revoke an attestation of one's organisation (final)",
        run: run_revoke,
        to_json: json_of::<RevokeAttestation>,
        from_json: from_json_of::<RevokeAttestation>,
    },
];

fn id_format(id: &str) -> Result<(), ContractError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(ContractError::rule(
            "attest.id_format",
            format!("id {id:?} must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"),
        ));
    }
    Ok(())
}

/// The attestation `id` for a change by the caller: owned by its organisation and not
/// revoked.
fn owned(tx: &Tx<'_>, id: &str) -> Result<Option<Attestation>, ContractError> {
    let Some(a) = tx.get::<Attestation>(&doc_key(id))? else { return Ok(None) };
    if &a.org != tx.org() {
        return Err(ContractError::rule("attest.owner", format!("attestation {id} belongs to organisation {}", a.org)));
    }
    if a.revoked.is_some() {
        return Err(ContractError::rule("attest.revoked_final", format!("attestation {id} was revoked")));
    }
    Ok(Some(a))
}

fn run_record(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: AttestDocument = decode_payload(payload)?;
    id_format(&p.id)?;
    tx.check_text("doc_type", &p.doc_type, true)?;
    tx.check_text("title", &p.title, true)?;
    if p.links.len() > MAX_LINKS {
        return Err(ContractError::rule("attest.links", format!("{} links, at most {MAX_LINKS}", p.links.len())));
    }
    for l in &p.links {
        id_format(&l.id)?;
    }
    if let Some(other) = tx.get::<String>(&digest_key(&p.digest))? {
        return Err(ContractError::rule(
            "attest.digest_unique",
            format!("a document with SHA-256 {} is already attested as {other}", p.digest),
        ));
    }
    let version = Version {
        digest: p.digest,
        chunk_size: p.chunk_size,
        size: p.size,
        doc_type: p.doc_type,
        title: p.title,
        links: p.links,
        signer: tx.signer(),
        time_ms: tx.time_ms(),
    };
    let mut a = owned(tx, &p.id)?.unwrap_or_else(|| Attestation {
        id: p.id.clone(),
        org: tx.org().clone(),
        versions: vec![],
        revoked: None,
    });
    a.versions.push(version);
    tx.put(digest_key(&p.digest), &p.id);
    tx.put(doc_key(&p.id), &a);
    tx.tag(TagKind::Org, a.org.to_string());
    Ok(())
}

fn run_revoke(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: RevokeAttestation = decode_payload(payload)?;
    id_format(&p.id)?;
    tx.check_text("reason", &p.reason, true)?;
    let Some(mut a) = owned(tx, &p.id)? else {
        return Err(ContractError::rule("attest.unknown", format!("no attestation {}", p.id)));
    };
    a.revoked = Some(Revocation { signer: tx.signer(), time_ms: tx.time_ms(), reason: p.reason });
    tx.put(doc_key(&p.id), &a);
    tx.tag(TagKind::Org, a.org.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testkit::{TestLedger, expect_ok, expect_refused, key, uscc};

    fn doc(id: &str, byte: u8) -> AttestDocument {
        AttestDocument {
            id: id.into(),
            digest: Hash([byte; 32]),
            chunk_size: 0,
            size: 10,
            doc_type: "inspection-report".into(),
            title: "检测报告".into(),
            links: vec![Link { kind: LinkKind::Lot, id: "FD-POMELO-2026-001".into() }],
        }
    }

    fn refused_unchanged<P: CallPayload>(l: &mut TestLedger, by: &str, p: &P, code: &str) {
        let mut before = l.snapshot();
        let r = l.call(&key(by), p).unwrap();
        expect_refused(&r, code);
        let mut after = l.snapshot();
        before.remove(&crate::keys::nonce(&key(by).public()));
        after.remove(&crate::keys::nonce(&key(by).public()));
        assert_eq!(before, after);
    }

    #[test]
    fn attest_versions_append_and_index_digests() {
        let mut l = TestLedger::new();
        expect_ok(&l.call(&key("farm"), &doc("R-1", 1)).unwrap());
        expect_ok(&l.call(&key("farm"), &doc("R-1", 2)).unwrap());
        let a: Attestation = l.get(&doc_key("R-1")).unwrap();
        assert_eq!(a.org, uscc("farm"));
        assert_eq!(a.versions.iter().map(|v| v.digest).collect::<Vec<_>>(), vec![Hash([1; 32]), Hash([2; 32])]);
        assert_eq!(a.versions[0].signer, key("farm").public());
        let id: String = l.get(&digest_key(&Hash([1; 32]))).unwrap();
        assert_eq!(id, "R-1");
    }

    #[test]
    fn attest_digest_unique() {
        let mut l = TestLedger::new();
        expect_ok(&l.call(&key("farm"), &doc("R-1", 1)).unwrap());
        refused_unchanged(&mut l, "farm", &doc("R-2", 1), "attest.digest_unique");
    }

    #[test]
    fn attest_owner() {
        let mut l = TestLedger::new();
        expect_ok(&l.call(&key("farm"), &doc("R-1", 1)).unwrap());
        refused_unchanged(&mut l, "audit", &doc("R-1", 2), "attest.owner");
        refused_unchanged(&mut l, "audit", &RevokeAttestation { id: "R-1".into(), reason: "x".into() }, "attest.owner");
    }

    #[test]
    fn attest_revoked_final() {
        let mut l = TestLedger::new();
        expect_ok(&l.call(&key("farm"), &doc("R-1", 1)).unwrap());
        expect_ok(&l.call(&key("farm"), &RevokeAttestation { id: "R-1".into(), reason: "superseded".into() }).unwrap());
        let a: Attestation = l.get(&doc_key("R-1")).unwrap();
        assert_eq!(a.revoked.unwrap().reason, "superseded");
        refused_unchanged(&mut l, "farm", &doc("R-1", 3), "attest.revoked_final");
        let again = RevokeAttestation { id: "R-1".into(), reason: "again".into() };
        refused_unchanged(&mut l, "farm", &again, "attest.revoked_final");
    }

    #[test]
    fn attest_unknown() {
        let mut l = TestLedger::new();
        refused_unchanged(&mut l, "farm", &RevokeAttestation { id: "NO".into(), reason: "x".into() }, "attest.unknown");
    }

    #[test]
    fn attest_id_format_and_links() {
        let mut l = TestLedger::new();
        refused_unchanged(&mut l, "farm", &doc("bad id", 1), "attest.id_format");
        let mut d = doc("R-1", 1);
        d.links = (0..17).map(|i| Link { kind: LinkKind::Lot, id: format!("L{i}") }).collect();
        refused_unchanged(&mut l, "farm", &d, "attest.links");
    }
}

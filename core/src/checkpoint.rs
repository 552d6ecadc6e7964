//! Signed checkpoints in the C2SP signed-note / tlog-checkpoint text format, so that
//! witnesses and monitors who know nothing of this ledger's encoding can keep them and
//! compare them: two different checkpoint bodies for one origin and height are proof
//! of a fork.
//!
//! ```text
//! jialing/<chain id>/<fingerprint>      origin
//! <height + 1>                          number of blocks (the "tree size")
//! <base64 block hash>                   the block at `height`
//! history <base64 history root>         extension lines
//! state <base64 state root>
//! time <block time, ms>
//! round <consensus round>
//!
//! — <chain id>/validator/<16 hex> <base64(key id ‖ signature)>
//! ```
//!
//! The signatures are the validators' precommits of that block (its commit
//! certificate): a precommit signs the block hash, height and round, which the body
//! states, and the block hash commits to the state root and time. The key id is the
//! first 4 bytes of `SHA-256(name ‖ "\n" ‖ 0xff ‖ "jialing-precommit" ‖ public key)`
//! (the note format's escape for a signature type of its own).
//!
//! The `history` line is the block's `history_root`: the RFC 9162 tree head over the
//! hashes of blocks `0..height` ([`crate::history`]; `height` leaves, so the tree of
//! the block's *predecessors*), which the block hash commits to. A monitor holding two
//! checkpoints checks that the later extends the earlier with the `O(log n)` proof of
//! `GET /v1/proof/consistency`. The hash line stays the block hash: the signatures are
//! precommits of that block, and a checkpoint of the tree root alone could not carry
//! them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::block::{BlockHeader, CommitCertificate, CommitSignature, ValidatorSet, Vote, VoteKind};
use crate::crypto::{PublicKey, Signature};
use crate::error::CoreError;
use crate::hash::{Hash, sha256_parts};

/// The note's signature type identifier (after the 0xff escape).
pub const SIGNATURE_TYPE: &[u8] = b"jialing-precommit";
/// Longest note accepted by [`parse`].
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// What a checkpoint states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Chain id.
    pub chain_id: String,
    /// Chain fingerprint (`chain_identity::fingerprint`).
    pub fingerprint: String,
    /// Height.
    pub height: u64,
    /// Block hash at `height`.
    pub block_hash: Hash,
    /// Its history root: the tree head over the hashes of blocks `0..height`.
    pub history_root: Hash,
    /// Its state root.
    pub state_root: Hash,
    /// Its time (ms).
    pub time_ms: u64,
    /// The round its certificate is for.
    pub round: u32,
}

/// A parsed note: the checkpoint, its exact body text and its signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The body (everything before the blank line), newline-terminated.
    pub body: String,
    /// `(key name, key id, signature)`.
    pub signatures: Vec<(String, [u8; 4], Signature)>,
}

/// The key name of a validator in notes.
pub fn key_name(chain_id: &str, key: &PublicKey) -> String {
    format!("{chain_id}/validator/{}", &key.to_hex()[..16])
}

/// The note key id of a validator.
pub fn key_id(name: &str, key: &PublicKey) -> [u8; 4] {
    let h = sha256_parts(&[name.as_bytes(), b"\n", &[0xff], SIGNATURE_TYPE, &key.0]);
    [h.0[0], h.0[1], h.0[2], h.0[3]]
}

impl Checkpoint {
    /// The checkpoint of a certified header.
    pub fn of(header: &BlockHeader, certificate: &CommitCertificate, fingerprint: &str) -> Self {
        Checkpoint {
            chain_id: header.chain_id.clone(),
            fingerprint: fingerprint.to_string(),
            height: header.height,
            block_hash: header.hash(),
            history_root: header.history_root,
            state_root: header.state_root,
            time_ms: header.time_ms,
            round: certificate.round,
        }
    }

    /// The origin line.
    pub fn origin(&self) -> String {
        format!("jialing/{}/{}", self.chain_id, self.fingerprint)
    }

    /// The note body.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\nhistory {}\nstate {}\ntime {}\nround {}\n",
            self.origin(),
            self.height + 1,
            B64.encode(self.block_hash.0),
            B64.encode(self.history_root.0),
            B64.encode(self.state_root.0),
            self.time_ms,
            self.round
        )
    }

    /// The signed note: the body, a blank line, one line per precommit.
    pub fn note(&self, certificate: &CommitCertificate) -> String {
        let mut s = self.body();
        s.push('\n');
        for CommitSignature { validator, signature } in &certificate.signatures {
            let name = key_name(&self.chain_id, validator);
            let mut blob = key_id(&name, validator).to_vec();
            blob.extend_from_slice(&signature.0);
            s.push_str(&format!("\u{2014} {name} {}\n", B64.encode(blob)));
        }
        s
    }
}

fn bad<T>(m: impl Into<String>) -> Result<T, CoreError> {
    Err(CoreError::InvalidProof(format!("checkpoint note: {}", m.into())))
}

fn hash_b64(s: &str, what: &str) -> Result<Hash, CoreError> {
    let b = B64.decode(s).or_else(|_| bad(format!("{what} is not base64")))?;
    let a: [u8; 32] = b.try_into().or_else(|_| bad(format!("{what} is not 32 bytes")))?;
    Ok(Hash(a))
}

/// Parses a signed checkpoint note (strictly: the exact line set [`Checkpoint::note`]
/// writes, signatures of unknown form refused).
pub fn parse(text: &str) -> Result<SignedCheckpoint, CoreError> {
    if text.len() > MAX_NOTE_BYTES {
        return bad(format!("longer than {MAX_NOTE_BYTES} bytes"));
    }
    let Some((body, sigs)) = text.split_once("\n\n") else { return bad("no blank line between body and signatures") };
    let body = format!("{body}\n");
    let lines: Vec<&str> = body.trim_end_matches('\n').split('\n').collect();
    let [origin, size, hash, history, state, time, round] = lines.as_slice() else {
        return bad(format!("the body has {} lines, 7 expected", lines.len()));
    };
    let Some(rest) = origin.strip_prefix("jialing/") else { return bad("origin does not start with jialing/") };
    let Some((chain_id, fingerprint)) = rest.rsplit_once('/') else { return bad("origin has no fingerprint") };
    let size: u64 = size.parse().or_else(|_| bad("size is not a number"))?;
    if size == 0 {
        return bad("size 0");
    }
    let ext = |line: &str, key: &str| line.strip_prefix(key).map(str::to_string).ok_or(());
    let history = ext(history, "history ").or_else(|_| bad("no history line"))?;
    let state = ext(state, "state ").or_else(|_| bad("no state line"))?;
    let time = ext(time, "time ").or_else(|_| bad("no time line"))?;
    let round = ext(round, "round ").or_else(|_| bad("no round line"))?;
    let checkpoint = Checkpoint {
        chain_id: chain_id.to_string(),
        fingerprint: fingerprint.to_string(),
        height: size - 1,
        block_hash: hash_b64(hash, "block hash")?,
        history_root: hash_b64(&history, "history root")?,
        state_root: hash_b64(&state, "state root")?,
        time_ms: time.parse().or_else(|_| bad("time is not a number"))?,
        round: round.parse().or_else(|_| bad("round is not a number"))?,
    };
    if checkpoint.body() != body {
        return bad("the body is not in canonical form");
    }
    let mut signatures = Vec::new();
    for line in sigs.split_terminator('\n') {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return bad("a signature line does not start with an em dash");
        };
        let Some((name, blob)) = rest.split_once(' ') else { return bad("a signature line has no signature") };
        let blob = B64.decode(blob).or_else(|_| bad("a signature is not base64"))?;
        if blob.len() != 68 {
            return bad(format!("a signature of {} bytes, 68 expected", blob.len()));
        }
        let mut id = [0u8; 4];
        id.copy_from_slice(&blob[..4]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&blob[4..]);
        signatures.push((name.to_string(), id, Signature(sig)));
    }
    Ok(SignedCheckpoint { checkpoint, body, signatures })
}

impl SignedCheckpoint {
    /// Checks the signatures against `set` (the validator set that signs the block at
    /// this height); returns the power that signed, which must be a quorum.
    pub fn verify(&self, set: &ValidatorSet) -> Result<u64, CoreError> {
        let c = &self.checkpoint;
        let mut power = 0u64;
        let mut seen = std::collections::BTreeSet::new();
        for (name, id, sig) in &self.signatures {
            let Some(v) = set.validators.iter().find(|v| key_name(&c.chain_id, &v.public_key) == *name) else {
                continue;
            };
            if key_id(name, &v.public_key) != *id || !seen.insert(v.public_key) {
                continue;
            }
            let vote = Vote {
                kind: VoteKind::Precommit,
                height: c.height,
                round: c.round,
                block_hash: Some(c.block_hash),
                validator: v.public_key,
            };
            if v.public_key.verify(&c.chain_id, crate::Purpose::Vote, &vote.digest(), sig).is_ok() {
                power = power.saturating_add(v.power);
            }
        }
        if !set.is_quorum(power) {
            return bad(format!("valid signatures hold {power} of {} voting power", set.total_power()));
        }
        Ok(power)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::block::Validator;
    use crate::crypto::Keypair;

    fn setup() -> (Vec<Keypair>, ValidatorSet, BlockHeader) {
        let ks: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("cp/{i}"))).collect();
        let set =
            ValidatorSet::new(ks.iter().map(|k| Validator { public_key: k.public(), power: 1 }).collect()).unwrap();
        let header = BlockHeader {
            chain_id: "chain-1".into(),
            height: 20,
            time_ms: 1_700_000_000_000,
            parent_hash: Hash([1; 32]),
            history_root: Hash([3; 32]),
            proposer: ks[0].public(),
            tx_root: crate::merkle::empty_root(),
            tx_count: 0,
            state_root: Hash([2; 32]),
            receipts_root: crate::merkle::empty_root(),
            validator_set_hash: set.hash(),
        };
        (ks, set, header)
    }

    #[test]
    fn note_round_trips_and_verifies() {
        let (ks, set, header) = setup();
        let cert = CommitCertificate::sign("chain-1", 20, 1, header.hash(), &[&ks[0], &ks[1], &ks[2]]);
        let cp = Checkpoint::of(&header, &cert, "00112233445566778899aabb");
        let note = cp.note(&cert);
        assert!(note.starts_with("jialing/chain-1/00112233445566778899aabb\n21\n"), "{note}");
        let p = parse(&note).unwrap();
        assert_eq!(p.checkpoint, cp);
        assert_eq!(p.signatures.len(), 3);
        assert_eq!(p.verify(&set).unwrap(), 3);
    }

    #[test]
    fn forged_or_short_notes_fail() {
        let (ks, set, header) = setup();
        let cert = CommitCertificate::sign("chain-1", 20, 0, header.hash(), &[&ks[0], &ks[1], &ks[2]]);
        let note = Checkpoint::of(&header, &cert, "00112233445566778899aabb").note(&cert);
        // Another block hash under the same signatures.
        let forged = note.replacen(&B64.encode(header.hash().0), &B64.encode([9u8; 32]), 1);
        assert!(parse(&forged).unwrap().verify(&set).is_err());
        // Two signatures are not a quorum of four.
        let cut: String = note.lines().take(9).map(|l| format!("{l}\n")).collect();
        assert!(parse(&cut).unwrap().verify(&set).is_err());
        // Malformed notes.
        assert!(parse("jialing/x/y\n1\n").is_err());
        assert!(parse(&note.replace("time ", "tim ")).is_err());
        assert!(parse(&note.replace("history ", "histor ")).is_err());
        // Another history root under the same signatures: the body differs, the
        // checkpoint is not the one of the certified header.
        let rewritten = note.replacen(&B64.encode([3u8; 32]), &B64.encode([4u8; 32]), 1);
        let p = parse(&rewritten).unwrap();
        assert_ne!(p.checkpoint, Checkpoint::of(&header, &cert, "00112233445566778899aabb"));
        assert_ne!(p.body, parse(&note).unwrap().body);
        assert!(parse(&note.replace("\n21\n", "\n021\n")).is_err());
    }
}

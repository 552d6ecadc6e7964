//! Compact proposals: a proposed block travels as its header and, for each
//! transaction, its hash and its `tx_root` leaf (the entry hash, which covers the
//! signature), or its body when the proposer knows a peer may lack it (its own push
//! of it is not acknowledged by every peer yet). Validators rebuild the block from
//! their mempools, where transaction dissemination ([`super::gossip`]) has put nearly
//! every transaction already, and fetch only the ones they still lack from the
//! proposer.
//!
//! Why the entry hash and not the transaction hash alone: a signer can make two valid
//! signatures over one body. A validator holding the other signature would rebuild a
//! block whose `tx_root` differs from the header's and vote nil on an honest proposal;
//! with the entry hash it sees that its copy is not the one proposed and fetches it.
//!
//! Pure: no IO; the host does the fetching.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Block, BlockHeader, Hash, SignedTransaction, TxHash};

/// What a proposal stream carries.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalBody {
    /// The whole block.
    Full(Block),
    /// The header and, per transaction in block order, a reference or the body.
    Compact {
        /// The block header.
        header: BlockHeader,
        /// One per transaction.
        entries: Vec<Entry>,
    },
}

/// One transaction of a compact proposal.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Entry {
    /// Its hash and entry hash: the validator takes it from its pool.
    Ref(TxHash, Hash),
    /// Its body: peers may not hold it yet.
    Inline(SignedTransaction),
}

impl ProposalBody {
    /// The compact form of `block`: references only.
    pub fn compact(block: &Block) -> Self {
        Self::compact_with(block, |_| false)
    }

    /// The compact form of `block`, with the bodies of the transactions `inline` names
    /// (those peers may lack).
    pub fn compact_with(block: &Block, mut inline: impl FnMut(&TxHash) -> bool) -> Self {
        let entries = block
            .txs
            .iter()
            .map(|t| {
                let h = t.hash();
                if inline(&h) { Entry::Inline(t.clone()) } else { Entry::Ref(h, t.entry_hash(&h)) }
            })
            .collect();
        ProposalBody::Compact { header: block.header.clone(), entries }
    }

    /// The header of the proposed block.
    pub fn header(&self) -> &BlockHeader {
        match self {
            ProposalBody::Full(b) => &b.header,
            ProposalBody::Compact { header, .. } => header,
        }
    }
}

/// The encoding of `ProposalBody::Full(block)` without cloning the block.
pub fn full_bytes(block: &Block) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&jialing_core::encoding::encode(block));
    out
}

/// A compact proposal being rebuilt: the transactions found so far, by position.
pub struct Rebuild {
    header: BlockHeader,
    /// The references, by position (`None` for inline bodies).
    refs: Vec<Option<(TxHash, Hash)>>,
    txs: Vec<Option<SignedTransaction>>,
}

/// Why a rebuild failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    /// A fetched transaction is not the one the proposal names.
    #[error("fetched transaction {index} is not the one the proposal names ({reason})")]
    Mismatch {
        /// Its position.
        index: u32,
        /// What differs.
        reason: String,
    },
    /// The answer does not have one transaction per position asked.
    #[error("asked for {asked} transactions, got {got}")]
    Count {
        /// Asked.
        asked: usize,
        /// Received.
        got: usize,
    },
}

impl Rebuild {
    /// Starts from the compact form, looking each transaction up with `find` (the
    /// mempool): a transaction is taken only if its entry hash matches.
    pub fn new(
        header: BlockHeader,
        entries: Vec<Entry>,
        mut find: impl FnMut(&TxHash) -> Option<SignedTransaction>,
    ) -> Self {
        let mut refs = Vec::with_capacity(entries.len());
        let mut txs = Vec::with_capacity(entries.len());
        for e in entries {
            match e {
                Entry::Ref(h, entry) => {
                    txs.push(find(&h).filter(|t| t.entry_hash(&h) == entry));
                    refs.push(Some((h, entry)));
                }
                Entry::Inline(t) => {
                    txs.push(Some(t));
                    refs.push(None);
                }
            }
        }
        Rebuild { header, refs, txs }
    }

    /// Positions still missing, ascending.
    pub fn missing(&self) -> Vec<u32> {
        self.txs.iter().enumerate().filter(|(_, t)| t.is_none()).map(|(i, _)| i as u32).collect()
    }

    /// Fills `indexes` from fetched encoded transactions, checking each against the
    /// entry the proposal names.
    pub fn fill(&mut self, indexes: &[u32], fetched: Vec<Vec<u8>>) -> Result<(), RebuildError> {
        if fetched.len() != indexes.len() {
            return Err(RebuildError::Count { asked: indexes.len(), got: fetched.len() });
        }
        for (&i, bytes) in indexes.iter().zip(fetched) {
            let Some(Some((h, e))) = self.refs.get(i as usize) else {
                return Err(RebuildError::Mismatch { index: i, reason: "no such reference".into() });
            };
            let (stx, got) = SignedTransaction::decode(&bytes)
                .map_err(|err| RebuildError::Mismatch { index: i, reason: err.to_string() })?;
            if got != *h || stx.entry_hash(&got) != *e {
                return Err(RebuildError::Mismatch { index: i, reason: format!("hash {got}") });
            }
            self.txs[i as usize] = Some(stx);
        }
        Ok(())
    }

    /// The block, once nothing is missing.
    pub fn finish(self) -> Option<Block> {
        let txs: Option<Vec<SignedTransaction>> = self.txs.into_iter().collect();
        Some(Block { header: self.header, txs: txs? })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jialing_core::{Keypair, Transaction, encoding};

    fn tx(k: &Keypair, nonce: u64) -> SignedTransaction {
        Transaction {
            chain_id: "c".into(),
            signer: k.public(),
            nonce,
            contract: "trace".into(),
            method: "m".into(),
            payload: vec![nonce as u8; 200],
        }
        .sign(k)
    }

    fn block(txs: Vec<SignedTransaction>) -> Block {
        let header = BlockHeader {
            chain_id: "c".into(),
            height: 3,
            time_ms: 0,
            parent_hash: Hash::ZERO,
            history_root: Hash::ZERO,
            proposer: Keypair::from_label("p").public(),
            tx_root: Hash::ZERO,
            tx_count: txs.len() as u32,
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validator_set_hash: Hash::ZERO,
        };
        Block { header, txs }
    }

    #[test]
    fn full_bytes_is_the_encoding_of_full() {
        let k = Keypair::from_label("a");
        let b = block(vec![tx(&k, 0)]);
        assert_eq!(full_bytes(&b), encoding::encode(&ProposalBody::Full(b.clone())));
    }

    #[test]
    fn compact_rebuilds_from_the_pool_and_fetches_the_rest() {
        let k = Keypair::from_label("a");
        let txs: Vec<_> = (0..10).map(|n| tx(&k, n)).collect();
        let b = block(txs.clone());
        let ProposalBody::Compact { header, entries } = ProposalBody::compact(&b) else { panic!() };
        // The compact form is far smaller than the block.
        assert!(encoding::encode(&entries).len() * 3 < encoding::encode(&b.txs).len());
        assert!(entries.iter().all(|e| matches!(e, Entry::Ref(..))));
        let pool: std::collections::BTreeMap<TxHash, SignedTransaction> =
            txs.iter().take(7).map(|t| (t.hash(), t.clone())).collect();
        let mut r = Rebuild::new(header, entries, |h| pool.get(h).cloned());
        assert_eq!(r.missing(), vec![7, 8, 9]);
        let fetched = txs[7..].iter().map(|t| t.to_bytes()).collect();
        r.fill(&[7, 8, 9], fetched).unwrap();
        assert_eq!(r.finish().unwrap(), b);
    }

    /// Bodies the proposer marks as possibly missing travel inline and need no fetch.
    #[test]
    fn inline_bodies_need_no_fetch() {
        let k = Keypair::from_label("a");
        let txs: Vec<_> = (0..6).map(|n| tx(&k, n)).collect();
        let b = block(txs.clone());
        let inline: Vec<TxHash> = txs[4..].iter().map(|t| t.hash()).collect();
        let ProposalBody::Compact { header, entries } = ProposalBody::compact_with(&b, |h| inline.contains(h)) else {
            panic!()
        };
        let pool: std::collections::BTreeMap<TxHash, SignedTransaction> =
            txs.iter().take(4).map(|t| (t.hash(), t.clone())).collect();
        let r = Rebuild::new(header, entries, |h| pool.get(h).cloned());
        assert!(r.missing().is_empty());
        assert_eq!(r.finish().unwrap(), b);
    }

    /// Attack: a signer makes a second valid signature over the same body. A validator
    /// holding that copy must not rebuild a block whose tx_root differs from the
    /// proposer's; it fetches the proposed copy instead.
    #[test]
    fn another_signature_over_the_same_body_is_not_taken() {
        let k = Keypair::from_label("a");
        let t = tx(&k, 0);
        let mut other = t.clone();
        // A different (here: bogus) signature over the same body: same tx hash, other entry.
        other.signature.0[0] ^= 1;
        assert_eq!(other.hash(), t.hash());
        let b = block(vec![t.clone()]);
        let ProposalBody::Compact { header, entries } = ProposalBody::compact(&b) else { panic!() };
        let mut r = Rebuild::new(header, entries, |_| Some(other.clone()));
        assert_eq!(r.missing(), vec![0]);
        // A peer answering with that other copy is caught too.
        assert!(matches!(r.fill(&[0], vec![other.to_bytes()]), Err(RebuildError::Mismatch { index: 0, .. })));
        assert!(matches!(r.fill(&[0], vec![]), Err(RebuildError::Count { asked: 1, got: 0 })));
        r.fill(&[0], vec![t.to_bytes()]).unwrap();
        assert_eq!(r.finish().unwrap(), b);
    }
}

//! Durable storage of the ledger.
//!
//! One narrow interface ([`Store`]) over fjall, an LSM key-value store. Each committed
//! block is written in ONE atomic batch across all keyspaces (header, certificate,
//! transactions, receipts, state writes, indexes and the tip pointer) and fsynced
//! (`PersistMode::SyncAll`) before the block is reported committed. After a crash,
//! reopening yields exactly the last committed block: either the whole batch is in the
//! journal or none of it is.
//!
//! Keyspaces: `headers` and `certs` (height, big-endian), `block_txs` (height → tx
//! hashes in order), `entries` (height ‖ index → the transaction's raw bytes and its
//! receipt, so a block's body is one range read: what sync serves), `txs` (hash →
//! height ‖ index), `state` (contract state), `index` (tag ‖ height → the positions in
//! that block of the transactions carrying the tag: one entry per tag and block, so a
//! block of a thousand lots of one product and organisation writes those two tags once),
//! `history` (level ‖ index → hash of a perfect subtree of the history tree, see
//! [`jialing_core::history`]), `meta` (tip and layout version).
//!
//! The layout has a version ([`LAYOUT`]); a data directory written with another one is
//! refused on open with what to do, never misread.
//!
//! The history accumulator lives in the store: each commit reads the `O(log n)`
//! perfect-subtree roots of the tree so far, checks the header's `history_root`
//! against them, and writes the nodes the block's hash completes in the same batch as
//! the block, so a restart (or a kill -9) finds the accumulator exactly at the tip.
//! Inclusion and consistency proofs between any sizes are built from `O(log n)` of
//! those nodes.

mod layout;

use std::path::Path;

use borsh::{BorshDeserialize, BorshSerialize};
use fjall::config::CompressionPolicy;
use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use jialing_contracts::{IndexTag, Receipt, StateView};
use jialing_core::history::{self, Frontier, NodeId};
use jialing_core::merkle::{ConsistencyProof, InclusionProof};
use jialing_core::{Block, BlockHeader, CommitCertificate, CoreError, Hash, SignedTransaction, TxHash, encoding};

pub use layout::{index_key, index_prefix};

/// Storage failures. Any of them stops block production: the node never reports a
/// block committed that is not durably stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed (IO, corruption, poisoned journal).
    #[error("storage engine: {0}")]
    Engine(#[from] fjall::Error),
    /// A stored value did not decode.
    #[error("corrupt store at {what}: {reason}")]
    Corrupt {
        /// What was being read.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// A header whose `history_root` is not the stored history's head.
    #[error("cannot commit height {height}: its history root {header} is not the stored history's {stored}")]
    HistoryMismatch {
        /// Height of the block.
        height: u64,
        /// In the header.
        header: Hash,
        /// The head of the stored history tree of size `height`.
        stored: Hash,
    },
    /// A history proof could not be built (sizes out of range).
    #[error("history proof: {0}")]
    History(#[from] CoreError),
    /// The data directory was written with another store layout.
    #[error(
        "the data directory was written by another version of Jialing (store layout {found}, this version reads {expected}); start a new data directory (e.g. `jialing-node devnet --reset`) and let the node sync, or run the version that wrote it"
    )]
    Layout {
        /// The layout found (`none` when the store predates layout versions).
        found: String,
        /// The layout this version reads and writes.
        expected: u32,
    },
    /// A commit out of order.
    #[error("cannot commit height {got}: the next height is {expected}")]
    OutOfOrder {
        /// Expected height.
        expected: u64,
        /// Height given.
        got: u64,
    },
}

/// Where a transaction is in the chain.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxRecord {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// The signed transaction's canonical bytes.
    pub bytes: Vec<u8>,
}

/// Everything written when a block commits.
pub struct CommitBatch<'a> {
    /// The header.
    pub header: &'a BlockHeader,
    /// The certificate (none for the genesis block).
    pub certificate: Option<&'a CommitCertificate>,
    /// The transactions with their hashes and raw bytes, in block order.
    pub txs: &'a [(TxHash, &'a [u8])],
    /// The receipts, in block order.
    pub receipts: &'a [Receipt],
    /// State writes.
    pub writes: &'a std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

/// The ledger store.
#[derive(Clone)]
pub struct Store {
    db: Database,
    headers: Keyspace,
    certs: Keyspace,
    block_txs: Keyspace,
    entries: Keyspace,
    txs: Keyspace,
    state: Keyspace,
    index: Keyspace,
    history: Keyspace,
    meta: Keyspace,
}

const TIP: &[u8] = b"tip";
const LAYOUT_KEY: &[u8] = b"layout";
/// The store layout this version reads and writes (2: transactions and receipts by
/// position in `entries`, `txs` maps hashes to positions).
pub const LAYOUT: u32 = 2;

fn corrupt(what: impl Into<String>, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what: what.into(), reason: e.to_string() }
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = Database::builder(dir).open()?;
        // LZ4 on every level (fjall's default leaves levels 0 and 1 raw): transactions,
        // receipts and state records repeat chain ids, contract names and field names.
        let ks = |name: &str| {
            db.keyspace(name, || {
                KeyspaceCreateOptions::default()
                    .data_block_compression_policy(CompressionPolicy::all(CompressionType::Lz4))
            })
        };
        let store = Store {
            headers: ks("headers")?,
            certs: ks("certs")?,
            block_txs: ks("block_txs")?,
            entries: ks("entries")?,
            txs: ks("txs")?,
            state: ks("state")?,
            index: ks("index")?,
            history: ks("history")?,
            meta: ks("meta")?,
            db,
        };
        if store.tip()?.is_some() {
            let found = store.meta.get(LAYOUT_KEY)?;
            let found = found.as_deref().and_then(|v| <[u8; 4]>::try_from(v).ok()).map(u32::from_be_bytes);
            if found != Some(LAYOUT) {
                return Err(StoreError::Layout {
                    found: found.map_or_else(|| "none".to_string(), |v| v.to_string()),
                    expected: LAYOUT,
                });
            }
        }
        Ok(store)
    }

    /// Writes every keyspace's in-memory table out to its sorted tables, so the journal
    /// holds nothing that is not also there and can be dropped: on a graceful stop, a
    /// restart then replays no journal and the data directory holds each record once.
    /// (Committed blocks are durable without it: the journal is fsynced per block.)
    pub fn flush_tables(&self) -> Result<(), StoreError> {
        for ks in [
            &self.headers,
            &self.certs,
            &self.block_txs,
            &self.entries,
            &self.txs,
            &self.state,
            &self.index,
            &self.history,
            &self.meta,
        ] {
            ks.rotate_memtable_and_wait()?;
        }
        Ok(())
    }

    /// The height of the last committed block, or `None` for an empty store.
    pub fn tip(&self) -> Result<Option<u64>, StoreError> {
        match self.meta.get(TIP)? {
            None => Ok(None),
            Some(v) => Ok(Some(layout::decode_height(&v).ok_or_else(|| corrupt("tip", "not 8 bytes"))?)),
        }
    }

    /// Commits a block atomically and durably (fsync) and returns once it is on disk.
    pub fn commit(&self, b: &CommitBatch<'_>) -> Result<(), StoreError> {
        let h = b.header.height;
        let expected = self.tip()?.map_or(0, |t| t + 1);
        if h != expected {
            return Err(StoreError::OutOfOrder { expected, got: h });
        }
        let mut frontier = self.history_frontier(h)?;
        if frontier.root() != b.header.history_root {
            return Err(StoreError::HistoryMismatch {
                height: h,
                header: b.header.history_root,
                stored: frontier.root(),
            });
        }
        let hk = layout::height_key(h);
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        batch.insert(&self.headers, hk, encoding::encode(b.header));
        if let Some(c) = b.certificate {
            batch.insert(&self.certs, hk, encoding::encode(c));
        }
        let hashes: Vec<TxHash> = b.txs.iter().map(|(h, _)| *h).collect();
        batch.insert(&self.block_txs, hk, encoding::encode(&hashes));
        if h == 0 {
            batch.insert(&self.meta, LAYOUT_KEY, LAYOUT.to_be_bytes());
        }
        // Tag → positions in this block, ascending (the hash is read from the block's list).
        let mut tagged: std::collections::BTreeMap<&IndexTag, Vec<u8>> = std::collections::BTreeMap::new();
        for (i, ((_, bytes), receipt)) in b.txs.iter().zip(b.receipts).enumerate() {
            batch.insert(&self.entries, layout::position_key(h, i as u32), layout::entry_value(bytes, receipt));
            for tag in &receipt.tags {
                tagged.entry(tag).or_default().extend_from_slice(&(i as u32).to_be_bytes());
            }
        }
        // Hash → position in hash order: the in-memory table is a skip list, and keys
        // inserted in order share most of their search path with the one before (in
        // block order every insert walks a fresh random path, a cache miss per level;
        // it was 9% of a validator's time under load).
        let mut by_hash: Vec<(&TxHash, u32)> =
            b.txs.iter().enumerate().map(|(i, (hash, _))| (hash, i as u32)).collect();
        by_hash.sort_unstable();
        for (hash, i) in by_hash {
            batch.insert(&self.txs, hash.0, layout::position_key(h, i));
        }
        for (tag, positions) in tagged {
            batch.insert(&self.index, index_key(tag, h), positions);
        }
        for (k, v) in b.writes {
            match v {
                Some(v) => batch.insert(&self.state, k.as_slice(), v.as_slice()),
                None => batch.remove(&self.state, k.as_slice()),
            }
        }
        for (id, node) in frontier.append(&b.header.hash()) {
            batch.insert(&self.history, layout::node_key(id), node.0);
        }
        batch.insert(&self.meta, TIP, hk);
        batch.commit()?;
        Ok(())
    }

    fn get_decoded<T: BorshDeserialize>(&self, ks: &Keyspace, key: &[u8], what: &str) -> Result<Option<T>, StoreError> {
        match ks.get(key)? {
            None => Ok(None),
            Some(v) => encoding::decode("stored value", &v).map(Some).map_err(|e| corrupt(what, e)),
        }
    }

    /// The header at `height`.
    pub fn header(&self, height: u64) -> Result<Option<BlockHeader>, StoreError> {
        self.get_decoded(&self.headers, &layout::height_key(height), "header")
    }

    /// The commit certificate at `height`.
    pub fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, StoreError> {
        self.get_decoded(&self.certs, &layout::height_key(height), "certificate")
    }

    /// The stored root of a perfect subtree of the history tree (an error if the store
    /// lacks it: every committed block's nodes are written with the block).
    pub fn history_node(&self, id: NodeId) -> Result<Hash, StoreError> {
        let v = self.history.get(layout::node_key(id))?.ok_or_else(|| {
            corrupt(
                "history",
                format!(
                    "no node for leaves {}..{} (a store written before headers carried history roots? \
                     start a new data directory)",
                    id.first_leaf(),
                    id.first_leaf() + (1u64 << id.level)
                ),
            )
        })?;
        Ok(Hash(v.as_ref().try_into().map_err(|_| corrupt("history node", "not 32 bytes"))?))
    }

    /// The history accumulator over blocks `0..size` (`O(log size)` reads).
    pub fn history_frontier(&self, size: u64) -> Result<Frontier, StoreError> {
        Frontier::from_nodes(size, |id| self.history_node(id))
    }

    /// The inclusion proof of block `height`'s hash in the history tree of `size`
    /// blocks (`height < size <= tip + 1`), from `O(log size)` stored nodes.
    pub fn history_inclusion(&self, height: u64, size: u64) -> Result<InclusionProof, StoreError> {
        history::inclusion_proof(height, size, |id| self.history_node(id))
    }

    /// The consistency proof between the history trees of `old` and `new` blocks
    /// (`0 < old <= new <= tip + 1`), from `O(log new)` stored nodes.
    pub fn history_consistency(&self, old: u64, new: u64) -> Result<ConsistencyProof, StoreError> {
        history::consistency_proof(old, new, |id| self.history_node(id))
    }

    /// The transaction hashes of the block at `height`, in order.
    pub fn block_tx_hashes(&self, height: u64) -> Result<Option<Vec<TxHash>>, StoreError> {
        self.get_decoded(&self.block_txs, &layout::height_key(height), "block tx list")
    }

    /// The `tx_root` leaves of the block at `height` (entry hashes: each transaction's
    /// hash and signature), from the stored bytes without decoding them, with each
    /// transaction's signature; for inclusion proofs.
    pub fn block_entries(&self, height: u64) -> Result<Option<Vec<(TxHash, jialing_core::Signature)>>, StoreError> {
        let Some(hashes) = self.block_tx_hashes(height)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(hashes.len());
        self.each_entry(height, |bytes, _| {
            let h = *hashes.get(out.len()).ok_or_else(|| {
                corrupt("block entries", format!("block {height} holds more transactions than it lists"))
            })?;
            // Stored bytes are `borsh(tx) || signature`.
            let sig = bytes
                .len()
                .checked_sub(64)
                .and_then(|at| <[u8; 64]>::try_from(&bytes[at..]).ok())
                .ok_or_else(|| corrupt("tx bytes", format!("transaction {h} is shorter than a signature")))?;
            out.push((h, jialing_core::Signature(sig)));
            Ok(())
        })?;
        if out.len() != hashes.len() {
            return Err(corrupt(
                "block entries",
                format!("block {height} lists {} transactions, holds {}", hashes.len(), out.len()),
            ));
        }
        Ok(Some(out))
    }

    /// The raw bytes of every transaction of the block at `height`, in order (one
    /// range read).
    fn block_tx_bytes(&self, height: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        self.each_entry(height, |tx, _| {
            out.push(tx.to_vec());
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` with the transaction bytes and the receipt bytes of each entry of the
    /// block at `height`, in order (one range read).
    fn each_entry(
        &self,
        height: u64,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for kv in self.entries.prefix(layout::height_key(height)) {
            let v = kv.value()?;
            let (tx, receipt) =
                layout::split_entry(&v).ok_or_else(|| corrupt("entry", format!("malformed in block {height}")))?;
            f(tx, receipt)?;
        }
        Ok(())
    }

    /// The block at `height` (header and transactions), for sync and audit.
    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let Some(header) = self.header(height)? else {
            return Ok(None);
        };
        let bodies = self.block_tx_bytes(height)?;
        let mut txs = Vec::with_capacity(bodies.len());
        for bytes in bodies {
            let (stx, _) = SignedTransaction::decode(&bytes).map_err(|e| corrupt("tx bytes", e))?;
            txs.push(stx);
        }
        Ok(Some(Block { header, txs }))
    }

    /// The canonical encoding of the block at `height` (`borsh(Block)`), built from the
    /// stored bytes of its header and transactions (one range read, nothing decoded or
    /// re-encoded): what sync serves to peers, who check it against its certificate.
    pub fn block_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(header) = self.headers.get(layout::height_key(height))? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(header.len() + 4);
        out.extend_from_slice(&header);
        out.extend_from_slice(&[0; 4]);
        let mut count: u32 = 0;
        self.each_entry(height, |tx, _| {
            out.extend_from_slice(tx);
            count = count.checked_add(1).ok_or_else(|| corrupt("block", "too many transactions"))?;
            Ok(())
        })?;
        out[header.len()..header.len() + 4].copy_from_slice(&count.to_le_bytes());
        Ok(Some(out))
    }

    /// A committed transaction's record.
    pub fn tx(&self, hash: &TxHash) -> Result<Option<TxRecord>, StoreError> {
        let Some(pos) = self.txs.get(hash.0)? else {
            return Ok(None);
        };
        let (height, index) = layout::decode_position(&pos).ok_or_else(|| corrupt("tx position", "not 12 bytes"))?;
        let v = self
            .entries
            .get(pos)?
            .ok_or_else(|| corrupt("tx position", format!("transaction {hash} points at an empty place")))?;
        let (tx, _) =
            layout::split_entry(&v).ok_or_else(|| corrupt("entry", format!("malformed at {height}/{index}")))?;
        Ok(Some(TxRecord { height, index, bytes: tx.to_vec() }))
    }

    /// A committed transaction, decoded.
    pub fn signed_tx(&self, hash: &TxHash) -> Result<Option<(TxRecord, SignedTransaction)>, StoreError> {
        match self.tx(hash)? {
            None => Ok(None),
            Some(rec) => {
                let (stx, _) = SignedTransaction::decode(&rec.bytes).map_err(|e| corrupt("tx bytes", e))?;
                Ok(Some((rec, stx)))
            }
        }
    }

    /// The receipt at a position.
    pub fn receipt(&self, height: u64, index: u32) -> Result<Option<Receipt>, StoreError> {
        let Some(v) = self.entries.get(layout::position_key(height, index))? else {
            return Ok(None);
        };
        let (_, r) =
            layout::split_entry(&v).ok_or_else(|| corrupt("entry", format!("malformed at {height}/{index}")))?;
        encoding::decode("receipt", r).map(Some).map_err(|e| corrupt("receipt", e))
    }

    /// All receipts of a block.
    pub fn receipts(&self, height: u64) -> Result<Vec<Receipt>, StoreError> {
        self.raw_receipts(height)?
            .iter()
            .map(|r| encoding::decode("receipt", r).map_err(|e| corrupt("receipt", e)))
            .collect()
    }

    /// The canonical bytes of every receipt of a block, in order, as stored (receipt
    /// proofs hash them as they are; nothing is decoded).
    pub fn raw_receipts(&self, height: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        self.each_entry(height, |_, receipt| {
            out.push(receipt.to_vec());
            Ok(())
        })?;
        Ok(out)
    }

    /// Transactions that touched `tag`, oldest first: `(height, index, hash)`, starting
    /// at `from_height`, at most `limit`.
    pub fn history(
        &self,
        tag: &IndexTag,
        from_height: u64,
        limit: usize,
    ) -> Result<Vec<(u64, u32, TxHash)>, StoreError> {
        self.history_from(tag, (from_height, 0), limit)
    }

    /// Transactions that touched `tag`, oldest first, starting at the position `from`
    /// (height, index in the block), at most `limit`: a reader pages through a block
    /// with more entries than one page without repeating or skipping any.
    pub fn history_from(
        &self,
        tag: &IndexTag,
        from: (u64, u32),
        limit: usize,
    ) -> Result<Vec<(u64, u32, TxHash)>, StoreError> {
        let prefix = index_prefix(tag);
        let start = [prefix.as_slice(), &layout::height_key(from.0)].concat();
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xff; 8]);
        let mut out = Vec::new();
        for kv in self.index.range(start..=end) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv.into_inner()?;
            let height = layout::decode_height(&k[prefix.len()..]).ok_or_else(|| corrupt("index key", "bad height"))?;
            if v.len() % 4 != 0 {
                return Err(corrupt("index value", "not a list of 4-byte positions"));
            }
            let hashes = self.block_tx_hashes(height)?.ok_or_else(|| corrupt("index", "no block list"))?;
            for p in v.chunks_exact(4) {
                let index = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
                if height == from.0 && index < from.1 {
                    continue;
                }
                if out.len() >= limit {
                    break;
                }
                let hash = *hashes.get(index as usize).ok_or_else(|| corrupt("index", "position past the block"))?;
                out.push((height, index, hash));
            }
        }
        Ok(out)
    }

    /// Whether a member record exists for `key`.
    pub fn get_member_exists(&self, key: &jialing_core::PublicKey) -> Result<bool, StoreError> {
        Ok(self.state.get(jialing_contracts::keys::member(key))?.is_some())
    }

    /// Committed state entries whose key starts with `prefix`, in key order, at most
    /// `limit` (for public listings such as the data market).
    pub fn state_scan(&self, prefix: &[u8], limit: usize) -> Result<Vec<StateEntry>, StoreError> {
        let mut out = Vec::new();
        for kv in self.state.prefix(prefix) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv.into_inner()?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Every state entry (used once at startup to rebuild the state tree).
    pub fn state_entries(&self) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + '_ {
        self.state.iter().map(|kv| {
            let (k, v) = kv.into_inner()?;
            Ok((k.to_vec(), v.to_vec()))
        })
    }
}

/// A state entry: key and value bytes.
pub type StateEntry = (Vec<u8>, Vec<u8>);

impl StateView for Store {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        self.state.get(key).map(|v| v.map(|v| v.to_vec())).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests;

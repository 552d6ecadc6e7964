//! Block execution: the pure function from (committed state, block context,
//! transactions) to (writes, receipts, roots).
//!
//! A proposer feeds candidate transactions to [`BlockExecutor::execute`] and leaves out
//! those it refuses with an [`AdmissionError`]; a validator executes a proposed block the
//! same way and rejects the block if any transaction is refused admission. Signatures
//! are checked before execution (by the node's mempool, in batches, or by the auditor's
//! replay): the executor trusts that `signer` signed.

use std::collections::{BTreeMap, BTreeSet};

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::state_tree::StateTree;
use jialing_core::{Hash, PublicKey, Role, SignedTransaction, TxHash, Uscc, encoding, merkle};

use crate::error::{AdmissionError, ContractError};
use crate::keys;
use crate::membership::{Member, Organisation};
use crate::params::Params;
use crate::receipt::{IndexTag, Receipt, TagKind, TxStatus};
use crate::registry;
use crate::state::{RememberedReads, StateRead, StateView};

/// Facts about the block being executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockContext {
    /// The chain id.
    pub chain_id: String,
    /// The block height.
    pub height: u64,
    /// The block time (ms since the Unix epoch), agreed by consensus.
    pub time_ms: u64,
}

/// Everything a finished block produced.
#[derive(Clone, Debug)]
pub struct BlockOutcome {
    /// State writes (`None` deletes), sorted by key.
    pub writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// Merkle root over the receipt hashes.
    pub receipts_root: Hash,
    /// The state tree after the block.
    pub tree: StateTree,
    /// Its root.
    pub state_root: Hash,
}

/// Executes the transactions of one block on top of committed state.
pub struct BlockExecutor<'a> {
    /// Committed state, with what this block has read of it remembered.
    base: RememberedReads<'a>,
    ctx: BlockContext,
    params: Params,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    receipts: Vec<Receipt>,
    seen: BTreeSet<TxHash>,
    /// Members admitted so far in this block. Block time is fixed, so an entry stays
    /// valid until a transaction writes a `member/` or `org/` key, which clears it.
    members: BTreeMap<PublicKey, Member>,
}

fn read(
    base: &dyn StateView,
    writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    key: &[u8],
) -> Result<Option<Vec<u8>>, String> {
    match writes.get(key) {
        Some(v) => Ok(v.clone()),
        None => base.get(key),
    }
}

fn decode_at<T: BorshDeserialize>(key: &[u8], bytes: &[u8]) -> Result<T, ContractError> {
    encoding::decode("state value", bytes)
        .map_err(|e| ContractError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() })
}

impl<'a> BlockExecutor<'a> {
    /// Starts a block on top of `base`.
    pub fn new(base: &'a dyn StateView, ctx: BlockContext) -> Result<Self, AdmissionError> {
        // Governance hook: apply the proposals due at this height (point reads of
        // `gov/due/{height}`) into the block's writes before anything else, so the
        // block's transactions see the state and parameters in force at block start.
        let mut writes = BTreeMap::new();
        crate::governance::begin_block(base, &mut writes, ctx.height)
            .map_err(|e| AdmissionError::Storage(e.to_string()))?;
        let params = match read(base, &writes, keys::PARAMS).map_err(AdmissionError::Storage)? {
            Some(bytes) => encoding::decode("params", &bytes).map_err(|e| AdmissionError::Storage(e.to_string()))?,
            None => Params::default(),
        };
        Ok(BlockExecutor {
            base: RememberedReads::new(base),
            ctx,
            params,
            writes,
            receipts: Vec::new(),
            seen: BTreeSet::new(),
            members: BTreeMap::new(),
        })
    }

    /// The parameters in force for this block (after governance changes due at its
    /// height).
    pub fn params(&self) -> &Params {
        &self.params
    }

    fn get_typed<T: BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>, AdmissionError> {
        match read(&self.base, &self.writes, key).map_err(AdmissionError::Storage)? {
            Some(bytes) => {
                encoding::decode("state value", &bytes).map(Some).map_err(|e| AdmissionError::Storage(e.to_string()))
            }
            None => Ok(None),
        }
    }

    /// The next nonce expected from `key` at this point of the block.
    pub fn next_nonce(&self, key: &PublicKey) -> Result<u64, AdmissionError> {
        Ok(self.get_typed::<u64>(&keys::nonce(key))?.unwrap_or(0))
    }

    /// Checks that the transaction may enter the block here: right chain, signer a
    /// currently certified member of an active organisation, nonce the next one.
    pub fn admit(&self, stx: &SignedTransaction, hash: &TxHash) -> Result<Member, AdmissionError> {
        let tx = &stx.tx;
        if tx.chain_id != self.ctx.chain_id {
            return Err(AdmissionError::WrongChain { expected: self.ctx.chain_id.clone(), got: tx.chain_id.clone() });
        }
        if self.seen.contains(hash) {
            return Err(AdmissionError::Duplicate(hash.to_hex()));
        }
        let member = match self.members.get(&tx.signer) {
            Some(m) => m.clone(),
            None => check_member(self, &tx.signer, self.ctx.time_ms)?,
        };
        let expected = self.next_nonce(&tx.signer)?;
        if tx.nonce != expected {
            let hint =
                if tx.nonce < expected { " (already used: a replay)" } else { " (a gap: an earlier nonce is missing)" };
            return Err(AdmissionError::BadNonce { key: tx.signer, expected, got: tx.nonce, hint });
        }
        Ok(member)
    }

    /// Admits and executes one transaction. On `Err` nothing changed and the transaction
    /// must not be in the block; on `Ok` it is in the block with the returned receipt.
    pub fn execute(&mut self, stx: &SignedTransaction, hash: TxHash) -> Result<&Receipt, AdmissionError> {
        let member = self.admit(stx, &hash)?;
        let tx = &stx.tx;
        self.members.entry(tx.signer).or_insert_with(|| member.clone());
        let (result, tx_writes, mut tags) = {
            let mut t = Tx {
                ctx: &self.ctx,
                params: &self.params,
                base: &self.base,
                block_writes: &self.writes,
                writes: BTreeMap::new(),
                tags: Vec::new(),
                signer: tx.signer,
                member: &member,
                hash,
            };
            let result = registry::dispatch(&mut t, &tx.contract, &tx.method, &tx.payload);
            (result, t.writes, t.tags)
        };
        let status = match result {
            Ok(()) => {
                if tx_writes.keys().any(|k| k.starts_with(keys::MEMBER_PREFIX) || k.starts_with(keys::ORG_PREFIX)) {
                    self.members.clear();
                }
                self.writes.extend(tx_writes);
                TxStatus::Ok
            }
            Err(e) => {
                tags.clear();
                TxStatus::Refused { code: e.code(), message: e.to_string() }
            }
        };
        tags.push(IndexTag { kind: TagKind::Org, id: member.org.to_string() });
        tags.sort();
        tags.dedup();
        self.writes.insert(keys::nonce(&tx.signer), Some(encoding::encode(&(tx.nonce + 1))));
        self.seen.insert(hash);
        self.receipts.push(Receipt { tx_hash: hash, status, tags });
        Ok(&self.receipts[self.receipts.len() - 1])
    }

    /// Finishes the block: applies the writes to `tree` and computes the roots.
    pub fn finish(self, tree: &StateTree) -> BlockOutcome {
        let receipt_hashes: Vec<Hash> = self.receipts.iter().map(Receipt::hash).collect();
        let receipts_root = merkle::root_of_hashes(&receipt_hashes);
        let tree = tree.apply(&self.writes);
        BlockOutcome { state_root: tree.root(), tree, writes: self.writes, receipts: self.receipts, receipts_root }
    }
}

fn check_member(exec: &BlockExecutor<'_>, key: &PublicKey, now_ms: u64) -> Result<Member, AdmissionError> {
    check_signer(&|k: &[u8]| read(&exec.base, &exec.writes, k), key, now_ms)
}

/// Checks that `key` may sign at block time `now_ms`: certified, unexpired, unrevoked,
/// of an active organisation. `read` reads state (committed or overlaid). The node's
/// mempool uses this on entry; the executor on admission.
pub fn check_signer(read: &StateRead<'_>, key: &PublicKey, now_ms: u64) -> Result<Member, AdmissionError> {
    fn typed<T: BorshDeserialize>(read: &StateRead<'_>, k: &[u8]) -> Result<Option<T>, AdmissionError> {
        match read(k).map_err(AdmissionError::Storage)? {
            Some(b) => {
                encoding::decode("state value", &b).map(Some).map_err(|e| AdmissionError::Storage(e.to_string()))
            }
            None => Ok(None),
        }
    }
    let member: Member = typed(read, &keys::member(key))?.ok_or(AdmissionError::UnknownSigner(*key))?;
    if member.revoked {
        return Err(AdmissionError::Revoked(*key));
    }
    if now_ms >= member.expires_ms {
        return Err(AdmissionError::Expired { key: *key, expired_ms: member.expires_ms, now_ms });
    }
    let org: Option<Organisation> = typed(read, &keys::org(&member.org))?;
    if !org.is_some_and(|o| o.active) {
        return Err(AdmissionError::OrgInactive { key: *key, org: member.org.to_string() });
    }
    Ok(member)
}

/// A transaction's writes and tags at one point ([`Tx::savepoint`]).
pub(crate) struct Savepoint {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    tags: usize,
}

/// The execution context of one transaction: reads see committed state, then earlier
/// transactions of the block, then this transaction's own writes. Writes are kept
/// apart and land only if the method returns `Ok`.
pub struct Tx<'a> {
    ctx: &'a BlockContext,
    params: &'a Params,
    base: &'a dyn StateView,
    block_writes: &'a BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    tags: Vec<IndexTag>,
    signer: PublicKey,
    member: &'a Member,
    hash: TxHash,
}

impl<'a> Tx<'a> {
    /// Raw read through all overlays.
    pub fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ContractError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => read(self.base, self.block_writes, key).map_err(ContractError::Storage),
        }
    }

    /// Typed read.
    pub fn get<T: BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>, ContractError> {
        match self.get_raw(key)? {
            Some(bytes) => decode_at(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Typed read of an object that must exist.
    pub fn require<T: BorshDeserialize>(&self, what: &'static str, id: &str, key: &[u8]) -> Result<T, ContractError> {
        self.get(key)?.ok_or_else(|| ContractError::NotFound { what, id: id.to_string() })
    }

    /// Typed write.
    pub fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        self.writes.insert(key, Some(encoding::encode(value)));
    }

    /// Deletes a key.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Records that this transaction touched an object (for the store's indexes).
    pub fn tag(&mut self, kind: TagKind, id: impl Into<String>) {
        self.tags.push(IndexTag { kind, id: id.into() });
    }

    /// The signer's key.
    pub fn signer(&self) -> PublicKey {
        self.signer
    }

    /// The signer's member record.
    pub fn member(&self) -> &Member {
        self.member
    }

    /// The signer's organisation.
    pub fn org(&self) -> &Uscc {
        &self.member.org
    }

    /// Whether the signer holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.member.roles.contains(&role)
    }

    /// Block time, ms since the Unix epoch.
    pub fn time_ms(&self) -> u64 {
        self.ctx.time_ms
    }

    /// Block height.
    pub fn height(&self) -> u64 {
        self.ctx.height
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.ctx.chain_id
    }

    /// Marks this transaction's writes and tags so far, for [`Tx::restore`].
    pub(crate) fn savepoint(&self) -> Savepoint {
        Savepoint { writes: self.writes.clone(), tags: self.tags.len() }
    }

    /// Undoes every write and tag since `sp` (one event of a `proceed` capture refused).
    pub(crate) fn restore(&mut self, sp: Savepoint) {
        self.writes = sp.writes;
        self.tags.truncate(sp.tags);
    }

    /// This transaction's hash.
    pub fn tx_hash(&self) -> TxHash {
        self.hash
    }

    /// The parameters in force.
    pub fn params(&self) -> &Params {
        self.params
    }

    /// Checks a text field against the length limit (and that it is not empty when
    /// `required`).
    pub fn check_text(&self, field: &'static str, value: &str, required: bool) -> Result<(), ContractError> {
        if required && value.trim().is_empty() {
            return Err(ContractError::InvalidArgument { field, reason: "must not be empty".into() });
        }
        if value.len() > self.params.max_text_len as usize {
            return Err(ContractError::InvalidArgument {
                field,
                reason: format!("{} bytes, the limit is {}", value.len(), self.params.max_text_len),
            });
        }
        Ok(())
    }

    /// Checks a list's length against the limit.
    pub fn check_list(&self, field: &'static str, len: usize) -> Result<(), ContractError> {
        if len > self.params.max_list_len as usize {
            return Err(ContractError::InvalidArgument {
                field,
                reason: format!("{len} items, the limit is {}", self.params.max_list_len),
            });
        }
        Ok(())
    }
}

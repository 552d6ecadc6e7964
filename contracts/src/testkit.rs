//! A tiny in-memory ledger for rule tests, property tests and simulations: a sample
//! consortium with deterministic keys, and helpers that execute transactions in blocks
//! exactly as a node would (admission, execution, writes, state root). Test support:
//! its helpers panic on misuse.
#![allow(clippy::panic)]

use std::collections::BTreeMap;

use borsh::BorshDeserialize;
use jialing_core::history::Frontier;
use jialing_core::state_tree::StateTree;
use jialing_core::{
    Block, BlockHeader, Hash, Keypair, PublicKey, Role, SignedTransaction, Transaction, Uscc, Validator, ValidatorSet,
    encoding,
};

use crate::block_validator::{BlockError, Parent, validate_block};
use crate::error::AdmissionError;
use crate::executor::{BlockContext, BlockExecutor};
use crate::genesis_state::{ChainInfo, InitialState};
use crate::membership::{Member, Organisation};
use crate::params::Params;
use crate::receipt::Receipt;
use crate::registry::CallPayload;
use crate::state::MemState;

/// The organisations of the test consortium: (short name, roles).
pub const ORGS: &[(&str, &[Role])] = &[
    ("agri", &[Role::ProduceRegulator]),
    ("market", &[Role::MarketRegulator]),
    ("credit", &[Role::CreditAuthority]),
    ("bigdata", &[Role::DataRegulator]),
    ("exchange", &[Role::Exchange]),
    ("farm", &[Role::Producer]),
    ("farm2", &[Role::Producer]),
    ("plant", &[Role::Processor, Role::Producer]),
    ("lab", &[Role::Inspector]),
    ("logistics", &[Role::Logistics]),
    ("shop", &[Role::Retailer]),
    ("provider", &[Role::DataProvider]),
    ("buyer", &[Role::DataBuyer]),
    ("audit", &[Role::Auditor]),
    ("reseller", &[Role::DataProvider, Role::DataBuyer]),
];

/// Genesis time of the test ledger: 2026-01-01T00:00:00Z.
pub const GENESIS_MS: u64 = 1_767_225_600_000;

/// An in-memory ledger.
pub struct TestLedger {
    /// Committed state.
    pub state: MemState,
    /// Committed state tree.
    pub tree: StateTree,
    /// Last committed height.
    pub height: u64,
    /// Time of the next block.
    pub time_ms: u64,
    /// Chain id.
    pub chain_id: String,
    /// The last block's header (every block goes through the block validator).
    pub tip: BlockHeader,
    /// The history accumulator over blocks `0..=height`.
    pub history: Frontier,
}

/// The USCC of a test organisation (deterministic, valid check character).
pub fn uscc(name: &str) -> Uscc {
    let i = ORGS.iter().position(|(n, _)| *n == name).unwrap_or(99);
    match Uscc::complete(&format!("91500230MA{:07}", 1000 + i)) {
        Ok(u) => u,
        Err(e) => panic!("test USCC: {e}"),
    }
}

/// The operator key of a test organisation (holds all the org's roles).
pub fn key(name: &str) -> Keypair {
    Keypair::from_label(&format!("{name}/op"))
}

/// The admin key of a test organisation.
pub fn admin(name: &str) -> Keypair {
    Keypair::from_label(&format!("{name}/admin"))
}

/// The genesis state of the test consortium (validators: the first four orgs).
pub fn initial_state(params: Params) -> InitialState {
    let orgs = ORGS
        .iter()
        .enumerate()
        .map(|(i, (name, roles))| Organisation {
            uscc: uscc(name),
            name: (*name).to_string(),
            roles: roles.to_vec(),
            admin: admin(name).public(),
            node_keys: vec![],
            validator: (i < 4).then(|| Validator { public_key: validator(name).public(), power: 1 }),
            contact: format!("{name} contact"),
            active: true,
        })
        .collect();
    let members = ORGS
        .iter()
        .map(|(name, roles)| {
            (
                key(name).public(),
                Member { org: uscc(name), roles: roles.to_vec(), expires_ms: u64::MAX, revoked: false },
            )
        })
        .collect();
    InitialState {
        chain: ChainInfo { chain_id: "jialing-test".into(), genesis_time_ms: GENESIS_MS },
        orgs,
        members,
        params,
    }
}

/// The validator key of a test organisation (the first four orgs validate).
pub fn validator(name: &str) -> Keypair {
    Keypair::from_label(&format!("{name}/val"))
}

impl TestLedger {
    /// The sample consortium at height 0.
    pub fn new() -> Self {
        Self::with_params(Params::default())
    }

    /// The sample consortium with given parameters.
    pub fn with_params(params: Params) -> Self {
        let init = initial_state(params);
        let writes = match init.writes() {
            Ok(w) => w,
            Err(e) => panic!("test genesis: {e}"),
        };
        let mut state = MemState::default();
        state.apply(&writes);
        let tip = match init.genesis_block() {
            Ok((h, _, _)) => h,
            Err(e) => panic!("test genesis block: {e}"),
        };
        let tree = StateTree::new().apply(&writes);
        let mut history = Frontier::new();
        history.append(&tip.hash());
        TestLedger { state, tree, height: 0, time_ms: GENESIS_MS + 1000, chain_id: "jialing-test".into(), tip, history }
    }

    /// Signs a call with the next nonce of `signer`.
    pub fn sign<P: CallPayload>(&self, signer: &Keypair, payload: &P) -> SignedTransaction {
        let nonce = self.nonce(&signer.public());
        self.sign_with_nonce(signer, payload, nonce)
    }

    /// Signs a call with an explicit nonce.
    pub fn sign_with_nonce<P: CallPayload>(&self, signer: &Keypair, payload: &P, nonce: u64) -> SignedTransaction {
        let (contract, method, payload) = payload.to_call();
        Transaction { chain_id: self.chain_id.clone(), signer: signer.public(), nonce, contract, method, payload }
            .sign(signer)
    }

    /// The next nonce of `key` in committed state.
    pub fn nonce(&self, key: &PublicKey) -> u64 {
        self.get::<u64>(&crate::keys::nonce(key)).unwrap_or(0)
    }

    /// Executes one call in its own block; returns its receipt.
    pub fn call<P: CallPayload>(&mut self, signer: &Keypair, payload: &P) -> Result<Receipt, AdmissionError> {
        let stx = self.sign(signer, payload);
        let mut receipts = self.block(&[stx])?;
        Ok(receipts.remove(0))
    }

    /// Executes transactions as one block, advancing time by one second afterwards.
    /// Fails (committing nothing) if any transaction is refused admission. The block is
    /// built as a proposer would and then checked by the one block validator, as every
    /// node and auditor checks it, before it is applied.
    pub fn block(&mut self, txs: &[SignedTransaction]) -> Result<Vec<Receipt>, AdmissionError> {
        let block = self.build_block(txs)?;
        match self.apply_block(&block) {
            Ok(receipts) => Ok(receipts),
            Err(e) => panic!("the block validator refused a block the executor built: {e}"),
        }
    }

    /// The validator set in force.
    pub fn validators(&self) -> ValidatorSet {
        match self.get::<ValidatorSet>(crate::keys::VALIDATORS) {
            Some(v) => v,
            None => panic!("test ledger has no validator set"),
        }
    }

    /// Builds the next block from `txs` as a proposer would (header, roots), proposed by
    /// the first validator in force. Fails if a transaction is refused admission.
    pub fn build_block(&self, txs: &[SignedTransaction]) -> Result<Block, AdmissionError> {
        let ctx = BlockContext { chain_id: self.chain_id.clone(), height: self.height + 1, time_ms: self.time_ms };
        let mut exec = BlockExecutor::new(&self.state, ctx)?;
        for stx in txs {
            exec.execute(stx, stx.hash())?;
        }
        let out = exec.finish(&self.tree);
        let set = self.validators();
        let hashes: Vec<Hash> = txs.iter().map(|t| t.hash()).collect();
        let header = BlockHeader {
            chain_id: self.chain_id.clone(),
            height: self.height + 1,
            time_ms: self.time_ms,
            parent_hash: self.tip.hash(),
            history_root: self.history.root(),
            proposer: set.validators[0].public_key,
            tx_root: Block::tx_root_of_txs(txs, &hashes),
            tx_count: txs.len() as u32,
            state_root: out.state_root,
            receipts_root: out.receipts_root,
            validator_set_hash: set.hash(),
        };
        Ok(Block { header, txs: txs.to_vec() })
    }

    /// Checks `block` with the block validator and applies it (time advances by one
    /// second). On `Err` nothing changed.
    pub fn apply_block(&mut self, block: &Block) -> Result<Vec<Receipt>, BlockError> {
        let set = self.validators();
        let parent = Parent { header: &self.tip, hash: self.tip.hash(), validators: &set, history: &self.history };
        let valid = validate_block(parent, &self.state, &self.tree, block, &|_, _, _| false)?;
        self.state.apply(&valid.outcome.writes);
        self.tree = valid.outcome.tree;
        self.tip = block.header.clone();
        self.history.append(&self.tip.hash());
        self.height += 1;
        self.time_ms = self.time_ms.max(block.header.time_ms) + 1000;
        Ok(valid.outcome.receipts)
    }

    /// Moves the clock of the next block forward.
    pub fn advance(&mut self, ms: u64) {
        self.time_ms += ms;
    }

    /// Reads a typed value from committed state.
    pub fn get<T: BorshDeserialize>(&self, key: &[u8]) -> Option<T> {
        self.state.map.get(key).and_then(|b| encoding::decode("test value", b).ok())
    }

    /// The committed state root.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// A snapshot of the committed state, for "changes nothing" checks.
    pub fn snapshot(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.state.map.clone()
    }
}

impl Default for TestLedger {
    fn default() -> Self {
        Self::new()
    }
}

/// Asserts a receipt was refused with `code`; returns its message.
pub fn expect_refused(r: &Receipt, code: &str) -> String {
    match &r.status {
        crate::receipt::TxStatus::Refused { code: c, message } if c == code => message.clone(),
        other => panic!("expected refusal {code}, got {other:?}"),
    }
}

/// A lot origin for tests (the sample county, township and village, at 29.88 N 107.73 E).
pub fn sample_origin() -> crate::trace::types::Origin {
    crate::trace::types::Origin {
        county: "county".into(),
        township: "town".into(),
        village: "village".into(),
        lat_micro: 29_880_000,
        lon_micro: 107_730_000,
    }
}

/// Asserts a receipt executed.
pub fn expect_ok(r: &Receipt) {
    if let crate::receipt::TxStatus::Refused { code, message } = &r.status {
        panic!("expected success, got {code}: {message}");
    }
}

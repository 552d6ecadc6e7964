//! Byzantine proposers for process-level tests, plugged into a real node through
//! [`ProposalHook`] (the production configuration has no Byzantine switch). The
//! `byzantine-node` binary runs a node with one of them.

use std::sync::Arc;

use jialing_core::{Block, Keypair, Transaction};
use jialing_node::consensus::host::ProposalHook;

/// Proposes blocks carrying a transaction signed by a key that is no member (the header
/// updated to match, the state root left as built): honest validators must find it
/// inadmissible and vote nil.
pub struct InvalidBlock;

impl ProposalHook for InvalidBlock {
    fn announce(&self, mut block: Block, chain_id: &str) -> Block {
        let outsider = Keypair::from_label(&format!("test/byzantine/outsider/{}", block.header.height));
        let stx = Transaction {
            chain_id: chain_id.to_string(),
            signer: outsider.public(),
            nonce: 0,
            contract: "trace".into(),
            method: "create_lot".into(),
            payload: vec![],
        }
        .sign(&outsider);
        block.txs.push(stx);
        block.header.tx_root = block.computed_tx_root();
        block.header.tx_count = block.txs.len() as u32;
        tracing::warn!(target: "jialing::byzantine", height = block.header.height, "TEST BYZANTINE: proposing a block with a non-member transaction");
        block
    }
}

/// Streams a second, different block (one millisecond later) for each of its heights
/// and rounds, before the one it announces.
pub struct Equivocator;

impl ProposalHook for Equivocator {
    fn twins(&self, announced: &Block) -> Vec<Block> {
        let mut twin = announced.clone();
        twin.header.time_ms += 1;
        tracing::warn!(target: "jialing::byzantine", height = twin.header.height, twin = %twin.header.hash(), "TEST BYZANTINE: equivocating proposal streamed");
        vec![twin]
    }
}

/// The hook for a mode name: `invalid-block` or `equivocate`.
pub fn hook(mode: &str) -> Option<Arc<dyn ProposalHook>> {
    match mode {
        "invalid-block" => Some(Arc::new(InvalidBlock)),
        "equivocate" => Some(Arc::new(Equivocator)),
        _ => None,
    }
}

//! Blocks arrive from proposers and sync peers: the one block validator must give a
//! verdict (never panic) on any decodable block, judged against the test consortium's
//! genesis state exactly as a node or the audit replay judges it.
#![no_main]
use jialing_contracts::testkit::TestLedger;
use jialing_core::{Block, block::MAX_ENCODED_BLOCK, encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = encoding::decode_limited::<Block>("fuzz block", data, MAX_ENCODED_BLOCK) {
        let mut l = TestLedger::new();
        let before = l.root();
        if l.apply_block(&block).is_err() {
            assert_eq!(l.root(), before, "a refused block changed nothing");
        }
    }
});

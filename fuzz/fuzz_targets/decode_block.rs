//! Blocks, headers and certificates come from peers during sync: decoding must never
//! panic, and certificate checks on garbage must fail cleanly.
#![no_main]
use jialing_core::{Block, CommitCertificate, ValidatorSet, encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = encoding::decode::<Block>("block", data) {
        assert_eq!(encoding::encode(&block), data);
    }
    if let Ok((cert, set)) = encoding::decode::<(CommitCertificate, ValidatorSet)>("cert", data) {
        if let Ok(block) = encoding::decode::<Block>("block", data) {
            let _ = cert.verify("jialing-fuzz", &block.header, &set);
        }
    }
});

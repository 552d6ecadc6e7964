//! Proofs are handed to verifiers by untrusted nodes: verification must never panic.
#![no_main]
use jialing_core::history::HistoryLink;
use jialing_core::merkle::{ConsistencyProof, InclusionProof};
use jialing_core::state_tree::StateProof;
use jialing_core::{Hash, encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((p, leaf, root)) = encoding::decode::<(InclusionProof, Hash, Hash)>("p", data) {
        let _ = p.verify(&leaf, &root);
    }
    if let Ok((p, a, b)) = encoding::decode::<(ConsistencyProof, Hash, Hash)>("p", data) {
        let _ = p.verify(&a, &b);
    }
    if let Ok((l, from, from_hash, from_root, to, to_root)) =
        encoding::decode::<(HistoryLink, u64, Hash, Hash, u64, Hash)>("p", data)
    {
        let _ = l.verify(from, &from_hash, &from_root, to, &to_root);
    }
    if let Ok((p, root, key, value)) = encoding::decode::<(StateProof, Hash, Vec<u8>, Option<Vec<u8>>)>("p", data) {
        let _ = p.verify(&root, &key, value.as_deref());
    }
});

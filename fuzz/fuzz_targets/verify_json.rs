//! What `jialing verify` reads: a proof or a signed audit report as JSON, from a file
//! anyone may have edited. Parsing and verification must never panic.
#![no_main]
use jialing_core::proof::Proof;
use jialing_core::{Keypair, Validator, ValidatorSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let keys: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("fuzz/v{i}"))).collect();
    let Ok(set) = ValidatorSet::new(keys.iter().map(|k| Validator { public_key: k.public(), power: 1 }).collect())
    else {
        return;
    };
    if jialing_client::report::is_report(&doc) {
        let _ = jialing_client::report::verify(&doc, "c", set, b"validators", None);
    } else if let Ok(p) = serde_json::from_value::<Proof>(doc) {
        let _ = p.verify("c", &set);
    }
});

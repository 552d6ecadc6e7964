//! Instruction-count probe for signature verification: `valgrind --tool=callgrind
//! target/release/examples/verify_cost single|batch [n]` counts the same instructions on
//! every run (unlike timings on a shared machine); `scripts/bench-verify` compares them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use jialing_core::crypto::{SignedDigest, verify_batch};
use jialing_core::{Keypair, Purpose, sha256};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "single".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1024);
    let items: Vec<SignedDigest> = (0..n)
        .map(|i| {
            let k = Keypair::from_label(&format!("cost{}", i % 64));
            let d = sha256(&(i as u64).to_le_bytes());
            SignedDigest {
                signer: k.public(),
                purpose: Purpose::Transaction,
                digest: d,
                signature: k.sign("c", Purpose::Transaction, &d),
            }
        })
        .collect();
    match mode.as_str() {
        "batch" => verify_batch("c", &items).expect("valid batch"),
        "sign" => {}
        _ => {
            for it in &items {
                it.signer.verify("c", it.purpose, &it.digest, &it.signature).expect("valid");
            }
        }
    }
}

//! Ed25519: the batch path and the single path give one verdict on every input. The
//! input is cut into items of key (32 bytes), signature (64) and an 8-byte message; a
//! valid signature by a fixed key is mixed in so batches hold good and hostile items.
#![no_main]
use jialing_core::Keypair;
use jialing_core::crypto::{RawSigned, verify_batch_raw, verify_raw};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let good = Keypair::from_label("fuzz/good");
    let good_digest = jialing_core::sha256(b"good");
    let good_sig = good.sign("c", jialing_core::Purpose::Transaction, &good_digest).0;
    let good_msg = jialing_core::crypto::signing_bytes("c", jialing_core::Purpose::Transaction, &good_digest);
    let good_key = good.public().0;
    let mut owned: Vec<([u8; 32], [u8; 64], Vec<u8>)> = Vec::new();
    for chunk in data.chunks_exact(104).take(16) {
        let mut k = [0u8; 32];
        let mut s = [0u8; 64];
        k.copy_from_slice(&chunk[..32]);
        s.copy_from_slice(&chunk[32..96]);
        owned.push((k, s, chunk[96..].to_vec()));
    }
    let mut items: Vec<RawSigned<'_>> =
        owned.iter().map(|(k, s, m)| RawSigned { key: k, message: m, signature: s }).collect();
    items.insert(items.len() / 2, RawSigned { key: &good_key, message: &good_msg, signature: &good_sig });
    let single = items.iter().all(|it| verify_raw(it.key, it.message, it.signature).is_ok());
    assert_eq!(verify_batch_raw(&items).is_ok(), single);
});

//! Transactions arrive from the network and the API: decoding must never panic, and
//! whatever decodes must re-encode to the same bytes (one encoding per value).
#![no_main]
use jialing_core::SignedTransaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((stx, hash)) = SignedTransaction::decode(data) {
        assert_eq!(stx.to_bytes(), data);
        assert_eq!(stx.hash(), hash);
        let _ = stx.verify("jialing-fuzz", &hash);
    }
});

//! Contract payloads are attacker-chosen bytes: executing any method with any payload
//! must never panic, only refuse.
#![no_main]
use jialing_contracts::registry;
use jialing_contracts::testkit::{TestLedger, key};
use jialing_core::Transaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else { return };
    let methods: Vec<_> = registry::methods().collect();
    let m = methods[selector as usize % methods.len()];
    let mut ledger = TestLedger::new();
    let signer = key("farm");
    let tx = Transaction {
        chain_id: ledger.chain_id.clone(),
        signer: signer.public(),
        nonce: 0,
        contract: m.contract.into(),
        method: m.name.into(),
        payload: payload.to_vec(),
    }
    .sign(&signer);
    let _ = ledger.block(&[tx]);
    let _ = (m.to_json)(payload);
});

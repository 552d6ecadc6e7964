//! `POST /epcis/capture` bodies are attacker-chosen EPCIS documents that every
//! validator plans and executes (`trace.epcis_capture`): planning and executing any
//! bytes must never panic, only refuse.
#![no_main]
use jialing_contracts::testkit::{TestLedger, key};
use jialing_contracts::trace::epcis_capture::{CaptureErrorBehaviour, capture_tx, plan_document};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = std::str::from_utf8(data) else { return };
    let _ = plan_document(doc);
    let mut ledger = TestLedger::new();
    let signer = key("farm");
    let stx = capture_tx(&ledger.chain_id, signer.public(), 0, CaptureErrorBehaviour::Rollback, doc).sign(&signer);
    let _ = ledger.block(&[stx]);
});

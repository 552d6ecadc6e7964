//! Properties of the executor over every registered method.

use jialing_contracts::testkit::{ORGS, TestLedger, key};
use jialing_contracts::{keys, registry};
use jialing_core::Transaction;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any method, any payload bytes, any member signer: execution never panics; a
    /// refused call changes nothing but the signer's nonce.
    #[test]
    fn any_call_never_panics_and_refusals_change_nothing(
        method in 0usize..1000,
        signer in 0usize..ORGS.len(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let methods: Vec<_> = registry::methods().collect();
        let m = methods[method % methods.len()];
        let mut l = TestLedger::new();
        let k = key(ORGS[signer].0);
        let before = l.snapshot();
        let tx = Transaction {
            chain_id: l.chain_id.clone(),
            signer: k.public(),
            nonce: 0,
            contract: m.contract.into(),
            method: m.name.into(),
            payload,
        }
        .sign(&k);
        let r = l.block(&[tx]).unwrap().remove(0);
        if !r.is_ok() {
            let mut after = l.snapshot();
            after.remove(&keys::nonce(&k.public()));
            prop_assert!(after == before, "refused {}.{} changed state", m.contract, m.name);
        }
    }
}

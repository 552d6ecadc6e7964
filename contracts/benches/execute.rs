//! Block execution on the test consortium: 2000 certify transactions in one block
//! (admission, role check, contract, receipts, state root). Signatures are checked
//! before execution, so this is the execution cost alone. `cargo bench -p jialing-contracts`.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jialing_contracts::BlockContext;
use jialing_contracts::BlockExecutor;
use jialing_contracts::membership::Certify;
use jialing_contracts::testkit::{TestLedger, admin};
use jialing_core::{Keypair, Role};

fn execute_block(c: &mut Criterion) {
    let ledger = TestLedger::new();
    let a = admin("farm");
    let txs: Vec<_> = (0..2000u64)
        .map(|i| {
            let m = Keypair::from_label(&format!("m{i}"));
            ledger.sign_with_nonce(
                &a,
                &Certify { member: m.public(), roles: vec![Role::Producer], expires_ms: u64::MAX },
                i,
            )
        })
        .map(|t| {
            let h = t.hash();
            (t, h)
        })
        .collect();
    let mut g = c.benchmark_group("execute");
    g.throughput(Throughput::Elements(txs.len() as u64));
    g.sample_size(20);
    g.bench_function("block of 2000 membership.certify", |b| {
        b.iter_batched(
            || BlockContext { chain_id: ledger.chain_id.clone(), height: 1, time_ms: ledger.time_ms },
            |ctx| {
                let mut exec = BlockExecutor::new(&ledger.state, ctx).unwrap();
                for (t, h) in &txs {
                    exec.execute(t, *h).unwrap();
                }
                exec.finish(&ledger.tree)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, execute_block);
criterion_main!(benches);

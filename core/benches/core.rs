//! Hot-path primitives: signature checks, hashing, transaction decoding, Merkle roots
//! and state-tree updates. `cargo bench -p jialing-core`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::BTreeMap;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jialing_core::crypto::{SignedDigest, verify_batch};
use jialing_core::state_tree::StateTree;
use jialing_core::{Keypair, Purpose, SignedTransaction, Transaction, merkle, sha256};

fn sample_tx(i: u64) -> SignedTransaction {
    let k = Keypair::from_label(&format!("bench{}", i % 64));
    Transaction {
        chain_id: "bench".into(),
        signer: k.public(),
        nonce: i,
        contract: "trace".into(),
        method: "create_lot".into(),
        payload: vec![7; 250],
    }
    .sign(&k)
}

fn signatures(c: &mut Criterion) {
    let tx = sample_tx(1);
    let h = tx.hash();
    c.bench_function("ed25519 verify one", |b| b.iter(|| tx.verify("bench", &h).unwrap()));
    let k = Keypair::from_label("s");
    c.bench_function("ed25519 sign", |b| b.iter(|| k.sign("bench", Purpose::Transaction, &h)));
    let mut g = c.benchmark_group("ed25519 batch verify");
    for n in [64usize, 256, 500, 1024, 2000] {
        let items: Vec<SignedDigest> = (0..n as u64)
            .map(|i| {
                let t = sample_tx(i);
                t.signed_digest(t.hash())
            })
            .collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{n}"), |b| b.iter(|| verify_batch("bench", &items).unwrap()));
    }
    g.finish();
}

fn hashing_and_decoding(c: &mut Criterion) {
    let bytes = sample_tx(3).to_bytes();
    c.bench_function("tx decode + hash (~380 B)", |b| b.iter(|| SignedTransaction::decode(&bytes).unwrap()));
    c.bench_function("sha256 64 B", |b| b.iter(|| sha256(&[1u8; 64])));
    let leaves: Vec<_> = (0..2000u64).map(|i| sha256(&i.to_le_bytes())).collect();
    c.bench_function("merkle root of 2000 tx hashes", |b| b.iter(|| merkle::root_of_hashes(&leaves)));
}

fn state_tree(c: &mut Criterion) {
    let base: BTreeMap<Vec<u8>, Option<Vec<u8>>> =
        (0..100_000u64).map(|i| (format!("k{i}").into_bytes(), Some(vec![1; 100]))).collect();
    let tree = StateTree::new().apply(&base);
    let mut g = c.benchmark_group("state tree");
    g.throughput(Throughput::Elements(4000));
    g.bench_function("apply 4000 writes to 100k keys", |b| {
        b.iter_batched(
            || {
                (0..4000u64)
                    .map(|i| (format!("k{}", i * 25).into_bytes(), Some(vec![2; 100])))
                    .collect::<BTreeMap<_, _>>()
            },
            |w| tree.apply(&w),
            BatchSize::SmallInput,
        )
    });
    // A growing chain: a block of new keys into a large tree, the old version dropped
    // (as a validator does once the next block is decided).
    let big: BTreeMap<Vec<u8>, Option<Vec<u8>>> =
        (0..400_000u64).map(|i| (format!("lot/{i}").into_bytes(), Some(vec![1; 120]))).collect();
    let big = StateTree::new().apply(&big);
    g.throughput(Throughput::Elements(20_000));
    g.bench_function("insert 20000 new keys into 400k, drop the result", |b| {
        b.iter_batched(
            || {
                (0..20_000u64)
                    .map(|i| (format!("lot/new/{i}").into_bytes(), Some(vec![2; 120])))
                    .collect::<BTreeMap<_, _>>()
            },
            |w| drop(big.apply(&w)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, signatures, hashing_and_decoding, state_tree);
criterion_main!(benches);

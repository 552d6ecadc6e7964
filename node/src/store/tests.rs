use std::collections::BTreeMap;

use jialing_contracts::{IndexTag, Receipt, TagKind, TxStatus};
use jialing_core::{BlockHeader, Hash, Keypair, merkle};

use super::*;

/// A header at `h` on top of the store's history (each test commits in order).
fn header_on(s: &Store, h: u64) -> BlockHeader {
    let mut hd = header(h);
    hd.history_root = s.history_frontier(h).map(|f| f.root()).unwrap_or(Hash::ZERO);
    hd
}

fn header(h: u64) -> BlockHeader {
    BlockHeader {
        chain_id: "t".into(),
        height: h,
        time_ms: h,
        parent_hash: Hash::ZERO,
        history_root: Hash::ZERO,
        proposer: Keypair::from_label("v").public(),
        tx_root: merkle::empty_root(),
        tx_count: 0,
        state_root: Hash::ZERO,
        receipts_root: merkle::empty_root(),
        validator_set_hash: Hash::ZERO,
    }
}

#[test]
fn commit_reopen_history_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let tag = IndexTag { kind: TagKind::Lot, id: "L1".into() };
    {
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.tip().unwrap(), None);
        let mut w = BTreeMap::new();
        w.insert(b"k".to_vec(), Some(b"v".to_vec()));
        s.commit(&CommitBatch { header: &header_on(&s, 0), certificate: None, txs: &[], receipts: &[], writes: &w })
            .unwrap();
        let tx = (Hash([7; 32]), &[1u8, 2, 3][..]);
        let r = Receipt { tx_hash: tx.0, status: TxStatus::Ok, tags: vec![tag.clone()] };
        let mut w = BTreeMap::new();
        w.insert(b"k".to_vec(), None);
        s.commit(&CommitBatch { header: &header_on(&s, 1), certificate: None, txs: &[tx], receipts: &[r], writes: &w })
            .unwrap();
        let err = s.commit(&CommitBatch {
            header: &header(5),
            certificate: None,
            txs: &[],
            receipts: &[],
            writes: &BTreeMap::new(),
        });
        assert!(matches!(err, Err(StoreError::OutOfOrder { expected: 2, got: 5 })));
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.tip().unwrap(), Some(1));
    assert_eq!(s.header(1).unwrap().unwrap().height, 1);
    assert_eq!(StateView::get(&s, b"k").unwrap(), None);
    assert_eq!(s.tx(&Hash([7; 32])).unwrap().unwrap().bytes, vec![1, 2, 3]);
    assert_eq!(s.history(&tag, 0, 10).unwrap(), vec![(1, 0, Hash([7; 32]))]);
    assert!(s.history(&IndexTag { kind: TagKind::Lot, id: "L".into() }, 0, 10).unwrap().is_empty());
    assert_eq!(s.receipts(1).unwrap().len(), 1);
}

#[test]
fn state_scan_reads_one_prefix_in_key_order_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut w = BTreeMap::new();
    for k in ["data/demand/B", "data/demand/A", "data/product/A", "data/demandX"] {
        w.insert(k.as_bytes().to_vec(), Some(k.as_bytes().to_vec()));
    }
    s.commit(&CommitBatch { header: &header_on(&s, 0), certificate: None, txs: &[], receipts: &[], writes: &w })
        .unwrap();
    let keys =
        |limit| -> Vec<Vec<u8>> { s.state_scan(b"data/demand/", limit).unwrap().into_iter().map(|(k, _)| k).collect() };
    assert_eq!(keys(10), vec![b"data/demand/A".to_vec(), b"data/demand/B".to_vec()]);
    assert_eq!(keys(1), vec![b"data/demand/A".to_vec()]);
}

fn commit_empty(s: &Store, hd: &BlockHeader) -> Result<(), StoreError> {
    s.commit(&CommitBatch { header: hd, certificate: None, txs: &[], receipts: &[], writes: &BTreeMap::new() })
}

#[test]
fn history_nodes_survive_reopen_and_give_the_reference_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let mut hashes = Vec::new();
    {
        let s = Store::open(dir.path()).unwrap();
        for h in 0..37u64 {
            let hd = header_on(&s, h);
            assert_eq!(hd.history_root, merkle::root_of_hashes(&hashes), "history root at {h}");
            commit_empty(&s, &hd).unwrap();
            hashes.push(hd.hash());
        }
        // A header that rewrites the history is refused, and nothing is written.
        let mut forged = header_on(&s, 37);
        forged.history_root = merkle::root_of_hashes(&hashes[1..]);
        assert!(matches!(commit_empty(&s, &forged), Err(StoreError::HistoryMismatch { height: 37, .. })));
        assert_eq!(s.tip().unwrap(), Some(36));
    }
    // Reopened (as after a restart or a kill -9): the accumulator is at the tip.
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.history_frontier(37).unwrap().root(), merkle::root_of_hashes(&hashes));
    let leaves: Vec<Hash> = hashes.iter().map(|h| merkle::leaf_hash(&h.0)).collect();
    for (old, new) in [(1u64, 37u64), (5, 6), (16, 33), (20, 37), (36, 37)] {
        let c = s.history_consistency(old, new).unwrap();
        assert_eq!(c, merkle::consistency_proof(&leaves[..new as usize], old as usize).unwrap());
        let i = s.history_inclusion(old, new).unwrap_or_else(|e| panic!("{old} in {new}: {e}"));
        if old < new {
            assert_eq!(i, merkle::inclusion_proof(&leaves[..new as usize], old as usize).unwrap());
        }
    }
    assert!(s.history_inclusion(37, 37).is_err(), "a block is not in its own history");
    assert!(s.history_frontier(40).is_err(), "no nodes past the tip");
}

/// A data directory written with another layout (or before layouts had versions) is
/// refused on open with what to do; a new one is written with this layout.
#[test]
fn a_store_of_another_layout_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        commit_empty(&s, &header_on(&s, 0)).unwrap();
        s.meta.remove(LAYOUT_KEY).unwrap();
    }
    let err = Store::open(dir.path()).err().expect("an unversioned store is refused");
    assert!(matches!(err, StoreError::Layout { ref found, expected: LAYOUT } if found == "none"), "{err}");
    assert!(err.to_string().contains("start a new data directory"), "{err}");
    {
        let fresh = tempfile::tempdir().unwrap();
        let s = Store::open(fresh.path()).unwrap();
        commit_empty(&s, &header_on(&s, 0)).unwrap();
        drop(s);
        Store::open(fresh.path()).expect("this layout reopens");
    }
}

/// Transactions and receipts are read back by hash, by position and as a whole block,
/// and a block's bytes are its canonical encoding.
#[test]
fn entries_read_back_by_hash_position_and_block() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    commit_empty(&s, &header_on(&s, 0)).unwrap();
    let key = Keypair::from_label("e");
    let stxs: Vec<SignedTransaction> = (0..3u64)
        .map(|n| {
            jialing_core::Transaction {
                chain_id: "t".into(),
                signer: key.public(),
                nonce: n,
                contract: "trace".into(),
                method: "m".into(),
                payload: vec![n as u8; n as usize * 7],
            }
            .sign(&key)
        })
        .collect();
    let encoded: Vec<Vec<u8>> = stxs.iter().map(|t| t.to_bytes()).collect();
    let txs: Vec<(TxHash, &[u8])> = stxs.iter().zip(&encoded).map(|(t, b)| (t.hash(), b.as_slice())).collect();
    let (a, b) = (IndexTag { kind: TagKind::Lot, id: "A".into() }, IndexTag { kind: TagKind::Product, id: "B".into() });
    let tags = [vec![a.clone()], vec![a.clone(), b.clone()], vec![b.clone()]];
    let receipts: Vec<Receipt> =
        txs.iter().zip(tags).map(|((h, _), tags)| Receipt { tx_hash: *h, status: TxStatus::Ok, tags }).collect();
    let mut hd = header_on(&s, 1);
    hd.tx_count = 3;
    s.commit(&CommitBatch { header: &hd, certificate: None, txs: &txs, receipts: &receipts, writes: &BTreeMap::new() })
        .unwrap();
    for (i, (h, bytes)) in txs.iter().enumerate() {
        assert_eq!(s.tx(h).unwrap(), Some(TxRecord { height: 1, index: i as u32, bytes: bytes.to_vec() }));
        assert_eq!(s.receipt(1, i as u32).unwrap().as_ref(), Some(&receipts[i]));
    }
    assert_eq!(s.receipts(1).unwrap(), receipts);
    assert_eq!(s.raw_receipts(1).unwrap(), receipts.iter().map(encoding::encode).collect::<Vec<_>>());
    let block = Block { header: hd.clone(), txs: stxs.clone() };
    assert_eq!(s.block(1).unwrap(), Some(block.clone()));
    assert_eq!(s.block_bytes(1).unwrap(), Some(encoding::encode(&block)));
    let entries = s.block_entries(1).unwrap().unwrap();
    assert_eq!(entries, stxs.iter().map(|t| (t.hash(), t.signature)).collect::<Vec<_>>());
    assert_eq!(s.tx(&Hash([9; 32])).unwrap(), None);
    // One index entry per tag and block; pages start anywhere inside a block.
    let at = |i: usize| (1, i as u32, txs[i].0);
    assert_eq!(s.history(&a, 0, 10).unwrap(), vec![at(0), at(1)]);
    assert_eq!(s.history(&b, 0, 10).unwrap(), vec![at(1), at(2)]);
    assert_eq!(s.history(&a, 0, 1).unwrap(), vec![at(0)]);
    assert_eq!(s.history_from(&a, (1, 1), 10).unwrap(), vec![at(1)]);
    assert_eq!(s.history_from(&b, (1, 2), 10).unwrap(), vec![at(2)]);
    assert!(s.history_from(&b, (2, 0), 10).unwrap().is_empty());
}

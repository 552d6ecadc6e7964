use std::collections::BTreeMap;

use jialing_contracts::{IndexTag, Receipt, TagKind, TxStatus};
use jialing_core::{BlockHeader, Hash, Keypair, merkle};

use super::*;

fn header(h: u64) -> BlockHeader {
    BlockHeader {
        chain_id: "t".into(),
        height: h,
        time_ms: h,
        parent_hash: Hash::ZERO,
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
        s.commit(&CommitBatch { header: &header(0), certificate: None, txs: &[], receipts: &[], writes: &w }).unwrap();
        let tx = (Hash([7; 32]), vec![1, 2, 3]);
        let r = Receipt { tx_hash: tx.0, status: TxStatus::Ok, tags: vec![tag.clone()] };
        let mut w = BTreeMap::new();
        w.insert(b"k".to_vec(), None);
        s.commit(&CommitBatch { header: &header(1), certificate: None, txs: &[tx], receipts: &[r], writes: &w })
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
    s.commit(&CommitBatch { header: &header(0), certificate: None, txs: &[], receipts: &[], writes: &w }).unwrap();
    let keys =
        |limit| -> Vec<Vec<u8>> { s.state_scan(b"data/demand/", limit).unwrap().into_iter().map(|(k, _)| k).collect() };
    assert_eq!(keys(10), vec![b"data/demand/A".to_vec(), b"data/demand/B".to_vec()]);
    assert_eq!(keys(1), vec![b"data/demand/A".to_vec()]);
}

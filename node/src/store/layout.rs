//! Key encodings of the store: big-endian heights so keys sort by height, and
//! length-prefixed index tags so one object's history is one range scan.

use jialing_contracts::{IndexTag, Receipt};
use jialing_core::history::NodeId;

/// A history-tree node: level (1 byte) ‖ index (8 bytes big-endian).
pub fn node_key(id: NodeId) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = id.level;
    k[1..].copy_from_slice(&id.index.to_be_bytes());
    k
}

/// 8-byte big-endian height.
pub fn height_key(h: u64) -> [u8; 8] {
    h.to_be_bytes()
}

/// Decodes [`height_key`].
pub fn decode_height(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// Height ‖ index, 12 bytes big-endian.
pub fn position_key(h: u64, i: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&h.to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

/// Decodes [`position_key`].
pub fn decode_position(b: &[u8]) -> Option<(u64, u32)> {
    if b.len() != 12 {
        return None;
    }
    Some((u64::from_be_bytes(b[..8].try_into().ok()?), u32::from_be_bytes(b[8..].try_into().ok()?)))
}

/// Tag kind (1 byte) ‖ id length (2 bytes) ‖ id.
pub fn index_prefix(tag: &IndexTag) -> Vec<u8> {
    let id = tag.id.as_bytes();
    let len = id.len().min(u16::MAX as usize);
    let mut k = Vec::with_capacity(3 + len + 8);
    k.push(tag.kind as u8);
    k.extend_from_slice(&(len as u16).to_be_bytes());
    k.extend_from_slice(&id[..len]);
    k
}

/// [`index_prefix`] ‖ height: the key of one tag's positions in one block.
pub fn index_key(tag: &IndexTag, h: u64) -> Vec<u8> {
    let mut k = index_prefix(tag);
    k.extend_from_slice(&height_key(h));
    k
}

/// An `entries` value: the transaction's length (4 bytes big-endian) ‖ its raw bytes ‖
/// its receipt's canonical bytes.
pub fn entry_value(tx: &[u8], receipt: &Receipt) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + tx.len() + 64 + 16 * receipt.tags.len());
    v.extend_from_slice(&(tx.len() as u32).to_be_bytes());
    v.extend_from_slice(tx);
    // Encoded in place: one allocation per entry, not two.
    if borsh::BorshSerialize::serialize(receipt, &mut v).is_err() {
        // Writing into a Vec cannot fail; borsh only errors on IO writers.
        v.truncate(4 + tx.len());
    }
    v
}

/// Splits an [`entry_value`] into transaction and receipt bytes (`None`: malformed).
pub fn split_entry(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(v.get(..4)?.try_into().ok()?) as usize;
    let rest = &v[4..];
    (len <= rest.len()).then(|| rest.split_at(len))
}

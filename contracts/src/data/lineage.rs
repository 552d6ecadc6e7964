//! Lineage read model: a product's provenance both ways, over any state reader (the
//! node's store for `GET /v1/data/lineage/{id}`, a test ledger in tests). Upstream
//! follows `source_licence` to the licensed product, and so on; downstream walks the
//! products registered as derived from licences of this one, breadth first. Bounded:
//! at most [`MAX_LINEAGE_NODES`] products, each visited once (no cycle can loop).

use std::collections::{BTreeSet, VecDeque};

use jialing_core::{Hash, Uscc, encoding};
use serde::{Deserialize, Serialize};

use super::types::{DataProduct, ProductStatus, Trade};
use super::{product_key, trade_key};
use crate::error::ContractError;
use crate::state::StateView;

/// Most products one lineage answer visits.
pub const MAX_LINEAGE_NODES: usize = 1_000;

/// One step upstream: the licence a product was derived under and the product it
/// licensed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// The licence (trade id).
    pub licence: String,
    /// Its licensee (the provider of the derived product).
    pub licensee: Uscc,
    /// Whether the licence allows resale of derived data.
    pub derived_resale: bool,
    /// The licensed (source) product.
    pub product: String,
    /// Its provider.
    pub provider: Uscc,
    /// Its version hash.
    pub version_hash: Hash,
}

/// One product downstream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downstream {
    /// The derived product.
    pub product: String,
    /// The product it was derived from.
    pub from: String,
    /// The licence it was derived under.
    pub licence: Option<String>,
    /// Its provider.
    pub provider: Uscc,
    /// Its status.
    pub status: ProductStatus,
    /// Its version hash.
    pub version_hash: Hash,
    /// Steps from the product asked about (1 = derived from it directly).
    pub depth: u32,
}

/// A product's lineage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    /// The product asked about.
    pub product: String,
    /// Its version hash.
    pub version_hash: Hash,
    /// From the nearest source to the original one.
    pub upstream: Vec<Upstream>,
    /// Derived products, nearest first.
    pub downstream: Vec<Downstream>,
    /// Whether the walk stopped at [`MAX_LINEAGE_NODES`].
    pub truncated: bool,
}

fn get<T: borsh::BorshDeserialize>(state: &dyn StateView, key: &[u8]) -> Result<Option<T>, ContractError> {
    let Some(b) = state.get(key).map_err(ContractError::Storage)? else { return Ok(None) };
    encoding::decode("state value", &b)
        .map(Some)
        .map_err(|e| ContractError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() })
}

/// The lineage of product `id`, or `None` when there is no such product.
pub fn lineage(state: &dyn StateView, id: &str) -> Result<Option<Lineage>, ContractError> {
    let Some(start) = get::<DataProduct>(state, &product_key(id))? else { return Ok(None) };
    let mut seen = BTreeSet::from([start.id.clone()]);
    let mut truncated = false;
    let mut upstream = Vec::new();
    let mut at = start.clone();
    while let Some(lic) = at.source_licence.clone() {
        let Some(t) = get::<Trade>(state, &trade_key(&lic))? else { break };
        let Some(src) = get::<DataProduct>(state, &product_key(&t.product))? else { break };
        upstream.push(Upstream {
            licence: lic,
            licensee: t.licensee,
            derived_resale: t.terms.derived_resale,
            product: src.id.clone(),
            provider: src.provider.clone(),
            version_hash: src.version_hash,
        });
        if seen.len() >= MAX_LINEAGE_NODES {
            truncated = true;
            break;
        }
        if !seen.insert(src.id.clone()) {
            break;
        }
        at = src;
    }
    let mut downstream = Vec::new();
    let mut queue: VecDeque<(DataProduct, u32)> = VecDeque::from([(start.clone(), 0)]);
    'walk: while let Some((p, depth)) = queue.pop_front() {
        for d in &p.derived_products {
            if seen.len() >= MAX_LINEAGE_NODES {
                truncated = true;
                break 'walk;
            }
            if !seen.insert(d.clone()) {
                continue;
            }
            let Some(dp) = get::<DataProduct>(state, &product_key(d))? else { continue };
            downstream.push(Downstream {
                product: dp.id.clone(),
                from: p.id.clone(),
                licence: dp.source_licence.clone(),
                provider: dp.provider.clone(),
                status: dp.status,
                version_hash: dp.version_hash,
                depth: depth + 1,
            });
            queue.push_back((dp, depth + 1));
        }
    }
    Ok(Some(Lineage { product: start.id, version_hash: start.version_hash, upstream, downstream, truncated }))
}

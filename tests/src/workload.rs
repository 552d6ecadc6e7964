//! Workloads for the load generator: deterministic, valid transactions per signer.

use jialing_contracts::CallPayload;
use jialing_contracts::membership::Certify;
use jialing_contracts::trace::methods::{CreateLot, EventTime};
use jialing_contracts::trace::types::Origin;
use jialing_core::{Keypair, Role};

/// What the load's transactions do.
#[derive(Clone, Debug)]
pub enum Workload {
    /// Each signer is an organisation admin certifying fresh member keys with `role`
    /// (one of its organisation's roles): `membership.certify`.
    Certify {
        /// Role granted, per signer.
        roles: Vec<Role>,
    },
    /// Each signer is a producer's operator creating lots of `product`:
    /// `trace.create_lot` with the full lot master data.
    Trace {
        /// A registered product code.
        product: String,
        /// Event time for the lots (ms).
        time_ms: u64,
    },
}

impl Workload {
    /// The call of transaction `i` of signer `k`.
    pub fn call(&self, k: usize, i: u64, run: &str) -> (String, String, Vec<u8>) {
        match self {
            Workload::Certify { roles } => {
                let member = Keypair::from_label(&format!("loadgen/{run}/member/{k}/{i}"));
                let role = roles.get(k).copied().unwrap_or(Role::Producer);
                Certify { member: member.public(), roles: vec![role], expires_ms: u64::MAX }.to_call()
            }
            Workload::Trace { product, time_ms } => CreateLot {
                lot: format!("LG-{}-{k}-{i}", &run[run.len().saturating_sub(8)..]),
                product: product.clone(),
                origin: Origin {
                    county: "丰都县".into(),
                    township: "三合街道".into(),
                    village: "长江村".into(),
                    lat_micro: 29_880_000,
                    lon_micro: 107_730_000,
                },
                quantity_milli: 1_000_000,
                unit: "kg".into(),
                at: EventTime { time_ms: *time_ms, tz_offset_min: 480 },
            }
            .to_call(),
        }
    }
}

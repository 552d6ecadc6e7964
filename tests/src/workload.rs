//! Workloads for the load generator: deterministic, valid transactions per signer.

use jialing_contracts::CallPayload;
use jialing_contracts::membership::Certify;
use jialing_core::{Keypair, Role};

/// A workload: which call the `i`-th transaction of signer `k` makes.
pub struct Workload {
    role: Role,
}

impl Workload {
    /// The workload for load keys holding `role`.
    pub fn new(role: Role) -> Self {
        Workload { role }
    }

    /// The call of transaction `i` of signer `k`.
    pub fn call(&self, k: usize, i: u64) -> (String, String, Vec<u8>) {
        let _ = self.role;
        // Placeholder-free default: certify is admin-only, so load keys use the
        // traceability workload once that contract lands (see `trace_call`).
        let member = Keypair::from_label(&format!("loadgen/member/{k}/{i}"));
        Certify { member: member.public(), roles: vec![Role::Producer], expires_ms: u64::MAX }.to_call()
    }
}

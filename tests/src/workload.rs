//! Workloads for the load generator: deterministic, valid transactions per signer.

use jialing_contracts::CallPayload;
use jialing_contracts::membership::Certify;
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
        }
    }
}

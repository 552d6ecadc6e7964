//! The membership guard: keeps who may connect in step with the ledger.
//!
//! Peer admission is decided by committed state: a peer may connect while its node key
//! belongs to an active organisation. When a block changes organisations or their node
//! keys (governance `set_node_keys`, `remove_org`, ...), the guard re-reads the member
//! node keys and, within half a second:
//! - cuts off every peer that lost membership: removed from Malachite's persistent
//!   peers (with `persistent_peers_only` that disconnects it and refuses it from then
//!   on) and from the gossip allow list (which closes its connections);
//! - admits peers that gained it: configured ones become persistent peers again.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jialing_core::PublicKey;
use malachitebft_engine::network::{Msg as NetworkMsg, NetworkRef, PersistentPeersOp};

use super::context::Ctx;
use super::gossip::{GossipControl, PeerUpdate, peer_id};
use super::{member_node_keys, peer_multiaddr};
use crate::app::Ledger;

/// How often the guard looks for a membership change.
const POLL: Duration = Duration::from_millis(500);

/// What changed between two sets of member node keys.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Keys that are members now and were not.
    pub added: Vec<PublicKey>,
    /// Keys that were members and are not now.
    pub removed: Vec<PublicKey>,
}

/// Compares the member node keys before and after a block.
pub fn diff(before: &BTreeSet<PublicKey>, after: &BTreeSet<PublicKey>) -> Change {
    Change { added: after.difference(before).copied().collect(), removed: before.difference(after).copied().collect() }
}

/// Runs until the process ends. `configured` are the peers from the config file (other
/// than this node); `members` the member node keys the network started with.
pub async fn run(
    ledger: Arc<Ledger>,
    own: PublicKey,
    configured: Vec<(PublicKey, SocketAddr)>,
    mut members: BTreeSet<PublicKey>,
    network: NetworkRef<Ctx>,
    gossip: GossipControl,
) {
    // The first tick always re-reads the membership, so a block committed between the
    // start-up read and this task's first run is not missed.
    let mut seen = u64::MAX;
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        let version = ledger.membership_version.load(Ordering::Acquire);
        if version == seen {
            continue;
        }
        let now = match member_node_keys(&ledger) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(target: "jialing::p2p", error = %e, "could not read the membership; peer admission unchanged");
                continue;
            }
        };
        seen = version;
        let change = diff(&members, &now);
        members = now;
        for key in &change.removed {
            if *key == own {
                tracing::error!(target: "jialing::p2p", key = %key, "this node's key is no longer a node key of a current organisation: peers will refuse it");
                continue;
            }
            apply(key, false, &configured, &network, &gossip).await;
            ledger.metrics.peers_refused.inc();
            tracing::warn!(target: "jialing::p2p", peer = %key, "peer removed from the membership by the ledger: disconnected and refused from now on");
        }
        for key in &change.added {
            if *key != own {
                apply(key, true, &configured, &network, &gossip).await;
                tracing::info!(target: "jialing::p2p", peer = %key, "peer admitted by the ledger's membership");
            }
        }
    }
}

/// Admits (`allow`) or cuts off one node key on both networks.
async fn apply(
    key: &PublicKey,
    allow: bool,
    configured: &[(PublicKey, SocketAddr)],
    network: &NetworkRef<Ctx>,
    gossip: &GossipControl,
) {
    let Ok(id) = peer_id(key) else { return };
    let _ = gossip.send(if allow { PeerUpdate::Allow(id) } else { PeerUpdate::Disallow(id) });
    for (k, a) in configured.iter().filter(|(k, _)| k == key) {
        let Ok(addr) = peer_multiaddr(k, *a) else { continue };
        let op = if allow { PersistentPeersOp::Add(addr) } else { PersistentPeersOp::Remove(addr) };
        match network.call(|reply| NetworkMsg::UpdatePersistentPeers(op, reply), Some(Duration::from_secs(5))).await {
            Ok(ractor::rpc::CallResult::Success(Ok(()))) => {}
            Ok(ractor::rpc::CallResult::Success(Err(e))) => {
                tracing::debug!(target: "jialing::p2p", peer = %key, error = %e, "persistent peer list already up to date");
            }
            Ok(other) => {
                tracing::error!(target: "jialing::p2p", peer = %key, result = ?other, "the consensus network did not answer a peer update");
            }
            Err(e) => {
                tracing::error!(target: "jialing::p2p", peer = %key, error = %e, "could not reach the consensus network to update peers");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jialing_core::Keypair;

    #[test]
    fn diff_names_who_joined_and_who_left() {
        let k = |l: &str| Keypair::from_label(l).public();
        let before: BTreeSet<_> = [k("a"), k("b"), k("c")].into();
        let after: BTreeSet<_> = [k("b"), k("c"), k("d")].into();
        assert_eq!(diff(&before, &after), Change { added: vec![k("d")], removed: vec![k("a")] });
        assert_eq!(diff(&after, &after), Change::default());
    }
}

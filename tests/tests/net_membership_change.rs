//! Peer admission follows the ledger at runtime: when governance removes an
//! organisation's node key, every validator cuts that node off (consensus network and
//! transaction gossip) within moments of the block that applies the change, with no
//! restart, and the rest of the network keeps committing.

use std::time::{Duration, Instant};

use jialing_contracts::CallPayload;
use jialing_contracts::governance::{Action, Approve, Propose};
use jialing_core::{Keypair, SignedTransaction, Transaction};
use jialing_tests::{Network, submit, wait_tx};

fn signed<P: CallPayload>(chain: &str, key: &Keypair, nonce: u64, p: &P) -> SignedTransaction {
    let (contract, method, payload) = p.to_call();
    Transaction { chain_id: chain.into(), signer: key.public(), nonce, contract, method, payload }.sign(key)
}

fn height(net: &Network, i: usize) -> u64 {
    net.node(i).ok().and_then(|n| n.get("/status").ok()).and_then(|v| v["height"].as_u64()).unwrap_or(0)
}

#[test]
fn a_node_key_removed_by_governance_is_cut_off_without_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 1, |_, t| t)?;
    for i in 0..5 {
        net.start(i)?;
    }
    let full = 4;
    net.node(full)?.wait_height(3, Duration::from_secs(90))?;

    // The full node's organisation and node key, from the genesis file.
    let node_key = jialing_genesis::keyfile::read(&net.net.join("node-4/keys/node.json"))?.public();
    let genesis = jialing_genesis::Genesis::load(&net.net.join("genesis.toml"))?;
    let org = genesis
        .organisations
        .iter()
        .find(|o| o.node_keys.contains(&node_key))
        .ok_or_else(|| anyhow::anyhow!("no organisation holds the full node's key"))?
        .uscc
        .clone();

    // Three of the four regulator bureaus (more than two thirds) remove its node keys.
    let url = net.configs[0].1.clone();
    let chain = net.chain_id.clone();
    let effective = height(&net, 0) + 12;
    let proposer = net.key("agri", "operator.json")?;
    let propose = signed(
        &chain,
        &proposer,
        0,
        &Propose { action: Action::SetNodeKeys { org, node_keys: vec![] }, effective_height: effective },
    );
    let (status, body) = submit(&url, std::slice::from_ref(&propose))?;
    assert_eq!(status, 200, "{body}");
    wait_tx(&url, &propose.hash(), Duration::from_secs(30))?;
    let id = propose.hash().to_hex();
    let approvals: Vec<SignedTransaction> = ["market", "credit"]
        .iter()
        .map(|s| net.key(s, "operator.json").map(|k| signed(&chain, &k, 0, &Approve { id: id.clone() })))
        .collect::<anyhow::Result<_>>()?;
    let (status, body) = submit(&url, &approvals)?;
    assert_eq!(status, 200, "{body}");
    for a in &approvals {
        let h = wait_tx(&url, &a.hash(), Duration::from_secs(30))?;
        assert!(h < effective, "approval committed at {h}, not before the effective height {effective}");
    }

    // The change applies at `effective`; give the guards a moment, then the full node
    // must fall behind for good while the validators go on.
    net.node(0)?.wait_height(effective + 2, Duration::from_secs(90))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while net.configs[..4].iter().enumerate().any(|(i, _)| {
        !net.node(i).map(|n| n.log_text()).unwrap_or_default().contains("peer removed from the membership")
    }) {
        assert!(Instant::now() < deadline, "not every validator logged the removal of the full node's key");
        std::thread::sleep(Duration::from_millis(200));
    }
    let cut = height(&net, full);
    let start = height(&net, 0);
    net.node(0)?.wait_height(start + 10, Duration::from_secs(90))?;
    let later = height(&net, full);
    assert!(
        later <= cut + 1,
        "the removed node still follows the chain: height {cut} when cut off, {later} after the validators made 10 more blocks"
    );
    assert!(cut >= effective - 1, "the full node fell behind before the change applied ({cut} < {effective})");
    // Its own guard saw the change in the block it did commit (if it got that far).
    let own = net.node(full)?.log_text();
    if later >= effective {
        assert!(own.contains("this node's key is no longer"), "the cut-off node did not log its removal");
    }
    // The validators still agree.
    let h = height(&net, 3).min(height(&net, 0));
    assert_eq!(net.block_at(0, h)?, net.block_at(3, h)?);
    Ok(())
}

//! A seeded, deterministic multi-node harness: four validators' hosts (real [`App`] and
//! fjall store each, in temporary directories) driven by [`AppMsg`] values over a
//! simulated network. The seed decides message delays (and so their order), losses, a
//! partition, a crash-and-reopen of one node's store, a sync server that first answers
//! with a tampered body, which validator proposes invalid blocks, and which
//! transactions are submitted; virtual time drives the block clock. The harness plays the engine: it asks the scheduled proposer for a
//! value, delivers the parts, decides when more than two thirds of the power holds the
//! value as valid (signing the certificate with the validators' keys), and otherwise
//! moves to the next round. Nodes that missed a height catch up by sync.
//!
//! Checked: every node ends with the same blocks (no fork), the chain reached the target
//! height, no block holds the Byzantine proposer's invalid block, and the same seed
//! gives the same run twice (blocks and trace).

use std::collections::BTreeSet;

use malachitebft_core_types::CommitCertificate as EngineCert;

use super::*;

/// SplitMix64: small, seedable, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// What goes wrong in a run, all decided by the seed.
struct Faults {
    /// Probability that a proposal part is lost, per mille.
    loss: u64,
    /// Largest delivery delay (ms); parts are delivered in delay order.
    max_delay: u64,
    /// Node cut off from the others for heights `from..to`.
    partition: (usize, u64, u64),
    /// Node that crashes at height `at` and reopens its store at height `back`.
    crash: (usize, u64, u64),
}

impl Faults {
    fn from_seed(rng: &mut Rng, heights: u64) -> Self {
        let c = rng.below(4) as usize;
        let at = 1 + rng.below(heights / 2);
        let back = at + 1 + rng.below(3);
        // A second node is cut off after the crashed one is back: never two of four
        // validators missing at once (the chain would rightly halt).
        let p = (c + 1 + rng.below(3) as usize) % 4;
        let from = back + rng.below(2);
        Faults {
            loss: 20 + rng.below(60),
            max_delay: 10 + rng.below(200),
            partition: (p, from, from + 1 + rng.below(3)),
            crash: (c, at, back),
        }
    }
}

/// What a run produced: compared between two runs of one seed.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    blocks: Vec<Hash>,
    trace: Vec<String>,
}

struct Sim {
    rng: Rng,
    faults: Faults,
    nodes: Vec<Option<Node>>,
    crashed: Vec<Option<tempfile::TempDir>>,
    now: u64,
    nonce: u64,
    trace: Vec<String>,
}

impl Sim {
    fn new(seed: u64, heights: u64) -> Self {
        let mut rng = Rng(seed);
        let faults = Faults::from_seed(&mut rng, heights);
        // One validator proposes invalid blocks (until it crashes, if it is the one).
        let byzantine = rng.below(4) as usize;
        let nodes = (0..VALIDATORS.len())
            .map(|i| {
                let n = node(Some(VALIDATORS[i]));
                Some(if i == byzantine {
                    Node { host: n.host.with_proposal_hook(Arc::new(InvalidBlock)), ..n }
                } else {
                    n
                })
            })
            .collect();
        let trace = vec![format!("node {byzantine} proposes invalid blocks")];
        Sim { rng, faults, nodes, crashed: vec![None, None, None, None], now: T0, nonce: 0, trace }
    }

    fn alive(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].is_some()).collect()
    }

    fn cut_off(&self, i: usize, height: u64) -> bool {
        let (p, from, to) = self.faults.partition;
        i == p && (from..to).contains(&height)
    }

    fn set_clocks(&mut self) {
        for n in self.nodes.iter().flatten() {
            n.clock.store(self.now, Ordering::Relaxed);
        }
    }

    fn crash_and_reopen(&mut self, height: u64) {
        let (c, at, back) = self.faults.crash;
        if height == at
            && let Some(n) = self.nodes[c].take()
        {
            self.trace.push(format!("h{height}: node {c} crashes"));
            self.crashed[c] = Some(n.crash());
        }
        if height == back
            && let Some(dir) = self.crashed[c].take()
        {
            self.trace.push(format!("h{height}: node {c} reopens its store"));
            let n = node_in(Some(VALIDATORS[c]), dir);
            n.clock.store(self.now, Ordering::Relaxed);
            self.nodes[c] = Some(n);
        }
    }

    /// Submits a few transactions to every live node's mempool (as gossip would).
    fn submit(&mut self) {
        let count = self.rng.below(4);
        for _ in 0..count {
            let tx = certify(self.nonce, &format!("sim/{}", self.nonce));
            self.nonce += 1;
            for n in self.nodes.iter().flatten() {
                let _ = n.host.ledger().submit(vec![(tx.clone(), tx.hash(), tx.to_bytes())]);
            }
        }
    }

    /// Brings every live, reachable node to `target` by sync from the first node that
    /// has each height; the server first lies (a transaction dropped) when the seed
    /// says so, which must cost only a peer fault.
    async fn catch_up(&mut self, target: u64, height_now: u64) {
        for j in 0..self.nodes.len() {
            if self.cut_off(j, height_now) {
                continue;
            }
            while let Some(tip) = self.nodes[j].as_ref().map(Node::tip) {
                if tip >= target {
                    break;
                }
                let h = tip + 1;
                let Some(src) =
                    (0..self.nodes.len()).find(|s| *s != j && self.nodes[*s].as_ref().is_some_and(|n| n.tip() >= h))
                else {
                    break;
                };
                let raw =
                    self.nodes[src].as_ref().map(|n| n.host.decided_values(Height(h), Height(h))).unwrap_or_default();
                let Some(value) = raw.into_iter().next() else { break };
                let block: Block = encoding::decode("synced", &value.value_bytes).unwrap();
                let lie = !block.txs.is_empty() && self.rng.chance(500);
                let n = self.nodes[j].as_mut().unwrap();
                if lie {
                    let mut bad = block.clone();
                    bad.txs.pop();
                    let out = n.synced_as(h, block.header.proposer, encoding::encode(&bad)).await;
                    assert!(matches!(out, SyncedValueOutcome::PeerFault), "a lying sync server costs a peer fault");
                    self.trace.push(format!("h{h}: node {j} refused a tampered sync answer from node {src}"));
                }
                let out = n.synced_as(h, block.header.proposer, value.value_bytes.to_vec()).await;
                assert!(is_valid(&out), "node {j} refused the certified block {h}: {out:?}");
                let c = value.certificate;
                let cert = EngineCert {
                    height: c.height,
                    round: c.round,
                    value_id: c.value_id,
                    commit_signatures: c
                        .commit_signatures
                        .into_iter()
                        .map(|s| EngineSignature::new(s.address, s.signature))
                        .collect(),
                };
                n.decided(cert).await.unwrap();
                self.trace.push(format!("h{h}: node {j} synced from node {src}"));
            }
        }
    }

    /// Decides `height`, round by round.
    async fn height(&mut self, height: u64) {
        self.crash_and_reopen(height);
        self.now += 1_000;
        self.set_clocks();
        self.submit();
        self.catch_up(height - 1, height).await;
        for round in 0..32u32 {
            let participants: Vec<usize> = self
                .alive()
                .into_iter()
                .filter(|i| !self.cut_off(*i, height) && self.nodes[*i].as_ref().is_some_and(|n| n.tip() + 1 == height))
                .collect();
            for i in &participants {
                let n = self.nodes[*i].as_mut().unwrap();
                n.started_round(height, round).await;
            }
            let org = scheduled(height, round);
            let prop = VALIDATORS.iter().position(|v| *v == org).unwrap();
            let mut valid = BTreeSet::new();
            let mut value = None;
            if participants.contains(&prop) {
                let n = self.nodes[prop].as_mut().unwrap();
                value = n.get_value(height, round).await.unwrap();
                let parts = n.drain_published();
                valid.insert(prop);
                // Every part to every other participant, unless lost, in delay order.
                let mut deliveries = Vec::new();
                for j in participants.iter().copied().filter(|j| *j != prop) {
                    for part in &parts {
                        if !self.rng.chance(self.faults.loss) {
                            deliveries.push((self.rng.below(self.faults.max_delay), deliveries.len(), j, part.clone()));
                        }
                    }
                }
                deliveries.sort_by_key(|(delay, seq, _, _)| (*delay, *seq));
                for (_, _, j, part) in deliveries {
                    let n = self.nodes[j].as_mut().unwrap();
                    if let Some(v) = n.stream(org, vec![part]).await
                        && Some(v.value) == value
                        && v.validity == Validity::Valid
                    {
                        valid.insert(j);
                    }
                }
            }
            if let (Some(id), true) = (value, valid.len() >= 3) {
                let keys: Vec<Keypair> = valid.iter().map(|i| validator(VALIDATORS[*i])).collect();
                let refs: Vec<&Keypair> = keys.iter().collect();
                let c = CommitCertificate::sign(CHAIN, height, round, id.0, &refs);
                let cert = EngineCertificate {
                    height: Height(height),
                    round: Round::new(round),
                    value_id: id,
                    commit_signatures: c
                        .signatures
                        .iter()
                        .map(|s| EngineSignature::new(Address(s.validator), s.signature))
                        .collect(),
                };
                for i in &valid {
                    self.nodes[*i].as_mut().unwrap().decided(cert.clone()).await.unwrap();
                }
                self.trace.push(format!("h{height} r{round}: {id} proposed by node {prop}, held valid by {valid:?}"));
                return;
            }
            self.trace.push(format!("h{height} r{round}: no quorum (proposer node {prop}, valid {valid:?})"));
            self.now += 500;
            self.set_clocks();
        }
        panic!("height {height}: no decision in 32 rounds");
    }

    async fn run(mut self, heights: u64) -> Outcome {
        for h in 1..=heights {
            self.height(h).await;
        }
        // Heal: reopen a crashed node, end the partition, everyone catches up.
        let (c, _, _) = self.faults.crash;
        if let Some(dir) = self.crashed[c].take() {
            self.nodes[c] = Some(node_in(Some(VALIDATORS[c]), dir));
        }
        self.faults.partition = (usize::MAX, 0, 0);
        self.catch_up(heights, heights + 1).await;
        let reference = self.nodes[0].as_ref().unwrap();
        let headers: Vec<_> =
            (1..=heights).map(|h| reference.host.ledger().store.block(h).unwrap().unwrap().header).collect();
        assert!(headers.iter().all(|h| h.state_root != Hash([9; 32])), "an invalid block was committed");
        let blocks: Vec<Hash> = headers.iter().map(|h| h.hash()).collect();
        for (i, n) in self.nodes.iter().enumerate() {
            let n = n.as_ref().unwrap();
            assert_eq!(n.tip(), heights, "node {i} reached the target");
            for (h, hash) in (1..=heights).zip(&blocks) {
                assert_eq!(&n.host.ledger().store.block(h).unwrap().unwrap().header.hash(), hash, "node {i} at {h}");
            }
        }
        Outcome { blocks, trace: self.trace }
    }
}

impl Node {
    /// A synced block as the engine hands it over, with the proposer's address.
    async fn synced_as(
        &mut self,
        height: u64,
        proposer: jialing_core::PublicKey,
        bytes: Vec<u8>,
    ) -> SyncedValueOutcome<Ctx> {
        let (reply, rx) = oneshot::channel();
        let msg = AppMsg::ProcessSyncedValue {
            height: Height(height),
            round: Round::new(0),
            proposer: Address(proposer),
            value_bytes: Bytes::from(bytes),
            reply,
        };
        self.send(msg).await.unwrap();
        rx.await.unwrap()
    }
}

/// Several seeds, each run twice: no fork, progress, and the same run both times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_runs_agree_and_repeat() {
    const HEIGHTS: u64 = 8;
    let mut traces = Vec::new();
    for seed in [1u64, 7, 2026] {
        let first = Sim::new(seed, HEIGHTS).run(HEIGHTS).await;
        let second = Sim::new(seed, HEIGHTS).run(HEIGHTS).await;
        assert_eq!(first, second, "seed {seed} gave two different runs");
        // Shown when the test fails (or with --nocapture).
        eprintln!("seed {seed}: {:#?}", first.trace);
        for what in ["crashes", "reopens its store", "synced from"] {
            assert!(first.trace.iter().any(|t| t.contains(what)), "seed {seed}: no {what:?}: {:#?}", first.trace);
        }
        traces.push(first.trace);
    }
    assert!(traces[0] != traces[1] && traces[1] != traces[2], "the seed matters");
}

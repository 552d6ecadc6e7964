//! Nodes in their own network namespaces (Linux, root): each node gets a namespace
//! with its own address on a switched network, which the test can cut in two and heal.
//!
//! Layout, for a network tagged `T` (from the test's pid) and subnet `10.S.0.0/16`:
//! - a hub namespace `T-hub` holds two bridges, `brA` and `brB`, joined by the veth
//!   pair `trA`/`trB` (the trunk). Each node namespace `T-n<i>` has `eth0`
//!   (`10.S.0.<i+1>/24`), the other end of which is a port of `brA` (group A) or `brB`.
//!   [`Netns::partition`] sets the trunk down: the two groups no longer reach each
//!   other, nodes within a group still do. [`Netns::heal`] sets it up again.
//! - a management veth per node, `mgmt0` (`10.S.<i+1>.2/30`) in the node's namespace
//!   and `jl<pid>m<i>` (`10.S.<i+1>.1/30`) in the root namespace, for the node's HTTP API:
//!   the test reaches every node even while the network is split, and nodes cannot
//!   reach each other through it (no forwarding, no default route).
//!
//! Everything is removed when the [`Netns`] is dropped (deleting a namespace deletes
//! its interfaces and the veth peers). Namespaces left by a test process that was
//! killed (so its drop never ran) are removed by the next [`Netns::create`].

use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::{Context, bail};

use crate::Network;

/// Prefix of every namespace this module creates.
const PREFIX: &str = "jlh";

/// Why namespace tests cannot run here, if they cannot: not root (`ip netns` needs
/// CAP_SYS_ADMIN), no `ip` command, or `JIALING_SKIP_NETNS` set.
pub fn unavailable() -> Option<String> {
    if std::env::var_os("JIALING_SKIP_NETNS").is_some() {
        return Some("JIALING_SKIP_NETNS is set".into());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().nth(1));
    if uid != Some("0") {
        return Some(format!("not running as root (uid {}): ip netns needs root", uid.unwrap_or("?")));
    }
    if Command::new("ip").arg("-V").output().map(|o| !o.status.success()).unwrap_or(true) {
        return Some("the `ip` command (iproute2) is missing".into());
    }
    None
}

/// A set of network namespaces, one per node, on a network that can be split in two.
pub struct Netns {
    tag: String,
    subnet: u8,
    nodes: usize,
    root_links: Vec<String>,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip").args(args).output().context("running ip")?;
    if !out.status.success() {
        bail!("ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Deletes namespaces left by test processes that no longer exist.
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else { return };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|r| r.split('-').next()) else { continue };
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

impl Netns {
    /// Creates namespaces for `nodes` nodes; node `i` is in group A when
    /// `group_a(i)`, otherwise in group B.
    pub fn create(nodes: usize, group_a: impl Fn(usize) -> bool) -> anyhow::Result<Self> {
        remove_stale();
        let pid = std::process::id();
        let tag = format!("{PREFIX}{pid}");
        // A /16 per test process, away from common private ranges.
        let subnet = 200 + (pid % 50) as u8;
        let mut me = Netns { tag, subnet, nodes: 0, root_links: Vec::new() };
        let hub = me.hub();
        ip(&["netns", "add", &hub])?;
        for args in [
            vec!["link", "add", "brA", "type", "bridge"],
            vec!["link", "add", "brB", "type", "bridge"],
            vec!["link", "add", "trA", "type", "veth", "peer", "name", "trB"],
            vec!["link", "set", "trA", "master", "brA"],
            vec!["link", "set", "trB", "master", "brB"],
            vec!["link", "set", "brA", "up"],
            vec!["link", "set", "brB", "up"],
            vec!["link", "set", "trA", "up"],
            vec!["link", "set", "trB", "up"],
        ] {
            let mut a = vec!["-n", hub.as_str()];
            a.extend(args);
            ip(&a)?;
        }
        for i in 0..nodes {
            let ns = me.ns(i);
            ip(&["netns", "add", &ns])?;
            me.nodes = i + 1;
            let port = format!("n{i}");
            let bridge = if group_a(i) { "brA" } else { "brB" };
            let addr = format!("{}/24", me.node_ip(i));
            ip(&["-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
            ip(&["-n", &hub, "link", "set", &port, "master", bridge])?;
            ip(&["-n", &hub, "link", "set", &port, "up"])?;
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            // Diagnosis knob (ADR 0003): cap TCP's retransmission backoff in the node's
            // namespace (Linux 6.15+), to tell TCP backoff from consensus timing.
            if let Ok(ms) = std::env::var("JIALING_NETNS_TCP_RTO_MAX_MS") {
                let set = format!("net.ipv4.tcp_rto_max_ms={ms}");
                ip(&["netns", "exec", &ns, "sysctl", "-q", "-w", &set])?;
            }
            // Management link for the API, from the root namespace.
            let root_end = format!("jl{pid}m{i}");
            ip(&["link", "add", &root_end, "type", "veth", "peer", "name", "mgmt0", "netns", &ns])?;
            me.root_links.push(root_end.clone());
            let (host, guest) = (me.api_peer(i), me.api_ip(i));
            ip(&["addr", "add", &format!("{host}/30"), "dev", &root_end])?;
            ip(&["link", "set", &root_end, "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("{guest}/30"), "dev", "mgmt0"])?;
            ip(&["-n", &ns, "link", "set", "mgmt0", "up"])?;
        }
        Ok(me)
    }

    fn hub(&self) -> String {
        format!("{}-hub", self.tag)
    }

    /// The namespace of node `i`.
    pub fn ns(&self, i: usize) -> String {
        format!("{}-n{i}", self.tag)
    }

    /// Node `i`'s address on the (splittable) node network.
    pub fn node_ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 0, i as u8 + 1)
    }

    /// Node `i`'s address on its management link (its API listens there).
    pub fn api_ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, i as u8 + 1, 2)
    }

    fn api_peer(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, i as u8 + 1, 1)
    }

    /// The command words that run a program in node `i`'s namespace (`ip netns exec`
    /// execs it, so the child's pid is the program's).
    pub fn launcher(&self, i: usize) -> Vec<String> {
        vec!["ip".into(), "netns".into(), "exec".into(), self.ns(i)]
    }

    /// Moves a generated (not yet started) network into the namespaces: rewrites every
    /// config's loopback addresses (node `j`'s consensus address becomes
    /// [`Netns::node_ip`], its API address [`Netns::api_ip`]; ports are kept) and sets
    /// the API URLs and launchers.
    pub fn adopt(&self, net: &mut Network) -> anyhow::Result<()> {
        anyhow::ensure!(net.configs.len() <= self.nodes, "{} nodes for {} namespaces", net.configs.len(), self.nodes);
        // Each node's own consensus and API ports, from its config.
        let mut own = Vec::new();
        for (config, _) in &net.configs {
            let text = std::fs::read_to_string(config)?;
            let listens: Vec<&str> = text
                .lines()
                .filter_map(|l| l.trim().strip_prefix("listen = \"127.0.0.1:"))
                .map(|r| r.trim_end_matches('"'))
                // The public listener of generated networks takes a kernel-picked port.
                .filter(|port| *port != "0")
                .collect();
            // [api] comes before [consensus] in generated configs.
            let [api, consensus] = listens[..] else { bail!("{}: expected two listen lines", config.display()) };
            own.push((api.to_string(), consensus.to_string()));
        }
        for (i, (config, url)) in net.configs.iter_mut().enumerate() {
            let mut text = std::fs::read_to_string(&*config)?;
            for (j, (_, cport)) in own.iter().enumerate() {
                text = text.replace(&format!("\"127.0.0.1:{cport}\""), &format!("\"{}:{cport}\"", self.node_ip(j)));
            }
            let aport = &own[i].0;
            text = text.replace(&format!("\"127.0.0.1:{aport}\""), &format!("\"{}:{aport}\"", self.api_ip(i)));
            text = text.replace("\"127.0.0.1:0\"", &format!("\"{}:0\"", self.api_ip(i)));
            anyhow::ensure!(!text.contains("127.0.0.1"), "{}: a loopback address is left", config.display());
            std::fs::write(&*config, text)?;
            *url = format!("http://{}:{aport}", self.api_ip(i));
            net.launchers[i] = self.launcher(i);
        }
        Ok(())
    }

    /// Splits the network: group A and group B no longer reach each other.
    pub fn partition(&self) -> anyhow::Result<()> {
        ip(&["-n", &self.hub(), "link", "set", "trA", "down"])
    }

    /// Heals the split.
    pub fn heal(&self) -> anyhow::Result<()> {
        ip(&["-n", &self.hub(), "link", "set", "trA", "up"])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Root-side veths go with their peers, but delete them explicitly in case a
        // namespace lingers (a process still inside it).
        for l in &self.root_links {
            let _ = ip(&["link", "del", l]);
        }
        for i in 0..self.nodes {
            let _ = ip(&["netns", "del", &self.ns(i)]);
        }
        let _ = ip(&["netns", "del", &self.hub()]);
    }
}

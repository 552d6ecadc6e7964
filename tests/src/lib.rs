//! Harness for integration tests with real processes: finds the built binaries, starts
//! `jialing-node` processes on loopback, talks to their HTTP API, kills them with
//! SIGKILL and restarts them. Every wait is bounded.

pub mod byzantine;
pub mod netns;
pub mod perturb;
pub mod workload;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// The directory holding the workspace's built binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    // Test executables live in target/<profile>/deps.
    let exe = std::env::current_exe().unwrap_or_default();
    let deps = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if deps.ends_with("deps") { deps.parent().map(Path::to_path_buf).unwrap_or(deps) } else { deps }
}

/// A file of the third-party test data (`../shared/testdata/REL`, or
/// `$JIALING_TESTDATA/REL`), read-only and never copied into the repository.
pub fn testdata(rel: &str) -> PathBuf {
    let base = std::env::var_os("JIALING_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    base.join(rel)
}

/// Path of a workspace binary, built (or brought up to date) once per test process:
/// `cargo test` does not rebuild another package's binaries, and a stale one from an
/// earlier build in a reused target directory would test old code.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let p = bin_dir().join(name);
    let mut built = BUILT.lock().map_err(|_| anyhow::anyhow!("binary build lock poisoned"))?;
    if !built.iter().any(|b| b == name) {
        let pkg = match name {
            "jialing" => "jialing-client",
            "byzantine-node" => "jialing-tests",
            _ => "jialing-node",
        };
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "-q", "-p", pkg, "--bin", name]);
        // Cargo sets these for the test; build scripts that declare them with
        // rerun-if-env-changed (ring does) would rerun and rebuild everything above them,
        // here and again at the next plain `cargo build`.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_", "CARGO_CRATE_", "CARGO_PRIMARY_", "CARGO_TARGET_TMPDIR"]
                .iter()
                .any(|p| k.starts_with(p))
            {
                cmd.env_remove(&*k);
            }
        }
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd.status()?;
        if !status.success() || !p.exists() {
            bail!("could not build {name}");
        }
        built.push(name.to_string());
    }
    Ok(p)
}

/// Runs a workspace binary to completion and returns its stdout.
pub fn run_bin(name: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(binary(name)?).args(args).output().with_context(|| format!("running {name}"))?;
    if !out.status.success() {
        bail!(
            "{name} {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A free TCP port on loopback, below the kernel's ephemeral range (see [`free_ports`]).
pub fn free_port() -> u16 {
    free_ports(1)
}

/// The first port of the kernel's ephemeral range, from which it picks the local port
/// of every outgoing connection.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        .unwrap_or(32768)
}

/// A running node process.
pub struct NodeProc {
    /// Its config file.
    pub config: PathBuf,
    /// Its API base URL.
    pub url: String,
    child: Option<Child>,
    log: PathBuf,
    /// The workspace binary and the arguments before `run --config CONFIG`.
    program: (String, Vec<String>),
    /// Command words put before the binary (e.g. `ip netns exec NS`); the wrapper must
    /// exec the binary, so that the child's pid is the node's.
    launcher: Vec<String>,
}

impl NodeProc {
    /// Starts `jialing-node run --config CONFIG` (logs to a file next to the config) and
    /// waits until `/health` answers.
    pub fn start(config: &Path, url: &str) -> anyhow::Result<Self> {
        Self::start_with(config, url, Vec::new())
    }

    /// [`NodeProc::start`] with another workspace binary that takes `run --config`
    /// after `args` (the test suite's `byzantine-node MODE`).
    pub fn start_program(config: &Path, url: &str, program: &str, args: &[&str]) -> anyhow::Result<Self> {
        let program = (program.to_string(), args.iter().map(|a| a.to_string()).collect());
        Self::launch(config, url, program, Vec::new())
    }

    /// As [`NodeProc::start`], launched through `launcher` (command words put before
    /// the binary, such as `ip netns exec NS`, which execs it).
    pub fn start_with(config: &Path, url: &str, launcher: Vec<String>) -> anyhow::Result<Self> {
        Self::launch(config, url, ("jialing-node".to_string(), Vec::new()), launcher)
    }

    fn launch(config: &Path, url: &str, program: (String, Vec<String>), launcher: Vec<String>) -> anyhow::Result<Self> {
        let log = config.with_extension("log");
        let mut p =
            NodeProc { config: config.to_path_buf(), url: url.to_string(), child: None, log, program, launcher };
        p.restart()?;
        Ok(p)
    }

    /// (Re)starts the process.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.spawn()?;
        self.wait_healthy()
    }

    /// Starts the process without waiting for it (see [`NodeProc::wait_healthy`]), so
    /// that several nodes can start at the same moment.
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        let logf = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let bin = binary(&self.program.0)?;
        let mut cmd = match self.launcher.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        let child = cmd
            .args(&self.program.1)
            .args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(logf.try_clone()?))
            .stderr(Stdio::from(logf))
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits (bounded) until the started process answers `/health`.
    pub fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if get(&format!("{}/health", self.url)).is_ok() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                // The log first, then the exit and the node's last error line, so the
                // cause is at the end of the output where CI excerpts look.
                let log = self.log_text();
                let last_error = log.lines().rev().find(|l| l.starts_with("error:")).unwrap_or("(no error line)");
                bail!("node exited with {status}; log:\n{log}\nnode exited with {status}: {last_error}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "node did not answer /health within 60 s; log:\n{}\nnode did not answer /health within 60 s",
            self.log_text()
        )
    }

    /// Kills the process with SIGKILL (no chance to flush anything).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL on Unix
            let _ = c.wait();
        }
    }

    /// Whether the process is running (started and not killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Sends `SIGSTOP` (the process freezes; the kernel keeps its sockets open).
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal("STOP")
    }

    /// Sends `SIGCONT` to a paused process.
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal("CONT")
    }

    fn signal(&self, sig: &str) -> anyhow::Result<()> {
        let pid = self.child.as_ref().map(Child::id).context("node is not running")?;
        let status = Command::new("kill").args(["-s", sig, &pid.to_string()]).status().context("running kill")?;
        anyhow::ensure!(status.success(), "kill -s {sig} {pid} failed: {status}");
        Ok(())
    }

    /// The process's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET {url}{path}` as JSON.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        get(&format!("{}{}", self.url, path))
    }

    /// `GET {url}{path}` as text (e.g. `/metrics`).
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let mut r = agent().get(&format!("{}{}", self.url, path)).call()?;
        Ok(r.body_mut().read_to_string()?)
    }

    /// `POST {url}{path}` with a JSON body; returns (status, JSON).
    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        post(&format!("{}{}", self.url, path), body)
    }

    /// Waits until the node's height reaches `h` (bounded).
    pub fn wait_height(&self, h: u64, timeout: Duration) -> anyhow::Result<u64> {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.get("/status")?["height"].as_u64().unwrap_or(0);
            if now >= h {
                return Ok(now);
            }
            if Instant::now() > deadline {
                bail!("height {now} did not reach {h} within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP client that reads error statuses as answers (30 s per request). One agent
/// keeps its connections open between requests.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// HTTP GET returning JSON (errors on non-2xx).
pub fn get(url: &str) -> anyhow::Result<Value> {
    let mut r = agent().get(url).call()?;
    let status = r.status().as_u16();
    let v: Value = r.body_mut().read_json()?;
    if !(200..300).contains(&status) {
        bail!("GET {url}: {status} {v}");
    }
    Ok(v)
}

/// HTTP POST of JSON returning (status, JSON).
pub fn post(url: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
    let mut r = agent().post(url).send_json(body)?;
    let status = r.status().as_u16();
    let v: Value = r.body_mut().read_json()?;
    Ok((status, v))
}

/// A one-validator testnet generated with `jialing-node testnet` in `dir`, started.
pub struct OneNode {
    /// The running node.
    pub node: NodeProc,
    /// The network directory.
    pub net: PathBuf,
    /// The chain id.
    pub chain_id: String,
    /// The genesis state.
    pub init: jialing_contracts::genesis_state::InitialState,
}

impl OneNode {
    /// Generates and starts the network.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        Self::start_with(dir, |text| text)
    }

    /// [`OneNode::start`], with `edit` changing the node's config text first.
    pub fn start_with(dir: &Path, edit: impl FnOnce(String) -> String) -> anyhow::Result<Self> {
        let port = free_port();
        let net = dir.join("net");
        let net_s = net.to_str().context("non-UTF-8 temp dir")?;
        run_bin("jialing-node", &["testnet", "--validators", "1", "--out", net_s, "--base-port", &port.to_string()])?;
        let init = jialing_genesis::Genesis::load(&net.join("genesis.toml"))?.initial_state();
        let config = net.join("node-0/config.toml");
        std::fs::write(&config, edit(std::fs::read_to_string(&config)?))?;
        let node = NodeProc::start(&config, &format!("http://127.0.0.1:{port}"))?;
        Ok(OneNode { node, chain_id: init.chain.chain_id.clone(), net, init })
    }

    /// The key file of organisation `short` (`admin.json` or `operator.json`).
    pub fn key(&self, short: &str, file: &str) -> anyhow::Result<jialing_core::Keypair> {
        Ok(jialing_genesis::keyfile::read(&self.net.join("org-keys").join(short).join(file))?)
    }
}

/// A block of `n` consecutive free TCP ports on loopback; returns the first.
///
/// The ports come from below the kernel's ephemeral range. A port the kernel handed
/// out as "free" (bind to port 0) is in that range, and while a test node is down
/// (killed and about to restart) any outgoing connection on the machine may take it as
/// its local port; the node's listener then fails to bind with "address in use". Below
/// the range only listeners compete, and each candidate is checked by binding it.
/// Blocks are spread by process id and a per-process counter, so parallel tests (and
/// test binaries) do not try the same ports first.
pub fn free_ports(n: u16) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    let n32 = u32::from(n.max(1));
    let high = u32::from(ephemeral_low());
    // Below the ephemeral range when it leaves room; otherwise the kernel's choice.
    let below = high >= LOW + 100 * n32;
    let span = high.saturating_sub(LOW + n32).max(1);
    let seed = std::process::id().wrapping_mul(2_654_435_761);
    for _ in 0..500 {
        let base = if below {
            let k = NEXT.fetch_add(n32, Ordering::Relaxed);
            LOW + seed.wrapping_add(k.wrapping_mul(7)) % span
        } else {
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_or(0, |a| u32::from(a.port()))
        };
        let Some(base) = u16::try_from(base).ok().filter(|b| *b != 0 && b.checked_add(n).is_some()) else { continue };
        let all_free = (base..base + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).map(drop).is_ok());
        if all_free {
            return base;
        }
    }
    0
}

/// Runs the `jialing` CLI against `node`: (exit code, stdout, stderr).
pub fn jialing(node: &str, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let out = Command::new(binary("jialing")?).arg("--node").arg(node).args(args).output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `jialing-node devnet` (five processes and the demo scenario) in `dir/devnet`,
/// killed on drop.
pub struct Devnet {
    child: Child,
    /// The full node's member API URL.
    pub full: String,
}

impl Devnet {
    /// Starts the devnet; its APIs take a free block of ports (public listeners too).
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        // APIs on api..api+4, public listeners on api+80..api+84: the whole block is free.
        let api = free_ports(85);
        let p2p = free_ports(10);
        let child = Command::new(binary("jialing-node")?)
            .args(["devnet", "--dir"])
            .arg(dir.join("devnet"))
            .args(["--port", &api.to_string(), "--p2p-port", &p2p.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Devnet { child, full: format!("http://127.0.0.1:{}", api + 4) })
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A multi-node testnet generated with `jialing-node testnet` (Malachite consensus over
/// libp2p between real processes on loopback).
pub struct Network {
    /// The network directory.
    pub net: PathBuf,
    /// Config file and API URL of every node (validators first, then full nodes).
    pub configs: Vec<(PathBuf, String)>,
    /// Started nodes, by index (`None` until started).
    pub nodes: Vec<Option<NodeProc>>,
    /// Per node, command words put before the binary (empty: run it directly).
    pub launchers: Vec<Vec<String>>,
    /// The chain id.
    pub chain_id: String,
}

impl Network {
    /// Generates a network of `validators` validators and `full_nodes` full nodes in
    /// `dir`, without starting it; `edit` may change each node's config text.
    pub fn generate(
        dir: &Path,
        validators: usize,
        full_nodes: usize,
        edit: impl Fn(usize, String) -> String,
    ) -> anyhow::Result<Self> {
        let n = validators + full_nodes;
        let api = free_ports(n as u16);
        let p2p = free_ports(2 * n as u16);
        let net = dir.join("net");
        let net_s = net.to_str().context("non-UTF-8 temp dir")?;
        run_bin(
            "jialing-node",
            &[
                "testnet",
                "--validators",
                &validators.to_string(),
                "--full-nodes",
                &full_nodes.to_string(),
                "--out",
                net_s,
                "--base-port",
                &api.to_string(),
                "--p2p-port",
                &p2p.to_string(),
            ],
        )?;
        let init = jialing_genesis::Genesis::load(&net.join("genesis.toml"))?.initial_state();
        let mut configs = Vec::new();
        for i in 0..n {
            let config = net.join(format!("node-{i}/config.toml"));
            let text = std::fs::read_to_string(&config)?;
            // Faster rounds for tests on a loaded 2-core machine.
            let text = text.replace("empty_block_wait_ms = 1000", "empty_block_wait_ms = 500");
            // Tests count heights on idle networks: an empty block every half second,
            // not every five minutes (the default). `idle_chain_stays_quiet` checks
            // the default's behaviour with its own interval.
            let text = text.replace("empty_block_interval_ms = 300000", "empty_block_interval_ms = 500");
            std::fs::write(&config, edit(i, text))?;
            configs.push((config, format!("http://127.0.0.1:{}", api + i as u16)));
        }
        Ok(Network {
            net,
            configs,
            nodes: (0..n).map(|_| None).collect(),
            launchers: vec![Vec::new(); n],
            chain_id: init.chain.chain_id,
        })
    }

    /// Starts node `i`.
    pub fn start(&mut self, i: usize) -> anyhow::Result<()> {
        let (config, url) = &self.configs[i];
        self.nodes[i] = Some(NodeProc::start_with(config, url, self.launchers[i].clone())?);
        Ok(())
    }

    /// Starts node `i` as a Byzantine proposer (`byzantine-node MODE`, see
    /// [`byzantine::hook`]).
    pub fn start_byzantine(&mut self, i: usize, mode: &str) -> anyhow::Result<()> {
        let (config, url) = &self.configs[i];
        self.nodes[i] = Some(NodeProc::start_program(config, url, "byzantine-node", &[mode])?);
        Ok(())
    }

    /// The running node `i`.
    pub fn node(&self, i: usize) -> anyhow::Result<&NodeProc> {
        self.nodes.get(i).and_then(Option::as_ref).with_context(|| format!("node {i} is not running"))
    }

    /// The running node `i`, mutably.
    pub fn node_mut(&mut self, i: usize) -> anyhow::Result<&mut NodeProc> {
        self.nodes.get_mut(i).and_then(Option::as_mut).with_context(|| format!("node {i} is not running"))
    }

    /// The key file of organisation `short` (`admin.json` or `operator.json`).
    pub fn key(&self, short: &str, file: &str) -> anyhow::Result<jialing_core::Keypair> {
        Ok(jialing_genesis::keyfile::read(&self.net.join("org-keys").join(short).join(file))?)
    }

    /// The organisation short names that have keys in this network.
    pub fn orgs(&self) -> anyhow::Result<Vec<String>> {
        let mut v: Vec<String> = std::fs::read_dir(self.net.join("org-keys"))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        v.sort();
        Ok(v)
    }

    /// Block hash and state root at height `h` as node `i` reports them.
    pub fn block_at(&self, i: usize, h: u64) -> anyhow::Result<(String, String)> {
        let b = self.node(i)?.get(&format!("/v1/block/{h}"))?;
        Ok((b["hash"].as_str().unwrap_or_default().into(), b["header"]["state_root"].to_string()))
    }
}

/// `n` signed `membership.certify` transactions by `admin` (nonces from `nonce`), each
/// certifying a fresh key with `role`.
pub fn certify_txs(
    chain_id: &str,
    admin: &jialing_core::Keypair,
    role: jialing_core::Role,
    nonce: u64,
    n: u64,
    tag: &str,
) -> Vec<jialing_core::SignedTransaction> {
    use jialing_contracts::CallPayload;
    (0..n)
        .map(|i| {
            let member = jialing_core::Keypair::from_label(&format!("test/{tag}/{i}"));
            let (contract, method, payload) = jialing_contracts::membership::Certify {
                member: member.public(),
                roles: vec![role],
                expires_ms: u64::MAX,
            }
            .to_call();
            jialing_core::Transaction {
                chain_id: chain_id.into(),
                signer: admin.public(),
                nonce: nonce + i,
                contract,
                method,
                payload,
            }
            .sign(admin)
        })
        .collect()
}

/// Submits transactions to a node's API; returns the HTTP status and the per-tx results.
pub fn submit(url: &str, txs: &[jialing_core::SignedTransaction]) -> anyhow::Result<(u16, Value)> {
    let hex: Vec<String> = txs.iter().map(|t| hex::encode(t.to_bytes())).collect();
    post(&format!("{url}/v1/txs"), &serde_json::json!({ "txs": hex }))
}

/// Waits until transaction `hash` is committed on the node at `url`; returns its height.
pub fn wait_tx(url: &str, hash: &jialing_core::Hash, timeout: Duration) -> anyhow::Result<u64> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(v) = get(&format!("{url}/v1/tx/{hash}"))
            && let Some(h) = v["height"].as_u64()
        {
            return Ok(h);
        }
        if Instant::now() > deadline {
            bail!("transaction {hash} not committed on {url} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_bindable_blocks_below_the_ephemeral_range() {
        let high = ephemeral_low();
        let a = free_ports(10);
        let b = free_ports(10);
        assert!(a != 0 && b != 0, "no free block found");
        if high >= 11_000 {
            assert!(a + 10 <= high && b + 10 <= high, "{a} or {b} reaches the ephemeral range from {high}");
        }
        assert!(a + 10 <= b || b + 10 <= a, "two blocks overlap: {a} and {b}");
        let held: Vec<_> = (a..a + 10).map(|p| std::net::TcpListener::bind(("127.0.0.1", p))).collect();
        assert!(held.iter().all(Result::is_ok), "a port of the block {a} is taken");
    }
}

/// An HTTP answer read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl RawResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A TCP connection to `to` from the loopback address `from` (e.g. 127.0.0.2, so a
/// test can be two clients as far as per-address limits go). Bounded connect, reads
/// and writes (10 s).
pub fn connect_from(from: std::net::IpAddr, to: std::net::SocketAddr) -> anyhow::Result<std::net::TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.bind(&std::net::SocketAddr::new(from, 0).into())?;
    sock.connect_timeout(&to.into(), Duration::from_secs(10))?;
    let stream: std::net::TcpStream = sock.into();
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(stream)
}

/// Sends one request (`Connection: close`) from `from` and reads the whole answer.
pub fn request_from(
    from: std::net::IpAddr,
    to: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> anyhow::Result<RawResponse> {
    use std::io::{Read, Write};
    let mut s = connect_from(from, to)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    // The body from another thread while this one reads: the server may answer (413)
    // and close before it has read a large body.
    let mut w = s.try_clone()?;
    let body = body.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&body);
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => raw.extend_from_slice(&buf[..k]),
        }
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    parse_response(&raw)
}

/// Parses an HTTP/1.1 answer (status line, headers, body as given).
pub fn parse_response(raw: &[u8]) -> anyhow::Result<RawResponse> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").context("no complete HTTP header in the answer")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .context("no status line")?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(RawResponse { status, headers, body: body.to_string() })
}

//! Harness for integration tests with real processes: finds the built binaries, starts
//! `jialing-node` processes on loopback, talks to their HTTP API, kills them with
//! SIGKILL and restarts them. Every wait is bounded.

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

/// Path of a workspace binary; builds it if missing.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let p = bin_dir().join(name);
    if !p.exists() {
        let pkg = if name == "jialing" { "jialing-client" } else { "jialing-node" };
        let status = Command::new(env!("CARGO")).args(["build", "-p", pkg, "--bin", name]).status()?;
        if !status.success() || !p.exists() {
            bail!("could not build {name}");
        }
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

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// A running node process.
pub struct NodeProc {
    /// Its config file.
    pub config: PathBuf,
    /// Its API base URL.
    pub url: String,
    child: Option<Child>,
    log: PathBuf,
}

impl NodeProc {
    /// Starts `jialing-node run --config CONFIG` (logs to a file next to the config) and
    /// waits until `/health` answers.
    pub fn start(config: &Path, url: &str) -> anyhow::Result<Self> {
        let log = config.with_extension("log");
        let mut p = NodeProc { config: config.to_path_buf(), url: url.to_string(), child: None, log };
        p.restart()?;
        Ok(p)
    }

    /// (Re)starts the process.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let logf = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(binary("jialing-node")?)
            .args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(logf.try_clone()?))
            .stderr(Stdio::from(logf))
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if get(&format!("{}/health", self.url)).is_ok() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                bail!("node exited with {status}; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("node did not answer /health within 60 s; log:\n{}", self.log_text())
    }

    /// Kills the process with SIGKILL (no chance to flush anything).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL on Unix
            let _ = c.wait();
        }
    }

    /// The process's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET {url}{path}` as JSON.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        get(&format!("{}{}", self.url, path))
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

fn agent() -> ureq::Agent {
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
        let port = free_port();
        let net = dir.join("net");
        let net_s = net.to_str().context("non-UTF-8 temp dir")?;
        run_bin("jialing-node", &["testnet", "--validators", "1", "--out", net_s, "--base-port", &port.to_string()])?;
        let init = jialing_genesis::Genesis::load(&net.join("genesis.toml"))?.initial_state();
        let node = NodeProc::start(&net.join("node-0/config.toml"), &format!("http://127.0.0.1:{port}"))?;
        Ok(OneNode { node, chain_id: init.chain.chain_id.clone(), net, init })
    }

    /// The key file of organisation `short` (`admin.json` or `operator.json`).
    pub fn key(&self, short: &str, file: &str) -> anyhow::Result<jialing_core::Keypair> {
        Ok(jialing_genesis::keyfile::read(&self.net.join("org-keys").join(short).join(file))?)
    }
}

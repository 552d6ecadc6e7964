//! Consumers and auditors against a real devnet (5 processes, Malachite BFT, the demo
//! scenario): the QR code `jialing qr` writes is decoded by a real decoder (zbarimg)
//! and its URL serves the consumer page; headless Chromium renders the page, whose
//! JavaScript re-checks the proof and shows the verified badge; malformed and unknown
//! codes get 400/404 pages; proofs verify offline with the genesis file and forged
//! ones fail; `audit replay` re-executes the chain and names the first divergence in a
//! tampered export (flipped byte, wrong signature, missing transaction).
//!
//! Needs `chromium` and `zbarimg` (Debian packages chromium, zbar-tools): `scripts/test`
//! installs them. Missing tools fail the test with that instruction.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jialing_core::{Block, CommitCertificate, encoding};
use jialing_tests::{Devnet, get, jialing};

const LOT: &str = "FD-POMELO-2026-001";
const GTIN: &str = "06901234567892";

fn tool(name: &str) -> anyhow::Result<()> {
    let ok = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output()?.status.success();
    anyhow::ensure!(ok, "{name} is not installed: run scripts/test (it installs chromium and zbar-tools)");
    Ok(())
}

fn http_status(url: &str) -> anyhow::Result<u16> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    Ok(agent.get(url).call()?.status().as_u16())
}

fn chromium_dom(url: &str, profile: &Path) -> anyhow::Result<String> {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--window-size=390,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stderr(Stdio::null())
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn consumer_page_qr_proofs_and_audit() -> anyhow::Result<()> {
    tool("chromium")?;
    tool("zbarimg")?;
    let dir = tempfile::tempdir()?;
    let devnet = Devnet::start(dir.path())?;
    let full = devnet.full.clone();
    let genesis = dir.path().join("devnet/genesis.toml");

    // Wait until the demo's lot is on the full node with its certificate.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if let Ok(v) = get(&format!("{full}/v1/lot/{LOT}"))
            && !v["lot"]["certificate"].is_null()
            && v["history"].as_array().is_some_and(|h| h.len() >= 9)
        {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the demo lot never reached the full node");
        std::thread::sleep(Duration::from_millis(250));
    }

    // QR code -> real decoder -> URL (with the chain fingerprint) -> page.
    let g_file = jialing_genesis::Genesis::load(&genesis)?;
    let fp = jialing_core::chain_identity::fingerprint(&g_file.initial_state().genesis_block()?.0.hash());
    let qr_dir = dir.path().join("qr");
    let (code, out, err) = jialing(&full, &["qr", LOT, "--out", qr_dir.to_str().unwrap_or(".")])?;
    anyhow::ensure!(code == 0, "jialing qr failed: {out}{err}");
    assert!(out.contains(&format!("chain fingerprint {fp}")), "jialing qr prints the fingerprint: {out}");
    let scanned = Command::new("zbarimg").args(["-q", "--raw"]).arg(qr_dir.join(format!("{LOT}.png"))).output()?;
    let url = String::from_utf8_lossy(&scanned.stdout).trim().to_string();
    assert_eq!(url, format!("{full}/01/{GTIN}/10/{LOT}?chain={fp}"), "decoded QR content");
    assert_eq!(http_status(&url)?, 200);

    // Headless Chromium: the facts, and the in-browser verification.
    let dom = chromium_dom(&url, &dir.path().join("chrome"))?;
    for fact in [
        "丰都红心柚",
        LOT,
        "丰都县红心柚专业合作社",
        "138-0000-0001",
        "承诺达标合格证",
        "毒死蜱",
        "采收日期",
        "流转记录",
        "未召回",
    ] {
        assert!(dom.contains(fact), "the page lacks {fact:?}:\n{dom}");
    }
    assert!(dom.contains("data-verified=\"yes\""), "the browser did not verify the proof:\n{dom}");
    assert!(dom.contains("个签名有效") && dom.contains(&fp), "no verified badge text");
    let ms = dom.split("data-ms=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string();
    let en = chromium_dom(&format!("{url}&lang=en"), &dir.path().join("chrome2"))?;
    assert!(en.contains("Certificate of compliance") && en.contains("Verified in your browser"), "English page:\n{en}");
    assert!(en.contains("verified as of block") && en.contains("s ago"), "freshness shown:\n{en}");
    // Without the fingerprint the page cannot check the node against anything.
    let bare = chromium_dom(&format!("{full}/01/{GTIN}/10/{LOT}?lang=en"), &dir.path().join("chrome3"))?;
    assert!(bare.contains("data-verified=\"no\"") && bare.contains("no chain fingerprint"), "no fingerprint:\n{bare}");

    // The verifier is a cached asset under its content hash.
    let page = ureq::get(&url).call()?.body_mut().read_to_string()?;
    let script = page.split("<script src=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string();
    assert!(script.starts_with("/assets/verify-") && script.ends_with(".js"), "{script}");
    let mut resp = ureq::get(&format!("{full}{script}")).call()?;
    let cache = resp.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(cache.contains("immutable"), "{cache}");
    let js = resp.body_mut().read_to_string()?;
    assert_eq!(http_status(&format!("{full}/assets/verify-0000000000000000.js"))?, 404);

    // The in-browser check really checks: the same page, served by a plain server in
    // front of the real node's answers, tampered, says exactly what failed.
    let latest = page.split("data-tx=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string();
    anyhow::ensure!(latest.len() == 64, "the page names no transaction to check");
    let good = get(&format!("{full}/v1/proof/lot/{LOT}?tx={latest}"))?;
    let size = serde_json::to_vec(&good)?.len();
    let history = serde_json::to_vec(&good["history"])?.len();
    let state = serde_json::to_vec(&good["state"])?.len();
    let siblings = good["state"]["proof"]["siblings"].as_array().map_or(0, Vec::len);
    eprintln!(
        "consumer proof: {size} bytes JSON (history {history}, lot state {state} with {siblings} siblings); page verified in {ms} ms"
    );
    let chain = good["chain_id"].as_str().unwrap_or_default().to_string();
    let server = StaticSite::start(page.clone(), js)?;
    let mut cases: Vec<(&str, String, serde_json::Value, &str)> = vec![("untampered", page.clone(), good.clone(), "")];
    let mut v = good.clone();
    v["latest_event"]["block"]["header"]["time_ms"] =
        serde_json::json!(good["latest_event"]["block"]["header"]["time_ms"].as_u64().unwrap_or(0) + 1);
    cases.push(("header", page.clone(), v, "is not the certified block"));
    let mut v = good.clone();
    v["latest_event"]["tx_hash"] = serde_json::json!("00".repeat(32));
    cases.push(("other-tx", page.clone(), v, "the proof is for transaction 0000"));
    let mut v = good.clone();
    let receipt = good["latest_event"]["receipt"]["bytes"].as_str().unwrap_or_default();
    anyhow::ensure!(receipt.get(64..66) == Some("00"), "the latest event's receipt does not say applied: {receipt}");
    v["latest_event"]["receipt"]["bytes"] = serde_json::json!(format!("{}01{}", &receipt[..64], &receipt[66..]));
    cases.push(("receipt", page.clone(), v, "receipt Merkle path does not reach its root"));
    let mut v = good.clone();
    if let Some(sigs) = v["latest_event"]["block"]["certificate"]["signatures"].as_array_mut() {
        for sg in sigs {
            let s = sg["signature"].as_str().unwrap_or_default();
            sg["signature"] = serde_json::json!(format!("{}{}", if s.starts_with('0') { "1" } else { "0" }, &s[1..]));
        }
    }
    cases.push(("signatures", page.clone(), v, "trusted validator signatures valid"));
    // A node that swaps the validator set and re-signs with its own keys.
    let mallory: Vec<jialing_core::Keypair> =
        (0..4).map(|i| jialing_core::Keypair::from_label(&format!("mallory/{i}"))).collect();
    let mset = jialing_core::ValidatorSet::new(
        mallory.iter().map(|k| jialing_core::Validator { public_key: k.public(), power: 1 }).collect(),
    )?;
    let resign = |v: &mut serde_json::Value| -> anyhow::Result<()> {
        let mut h: jialing_core::BlockHeader = serde_json::from_value(v["header"].clone())?;
        h.validator_set_hash = mset.hash();
        let keys: Vec<&jialing_core::Keypair> = mallory.iter().collect();
        let c = CommitCertificate::sign(&chain, h.height, 0, h.hash(), &keys);
        v["header"] = serde_json::to_value(&h)?;
        v["certificate"] = serde_json::to_value(&c)?;
        Ok(())
    };
    let mut v = good.clone();
    resign(&mut v["latest_event"]["block"])?;
    resign(&mut v["state"]["block"])?;
    v["untrusted_validators"] = serde_json::to_value(&mset)?;
    cases.push(("forged-set", page.clone(), v.clone(), "forged validator set"));
    // ... and also a genesis of its own naming that set: another chain.
    v["history"]["genesis_validators"] = serde_json::to_value(&mset)?;
    v["history"]["genesis"]["validator_set_hash"] = serde_json::json!(mset.hash());
    cases.push(("forged-genesis", page.clone(), v, "the node serves another chain"));
    // The state proof of another key.
    let product = get(&format!("{full}/v1/lot/{LOT}"))?["lot"]["product"].as_str().unwrap_or_default().to_string();
    let other = get(&format!("{full}/v1/proof/state?key=trace/product/{product}"))?;
    let mut v = good.clone();
    v["state"] = other["proof"].clone();
    v["state"].as_object_mut().map(|o| o.remove("kind"));
    cases.push(("other-key", page.clone(), v, "the state proof is for trace/product/"));
    // A forged lot record under the real proof.
    let mut v = good.clone();
    let value = good["state"]["value"].as_str().unwrap_or_default();
    v["state"]["value"] = serde_json::json!(format!("{}{}", &value[..value.len() - 2], "01"));
    cases.push(("lot-record", page.clone(), v, "the state value is not the one proven"));
    // A page whose status is not the proven one.
    let status = page.split("data-status=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string();
    let lying = page.replacen(&format!("data-status=\"{status}\""), "data-status=\"destroyed\"", 1);
    cases.push(("status", lying, good.clone(), "the page says status destroyed"));
    // A node whose newest certified block is older than the page's bound.
    let bound = page.split("data-max-age-ms=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
    let stale = page.replacen(&format!("data-max-age-ms=\"{bound}\""), "data-max-age-ms=\"1\"", 1);
    cases.push(("stale", stale, good.clone(), "节点可能落后"));
    for (i, (name, html, proof, want)) in cases.into_iter().enumerate() {
        server.serve(html, proof.to_string());
        let dom = chromium_dom(
            &format!("{}/01/{GTIN}/10/{LOT}?chain={fp}", server.url),
            &dir.path().join(format!("tamper{i}")),
        )?;
        let check = dom.split("id=\"jscheck\"").nth(1).and_then(|r| r.split("</p>").next()).unwrap_or_default();
        if want.is_empty() {
            assert!(check.contains("data-verified=\"yes\""), "{name}: the static copy did not verify: {check}");
        } else {
            assert!(check.contains("data-verified=\"no\"") && check.contains(want), "{name}: wanted {want:?}: {check}");
        }
    }

    // Malformed and unknown codes.
    assert_eq!(http_status(&format!("{full}/01/06901234567893/10/{LOT}"))?, 400, "bad check digit");
    assert_eq!(http_status(&format!("{full}/01/{GTIN}/10/NO-SUCH-LOT"))?, 404, "unknown lot");
    assert_eq!(http_status(&format!("{full}/01/{GTIN}"))?, 400, "truncated code");
    assert_eq!(http_status(&format!("{full}/01/{GTIN}/10/%FF%FE"))?, 400, "bad percent-encoding");

    // Proofs, offline with the genesis file; a forged one fails precisely.
    let lot = get(&format!("{full}/v1/lot/{LOT}"))?;
    let tx = lot["history"][0]["tx_hash"].as_str().unwrap_or_default().to_string();
    let (code, proof, err) = jialing(&full, &["proof", "tx", &tx])?;
    anyhow::ensure!(code == 0, "proof tx: {err}");
    let pf = dir.path().join("tx.json");
    std::fs::write(&pf, &proof)?;
    let g = genesis.to_str().unwrap_or_default();
    let (code, out, err) = jialing(&full, &["verify", pf.to_str().unwrap_or_default(), "--genesis", g])?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("VERIFIED") && out.contains(&tx), "{out}");
    assert!(out.contains("its receipt says it was applied"), "{out}");
    let forged = proof.replacen(&format!("\"tx_hash\": \"{}", &tx[..8]), "\"tx_hash\": \"00000000", 1);
    assert_ne!(forged, proof, "the proof names its transaction");
    std::fs::write(&pf, forged)?;
    let (code, _, err) = jialing(&full, &["verify", pf.to_str().unwrap_or_default(), "--genesis", g])?;
    assert_eq!(code, 6, "a forged proof must fail verification: {err}");
    assert!(err.contains("is not in block"), "{err}");
    let (code, proof, _) = jialing(&full, &["proof", "state", &format!("trace/lot/{LOT}")])?;
    assert_eq!(code, 0);
    std::fs::write(&pf, &proof)?;
    let (code, out, err) = jialing(&full, &["verify", pf.to_str().unwrap_or_default(), "--genesis", g])?;
    assert!(code == 0 && out.contains("holds the value"), "{out}{err}");
    let (code, proof, _) = jialing(&full, &["proof", "consistency", "1"])?;
    assert_eq!(code, 0);
    std::fs::write(&pf, &proof)?;
    let (code, out, err) = jialing(&full, &["verify", pf.to_str().unwrap_or_default(), "--genesis", g])?;
    assert!(code == 0 && out.contains("extends block 1"), "{out}{err}");

    // Audit: replay from the node, then from an export, then tampered exports. Raw
    // blocks are for members: unsigned, the replay is refused; signed, it runs.
    let history = dir.path().join("validators.json");
    let hs = history.to_str().unwrap_or_default();
    let (code, _, err) = jialing(&full, &["audit", "replay", "--genesis", g, "--quiet"])?;
    assert!(code != 0 && err.contains("unsigned_request"), "{err}");
    let auditor_key = dir.path().join("devnet/keys/audit/operator.json");
    let qk = auditor_key.to_str().unwrap_or_default();
    let (code, out, err) = jialing(
        &full,
        &["--query-key", qk, "audit", "replay", "--genesis", g, "--quiet", "--validator-history-out", hs],
    )?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("replayed_blocks=") && out.contains("OK:"), "{out}");
    // The devnet never changed its validators: an empty, valid history.
    let (code, out, err) =
        jialing(&full, &["verify", pf.to_str().unwrap_or_default(), "--genesis", g, "--validator-history", hs])?;
    assert!(code == 0 && out.contains("extends block 1"), "{out}{err}");
    // A signed audit report checks out offline; an edited one does not.
    let key = dir.path().join("auditor.json");
    let rep = dir.path().join("report.json");
    let (ks, rs) = (key.to_str().unwrap_or_default(), rep.to_str().unwrap_or_default());
    let (code, _, err) = jialing(&full, &["keys", "new", "--out", ks])?;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        jialing(&full, &["--query-key", qk, "audit", "report", "--genesis", g, "--key", ks, "--out", rs])?;
    assert!(code == 0 && out.contains("no findings"), "{out}{err}");
    let (code, out, err) = jialing(&full, &["verify", rs, "--genesis", g])?;
    assert!(code == 0 && out.contains("VERIFIED: audit report") && out.contains("of 4 validators"), "{out}{err}");
    let edited = std::fs::read_to_string(&rep)?.replacen("\"txs\": ", "\"txs\": 1", 1);
    std::fs::write(&rep, edited)?;
    let (code, _, err) = jialing(&full, &["verify", rs, "--genesis", g])?;
    assert!(code == 6 && err.contains("changed after signing"), "{err}");

    // The full node's query log: the auditor's signed reads above are in it, and the
    // node anchors its head on the ledger within ten seconds (devnet setting).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (out, err) = loop {
        let (code, out, err) = jialing(&full, &["--query-key", qk, "audit", "queries", "--genesis", g])?;
        assert_eq!(code, 0, "{out}{err}");
        if out.contains("anchored on the ledger at") || Instant::now() > deadline {
            break (out, err);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(out.contains("anchored on the ledger at") && out.contains("/v1/blocks/raw"), "{out}{err}");
    // A copy of the log: intact, it verifies; edited, reordered or cut, it fails with
    // the line where it breaks.
    let st = get(&format!("{full}/status"))?;
    let log_id = st["query_audience"].as_str().unwrap_or_default().to_string();
    let log_file = dir.path().join("devnet/node-4/data/audit/queries.jsonl");
    let copy = dir.path().join("queries.jsonl");
    std::fs::copy(&log_file, &copy)?;
    let cs = copy.to_str().unwrap_or_default();
    let (code, out, err) = jialing(&full, &["audit", "queries", "--file", cs, "--log", &log_id, "--genesis", g])?;
    assert!(code == 0 && out.contains("chain intact"), "{out}{err}");
    let log_lines: Vec<String> = std::fs::read_to_string(&copy)?.lines().map(|l| format!("{l}\n")).collect();
    assert!(log_lines.len() >= 3, "{} entries", log_lines.len());
    let check = |name: &str, text: String, line: usize| -> anyhow::Result<()> {
        std::fs::write(&copy, text)?;
        let (code, out, err) = jialing(&full, &["audit", "queries", "--file", cs, "--log", &log_id])?;
        assert_eq!(code, 6, "{name}: must fail\n{out}{err}");
        assert!(err.contains(&format!("line {line}")), "{name}: {err}");
        Ok(())
    };
    let mut edited = log_lines.clone();
    edited[0] = edited[0].replacen("/v1/", "/v2/", 1);
    check("edited", edited.concat(), 2)?;
    let mut reordered = log_lines.clone();
    reordered.swap(0, 1);
    check("reordered", reordered.concat(), 1)?;
    // Cut to nothing: the ledger's anchor still counts the removed entries.
    check("cut", String::new(), 1)?;

    let export = dir.path().join("chain.hex");
    let (code, _, err) =
        jialing(&full, &["--query-key", qk, "audit", "export", "--out", export.to_str().unwrap_or_default()])?;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<String> = std::fs::read_to_string(&export)?.lines().map(str::to_string).collect();
    let h = lot["history"][3]["height"].as_u64().unwrap_or(1) as usize;
    let (block, cert): (Block, Option<CommitCertificate>) =
        encoding::decode("block", &hex::decode(&lines[h])?).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tampered = |name: &str, b: &Block, c: &Option<CommitCertificate>, expect: &str| -> anyhow::Result<()> {
        let mut l = lines.clone();
        l[h] = hex::encode(encoding::encode(&(b.clone(), c.clone())));
        let f = dir.path().join(format!("{name}.hex"));
        std::fs::write(&f, l.join("\n"))?;
        let (code, out, err) = jialing(
            &full,
            &["audit", "replay", "--genesis", g, "--quiet", "--blocks", f.to_str().unwrap_or_default()],
        )?;
        assert_eq!(code, 6, "{name}: replay must fail\n{out}{err}");
        assert!(err.contains(&format!("height {h}")) && err.contains(expect), "{name}: {err}");
        Ok(())
    };
    // A flipped byte in a transaction's payload.
    let mut b = block.clone();
    if let Some(x) = b.txs.first_mut().and_then(|t| t.tx.payload.last_mut()) {
        *x ^= 1;
    }
    tampered("flipped", &b, &cert, "tx_root")?;
    // A wrong signature on a transaction: the certified header's tx_root commits to
    // the exact signed transactions, so another signature is another block.
    let mut b = block.clone();
    if let Some(t) = b.txs.first_mut() {
        t.signature.0[5] ^= 1;
    }
    tampered("badsig", &b, &cert, "tx_root")?;
    // A missing transaction.
    let mut b = block.clone();
    b.txs.clear();
    tampered("missing", &b, &cert, "tx_count")?;
    // A wrong certificate signature.
    let mut c = cert.clone();
    if let Some(c) = c.as_mut() {
        c.signatures[0].signature.0[0] ^= 1;
    }
    tampered("badcert", &block, &c, "certificate")?;
    Ok(())
}

/// A static HTTP server for the browser tamper test: `/v1/proof/lot/...` answers the
/// proof last set, `/assets/...` the verifier script, any other path the page last set.
struct StaticSite {
    url: String,
    current: std::sync::Arc<std::sync::Mutex<(String, String)>>,
}

impl StaticSite {
    fn start(page: String, script: String) -> anyhow::Result<Self> {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let current = std::sync::Arc::new(std::sync::Mutex::new((page, String::new())));
        let shared = current.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header.trim() != "" {
                    header.clear();
                }
                let (page, proof) = shared.lock().map(|p| p.clone()).unwrap_or_default();
                let (ct, body) = if path.starts_with("/v1/proof/lot/") {
                    ("application/json", proof)
                } else if path.starts_with("/assets/") {
                    ("text/javascript", script.clone())
                } else {
                    ("text/html; charset=utf-8", page)
                };
                let mut out = reader.into_inner();
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Ok(StaticSite { url, current })
    }

    fn serve(&self, page: String, proof: String) {
        if let Ok(mut p) = self.current.lock() {
            *p = (page, proof);
        }
    }
}

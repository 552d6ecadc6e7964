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

    // QR code -> real decoder -> URL -> page.
    let qr_dir = dir.path().join("qr");
    let (code, out, err) = jialing(&full, &["qr", LOT, "--out", qr_dir.to_str().unwrap_or(".")])?;
    anyhow::ensure!(code == 0, "jialing qr failed: {out}{err}");
    let scanned = Command::new("zbarimg").args(["-q", "--raw"]).arg(qr_dir.join(format!("{LOT}.png"))).output()?;
    let url = String::from_utf8_lossy(&scanned.stdout).trim().to_string();
    assert_eq!(url, format!("{full}/01/{GTIN}/10/{LOT}"), "decoded QR content");
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
    assert!(dom.contains("个签名有效"), "no verified badge text");
    let en = chromium_dom(&format!("{url}?lang=en"), &dir.path().join("chrome2"))?;
    assert!(en.contains("Certificate of compliance") && en.contains("Verified in your browser"), "English page:\n{en}");

    // The in-browser check really checks: the same page, served by a plain static
    // server with a tampered proof, says exactly what failed.
    let page = ureq::get(&url).call()?.body_mut().read_to_string()?;
    let latest = page.split("data-tx=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string();
    anyhow::ensure!(latest.len() == 64, "the page names no transaction to check");
    let good = get(&format!("{full}/v1/proof/tx/{latest}"))?;
    let server = StaticSite::start(page)?;
    let mut cases: Vec<(&str, serde_json::Value, &str)> = vec![("untampered", good.clone(), "")];
    let mut v = good.clone();
    v["proof"]["block"]["header"]["time_ms"] =
        serde_json::json!(good["proof"]["block"]["header"]["time_ms"].as_u64().unwrap_or(0) + 1);
    cases.push(("header", v, "is not the certified block"));
    let mut v = good.clone();
    v["proof"]["tx_hash"] = serde_json::json!("00".repeat(32));
    cases.push(("other-tx", v, "the proof is for transaction 0000"));
    let mut v = good.clone();
    let receipt = good["proof"]["receipt"]["bytes"].as_str().unwrap_or_default();
    anyhow::ensure!(receipt.get(64..66) == Some("00"), "the latest event's receipt does not say applied: {receipt}");
    v["proof"]["receipt"]["bytes"] = serde_json::json!(format!("{}01{}", &receipt[..64], &receipt[66..]));
    cases.push(("receipt", v, "receipt Merkle path does not reach receipts_root"));
    let mut v = good.clone();
    if let Some(sigs) = v["proof"]["block"]["certificate"]["signatures"].as_array_mut() {
        for sg in sigs {
            let s = sg["signature"].as_str().unwrap_or_default();
            sg["signature"] = serde_json::json!(format!("{}{}", if s.starts_with('0') { "1" } else { "0" }, &s[1..]));
        }
    }
    cases.push(("signatures", v, "only 0 of 4 validator signatures valid"));
    let mut v = good.clone();
    v["untrusted_validators"]["validators"][0]["power"] = serde_json::json!(100);
    cases.push(("validators", v, "validator set does not match the header"));
    for (i, (name, proof, want)) in cases.into_iter().enumerate() {
        server.serve_proof(proof.to_string());
        let dom = chromium_dom(&format!("{}/01/{GTIN}/10/{LOT}", server.url), &dir.path().join(format!("tamper{i}")))?;
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

/// A static HTTP server for the browser tamper test: `/v1/proof/tx/...` answers the
/// proof last set, any other path the consumer page.
struct StaticSite {
    url: String,
    proof: std::sync::Arc<std::sync::Mutex<String>>,
}

impl StaticSite {
    fn start(page: String) -> anyhow::Result<Self> {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let proof = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let current = proof.clone();
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
                let (ct, body) = if path.starts_with("/v1/proof/tx/") {
                    ("application/json", current.lock().map(|p| p.clone()).unwrap_or_default())
                } else {
                    ("text/html; charset=utf-8", page.clone())
                };
                let mut out = reader.into_inner();
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Ok(StaticSite { url, proof })
    }

    fn serve_proof(&self, proof: String) {
        if let Ok(mut p) = self.proof.lock() {
            *p = proof;
        }
    }
}

//! Signed checkpoints against a real one-validator node: `/v1/checkpoint/*` notes are
//! read by a second, independent parser written here from the C2SP signed-note and
//! tlog-checkpoint texts (base64 decoded by hand, the precommit bytes rebuilt by hand),
//! and `jialing checkpoint watch` reports two nodes that publish different checkpoints
//! for one height (exit code 6) and agreement otherwise.

#![allow(clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use jialing_tests::{OneNode, binary, get};

/// Standard base64 (RFC 4648, padded), decoded without a library.
fn b64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = A.iter().position(|a| *a == c).expect("base64 digit") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    jialing_core::hash::sha256_parts(parts).0
}

/// An independent reading of a checkpoint note; checks every signature line whose key
/// is in `validators` and returns (origin, size, block hash, signatures that verified).
fn read_note(text: &str, chain: &str, validators: &[[u8; 32]]) -> (String, u64, Vec<u8>, usize) {
    let (body, sigs) = text.split_once("\n\n").expect("a blank line ends the body");
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines.len() >= 3, "origin, size and hash lines: {body}");
    let size: u64 = lines[1].parse().expect("tree size");
    let hash = b64(lines[2]);
    assert_eq!(hash.len(), 32);
    let ext = |k: &str| lines[3..].iter().find_map(|l| l.strip_prefix(k)).expect(k).to_string();
    let round: u32 = ext("round ").parse().expect("round");
    assert_eq!(b64(&ext("state ")).len(), 32);
    let height = size - 1;
    let mut ok = 0;
    for line in sigs.lines() {
        let rest = line.strip_prefix("\u{2014} ").expect("signature lines start with an em dash");
        let (name, blob) = rest.split_once(' ').expect("name and signature");
        let blob = b64(blob);
        assert_eq!(blob.len(), 68, "4-byte key id and a 64-byte Ed25519 signature");
        for key in validators {
            if name != format!("{chain}/validator/{}", &hex::encode(key)[..16]) {
                continue;
            }
            let id = sha(&[name.as_bytes(), b"\n", &[0xff], b"jialing-precommit", key]);
            assert_eq!(&blob[..4], &id[..4], "key id of {name}");
            // Precommit: kind 1, height, round, Some(hash), validator; then the
            // domain-separated message jialing signs.
            let mut vote = vec![1u8];
            vote.extend_from_slice(&height.to_le_bytes());
            vote.extend_from_slice(&round.to_le_bytes());
            vote.push(1);
            vote.extend_from_slice(&hash);
            vote.extend_from_slice(key);
            let digest = sha(&[&vote]);
            let mut msg = b"jialing/sig/v1\0".to_vec();
            msg.extend_from_slice(&(chain.len() as u32).to_le_bytes());
            msg.extend_from_slice(chain.as_bytes());
            msg.push(3);
            msg.extend_from_slice(&digest);
            let sig: [u8; 64] = blob[4..].try_into().expect("64 bytes");
            if jialing_core::crypto::verify_raw(key, &msg, &sig).is_ok() {
                ok += 1;
            }
        }
    }
    (lines[0].to_string(), size, hash, ok)
}

fn text(url: &str) -> anyhow::Result<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = agent.get(url).call()?;
    Ok((r.status().as_u16(), r.body_mut().read_to_string()?))
}

/// Serves one fixed text for every path.
fn serve_forever(body: String) -> anyhow::Result<String> {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim() != "" {
                line.clear();
            }
            let mut out = reader.into_inner();
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(url)
}

#[test]
fn checkpoints_parse_independently_and_watch_reports_a_fork() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let one = OneNode::start_with(dir.path(), |t| {
        t.replace("checkpoint_every_blocks = 10", "checkpoint_every_blocks = 3")
            .replace("empty_block_interval_ms = 30000", "empty_block_interval_ms = 200")
    })?;
    let url = one.node.url.clone();
    one.node.wait_height(7, Duration::from_secs(120))?;
    let validators: Vec<[u8; 32]> = one.init.validator_set()?.validators.iter().map(|v| v.public_key.0).collect();
    let fp = jialing_core::chain_identity::fingerprint(&one.init.genesis_block()?.0.hash());

    let (status, latest) = text(&format!("{url}/v1/checkpoint/latest"))?;
    assert_eq!(status, 200, "{latest}");
    let (origin, size, hash, signed) = read_note(&latest, &one.chain_id, &validators);
    assert_eq!(origin, format!("jialing/{}/{fp}", one.chain_id));
    let height = size - 1;
    assert!(height >= 6 && height % 3 == 0, "latest checkpoint at {height}");
    assert_eq!(signed, validators.len(), "every precommit verifies:\n{latest}");
    let block = get(&format!("{url}/v1/block/{height}"))?;
    assert_eq!(hex::encode(&hash), block["hash"].as_str().unwrap_or_default(), "the note names the certified block");
    let (status, at) = text(&format!("{url}/v1/checkpoint/{height}"))?;
    assert_eq!((status, at.as_str()), (200, latest.as_str()));
    assert_eq!(text(&format!("{url}/v1/checkpoint/4"))?.0, 404, "not a checkpoint height");
    assert_eq!(text(&format!("{url}/v1/checkpoint/x"))?.0, 400);
    // The core parser reads the same note.
    let parsed = jialing_core::checkpoint::parse(&latest)?;
    assert_eq!(parsed.checkpoint.height, height);
    assert_eq!(parsed.verify(&one.init.validator_set()?)?, one.init.validator_set()?.total_power());

    // Two honest answers agree.
    let genesis = one.net.join("genesis.toml");
    let jialing = binary("jialing")?;
    let watch = |nodes: &[&str]| -> anyhow::Result<(i32, String)> {
        let out = Command::new(&jialing)
            .args(["checkpoint", "watch", "--rounds", "1", "--genesis"])
            .arg(&genesis)
            .args(nodes)
            .output()?;
        let s = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok((out.status.code().unwrap_or(-1), s))
    };
    let (code, out) = watch(&[&url, &url])?;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 node(s) agree"), "{out}");

    // A node on a fork: the same height, another block hash (re-signed or not, the
    // body differs). Without --genesis the watcher still sees the disagreement.
    let b64_hash = latest.lines().nth(2).unwrap_or_default().to_string();
    let forged = latest.replacen(&b64_hash, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1);
    let fork = serve_forever(forged)?;
    let out = Command::new(&jialing).args(["checkpoint", "watch", "--rounds", "1", &url, &fork]).output()?;
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(6), "{s}{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.contains(&format!("DISAGREEMENT at height {height}")), "{s}");
    // With the genesis file, the forged note's signatures do not verify.
    let (code, out) = watch(&[&url, &fork])?;
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("voting power") && out.contains("genesis validator set"), "{out}");

    // Anchoring: the checkpoint as a self-contained document, checked offline.
    let doc = dir.path().join("anchor.json");
    let out = Command::new(&jialing)
        .args(["--node", &url, "anchor", "export", "--height", &height.to_string(), "--out"])
        .arg(&doc)
        .output()?;
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{s}{}", String::from_utf8_lossy(&out.stderr));
    let embed = format!("jialing-anchor/v1 {fp} {height} {}", hex::encode(&hash));
    assert!(s.contains(&embed), "{s}");
    let verify = |file: &std::path::Path| -> anyhow::Result<(i32, String)> {
        let out =
            Command::new(&jialing).args(["anchor", "verify"]).arg(file).arg("--genesis").arg(&genesis).output()?;
        let s = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok((out.status.code().unwrap_or(-1), s))
    };
    let (code, out) = verify(&doc)?;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VERIFIED") && out.contains(&embed), "{out}");
    let text = std::fs::read_to_string(&doc)?;
    let mut v: serde_json::Value = serde_json::from_str(&text)?;
    v["state_root"] = serde_json::json!("00".repeat(32));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, v.to_string())?;
    let (code, out) = verify(&bad)?;
    assert_eq!(code, 6, "{out}");
    let mut v: serde_json::Value = serde_json::from_str(&text)?;
    v["certified"]["header"]["time_ms"] = serde_json::json!(v["time_ms"].as_u64().unwrap_or(0) + 1);
    std::fs::write(&bad, v.to_string())?;
    let (code, out) = verify(&bad)?;
    assert_eq!(code, 6, "{out}");
    Ok(())
}

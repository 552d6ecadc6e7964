//! The HTTP API under abuse, against a real node process (issue 9, item 10): a client
//! sending its headers byte by byte is cut off; a flooding client gets 429 (rate) or 503
//! (concurrency) with `Retry-After` while another client is still served; an oversized
//! body gets 413; the public listener has limits of its own and serves no submission.
//! Every wait is bounded; nothing waits on a fixed sleep.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use jialing_tests::{OneNode, connect_from, parse_response, request_from};

const CLIENT_A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const CLIENT_B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn member_addr(n: &OneNode) -> SocketAddr {
    n.node.url.trim_start_matches("http://").parse().unwrap()
}

fn public_addr(n: &OneNode) -> SocketAddr {
    let s = n.node.get("/status").unwrap();
    s["public_api"].as_str().expect("status names the public listener").trim_start_matches("http://").parse().unwrap()
}

/// Replaces `key = old` by `key = new` in the TOML section `[section]` only.
fn set(text: &str, section: &str, key: &str, value: &str) -> String {
    let mut out = String::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.starts_with('[') {
            current = line.trim_matches(|c| c == '[' || c == ']').to_string();
        }
        if current == section && line.split('=').next().map(str::trim) == Some(key) {
            out.push_str(&format!("{key} = {value}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(out.contains(&format!("{key} = {value}")), "no {key} in [{section}]");
    out
}

/// A slowloris client: the request line and headers one byte every 100 ms. The node
/// closes the connection once `header_read_timeout_ms` (here 1 s) has passed, and it
/// serves another client meanwhile.
#[test]
fn slow_header_client_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let n = OneNode::start_with(dir.path(), |t| set(&t, "api.limits", "header_read_timeout_ms", "1000")).unwrap();
    let to = member_addr(&n);
    let mut s = connect_from(CLIENT_A, to).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let request = b"GET /status HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let started = Instant::now();
    let mut closed_after = None;
    let mut answer = Vec::new();
    for b in request.iter() {
        if s.write_all(&[*b]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        // Waits at most 100 ms for the node to close (or answer).
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(k) => answer.extend_from_slice(&buf[..k]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => {
                closed_after = Some(started.elapsed());
                break;
            }
        }
        // Meanwhile another client is served normally.
        if started.elapsed() > Duration::from_millis(500) && started.elapsed() < Duration::from_millis(700) {
            let r = request_from(CLIENT_B, to, "GET", "/health", b"").unwrap();
            assert_eq!(r.status, 200);
        }
    }
    let closed_after = closed_after.unwrap_or_else(|| {
        panic!(
            "the node kept a slow-header connection open for {:?} (the whole request dribbled in); answer: {}",
            started.elapsed(),
            String::from_utf8_lossy(&answer)
        )
    });
    eprintln!("slow-header connection closed after {closed_after:?} (timeout 1 s)");
    assert!(closed_after >= Duration::from_millis(900), "closed too early: {closed_after:?}");
    assert!(closed_after < Duration::from_secs(5), "closed too late: {closed_after:?}");
    assert!(answer.is_empty() || !String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

/// A client over its rate gets 429 `rate_limited` with `Retry-After`, another client
/// address is still served; the same holds on the public listener, and flooding the
/// public listener leaves the member API serving.
#[test]
fn flooding_client_gets_429_with_retry_after_while_another_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let n = OneNode::start_with(dir.path(), |t| {
        let t = set(&t, "api.limits", "rate_per_second", "5");
        let t = set(&t, "api.limits", "rate_burst", "20");
        let t = set(&t, "api.public.limits", "rate_per_second", "2");
        set(&t, "api.public.limits", "rate_burst", "5")
    })
    .unwrap();
    let (member, public) = (member_addr(&n), public_addr(&n));
    for (name, to, burst) in [("member", member, 20), ("public", public, 5)] {
        let mut limited = None;
        let started = Instant::now();
        for i in 0..(burst * 3) {
            let r = request_from(CLIENT_A, to, "GET", "/health", b"").unwrap();
            if r.status == 429 {
                limited = Some((i, r));
                break;
            }
            assert_eq!(r.status, 200, "{name}: {r:?}");
        }
        let (i, r) = limited
            .unwrap_or_else(|| panic!("{name}: {} requests in {:?}, none refused", burst * 3, started.elapsed()));
        eprintln!("{name}: request {i} refused after {:?}: {r:?}", started.elapsed());
        assert_eq!(r.json()["error"]["code"], "rate_limited", "{r:?}");
        let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
        assert!(retry >= 1, "{r:?}");
        // Another client is served at once, on the same listener and on the member API.
        let other = request_from(CLIENT_B, to, "GET", "/health", b"").unwrap();
        assert_eq!(other.status, 200, "{name}: {other:?}");
        let other = request_from(CLIENT_B, member, "GET", "/status", b"").unwrap();
        assert_eq!(other.status, 200, "{name}: {other:?}");
    }
}

/// With one request slot, a request whose body trickles in holds it: another request
/// gets 503 `overloaded` with `Retry-After` at once; the held request ends with 408
/// `timeout` after `request_timeout_ms`, and the slot frees.
#[test]
fn concurrency_limit_sheds_load_with_503_and_request_timeout_frees_the_slot() {
    let dir = tempfile::tempdir().unwrap();
    let n = OneNode::start_with(dir.path(), |t| {
        let t = set(&t, "api.limits", "max_concurrent_requests", "1");
        set(&t, "api.limits", "request_timeout_ms", "1500")
    })
    .unwrap();
    let to = member_addr(&n);
    let mut slow = connect_from(CLIENT_A, to).unwrap();
    slow.write_all(
        b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"txs\":",
    )
    .unwrap();
    let started = Instant::now();
    // Bounded poll until the slow request holds the slot.
    let mut shed = None;
    while started.elapsed() < Duration::from_millis(1200) {
        let r = request_from(CLIENT_B, to, "GET", "/status", b"").unwrap();
        if r.status == 503 {
            shed = Some(r);
            break;
        }
    }
    let r = shed.expect("a second request while the only slot is held gets 503");
    assert_eq!(r.json()["error"]["code"], "overloaded", "{r:?}");
    assert!(r.header("retry-after").is_some(), "{r:?}");
    let mut raw = Vec::new();
    let _ = slow.read_to_end(&mut raw);
    let held = started.elapsed();
    let answer = parse_response(&raw).unwrap();
    eprintln!("held request answered after {held:?}: {answer:?}");
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(answer.json()["error"]["code"], "timeout");
    assert!(held < Duration::from_secs(10), "{held:?}");
    assert_eq!(request_from(CLIENT_B, to, "GET", "/status", b"").unwrap().status, 200);
}

/// A body over the listener's limit (default 8 MiB on the member API) gets 413
/// `body_too_large`; the public listener takes no submission at all.
#[test]
fn oversized_body_gets_413_and_public_listener_takes_no_submission() {
    let dir = tempfile::tempdir().unwrap();
    let n = OneNode::start(dir.path()).unwrap();
    let (member, public) = (member_addr(&n), public_addr(&n));
    let big = format!("{{\"txs\": [\"{}\"]}}", "00".repeat(9 * 512 * 1024));
    let r = request_from(CLIENT_A, member, "POST", "/v1/txs", big.as_bytes()).unwrap();
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(r.json()["error"]["code"], "body_too_large", "{r:?}");
    let r = request_from(CLIENT_A, public, "POST", "/v1/txs", b"{\"txs\": []}").unwrap();
    assert!(r.status == 404 || r.status == 405, "{r:?}");
    let r = request_from(CLIENT_A, public, "GET", "/v1/nonce/00", b"").unwrap();
    assert_eq!(r.status, 404, "{r:?}");
    // Public routes are there.
    for path in ["/health", "/status", "/v1/block/latest", "/v1/methods"] {
        assert_eq!(request_from(CLIENT_A, public, "GET", path, b"").unwrap().status, 200, "{path}");
    }
}

/// Issue 9, item 9 over HTTP: a key over `mempool.max_per_signer` gets 429
/// `too_many_pending` with `Retry-After`, a nonce beyond the window 409
/// `nonce_too_far`; another member's transaction is still taken.
#[test]
fn a_flooding_key_is_capped_with_its_own_codes() {
    use jialing_contracts::CallPayload;
    use jialing_contracts::membership::Certify;
    use jialing_core::{Keypair, Role, Transaction};
    let dir = tempfile::tempdir().unwrap();
    let n = OneNode::start_with(dir.path(), |t| {
        let t = set(&t, "mempool", "max_per_signer", "3");
        set(&t, "mempool", "nonce_window", "50")
    })
    .unwrap();
    let chain = n.chain_id.clone();
    let certify = |signer: &Keypair, nonce: u64| {
        let member = Keypair::from_label(&format!("m{nonce}")).public();
        let (contract, method, payload) =
            Certify { member, roles: vec![Role::Producer], expires_ms: u64::MAX }.to_call();
        let tx = Transaction { chain_id: chain.clone(), signer: signer.public(), nonce, contract, method, payload };
        format!("{{\"tx\": \"{}\"}}", hex::encode(tx.sign(signer).to_bytes()))
    };
    let to = member_addr(&n);
    let flooder = n.key("pomelo", "admin.json").unwrap();
    // Far-future nonces, so none of them can commit while the test runs.
    for nonce in 10..13 {
        let r = request_from(CLIENT_A, to, "POST", "/v1/tx", certify(&flooder, nonce).as_bytes()).unwrap();
        assert_eq!(r.status, 202, "{r:?}");
    }
    let r = request_from(CLIENT_A, to, "POST", "/v1/tx", certify(&flooder, 13).as_bytes()).unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (429, Some("too_many_pending")), "{r:?}");
    assert!(r.header("retry-after").is_some(), "{r:?}");
    let other = n.key("cattle", "admin.json").unwrap();
    let r = request_from(CLIENT_A, to, "POST", "/v1/tx", certify(&other, 50).as_bytes()).unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (409, Some("nonce_too_far")), "{r:?}");
    let r = request_from(CLIENT_A, to, "POST", "/v1/tx", certify(&other, 0).as_bytes()).unwrap();
    assert_eq!(r.status, 202, "{r:?}");
}

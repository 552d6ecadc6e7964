//! The consumer page's verifier (`node/assets/verify.js`) in headless Chromium against
//! the fixtures `jialing-core` is checked against (`core/testdata/verify-vectors.json`,
//! `core/tests/it/verify_vectors.rs`): header and validator-set bytes, precommit bytes
//! and Ed25519 signatures, RFC 9162 paths, sparse Merkle state proofs and a pinned
//! validator history, each with a tampered case that must fail.
//!
//! Needs `chromium` (`scripts/test` installs it).

use std::process::{Command, Stdio};

const SCRIPT: &str = include_str!("../../node/assets/verify.js");
const VECTORS: &str = include_str!("../../core/testdata/verify-vectors.json");

/// Runs every vector through `globalThis.Jialing` and writes the verdict into #out.
const RUNNER: &str = r#"
(async () => {
  const J = globalThis.Jialing, V = VECTORS, errs = []; let n = 0;
  const check = (c, m) => { n++; if (!c) errs.push(m); };
  const fails = async (f, m) => { n++; try { await f(); errs.push('no error: ' + m); } catch (e) {} };
  const te = new TextEncoder();
  try {
    for (const x of V.headers) {
      check(J.toHex(J.headerBytes(x.header)) === x.bytes, 'header bytes');
      check(await J.headerHash(x.header) === x.hash, 'header hash');
    }
    for (const x of V.validator_sets) {
      check(J.toHex(J.validatorSetBytes(x.set)) === x.bytes, 'validator set bytes');
      check(J.toHex(await J.sha(J.validatorSetBytes(x.set))) === x.hash, 'validator set hash');
    }
    for (const x of V.votes) {
      const vb = J.voteBytes(x.height, x.round, x.block_hash, x.validator);
      check(J.toHex(vb) === x.bytes, 'vote bytes');
      const dg = await J.sha(vb);
      check(J.toHex(dg) === x.digest, 'vote digest');
      const sb = J.signingBytes(x.chain_id, 3, dg);
      check(J.toHex(sb) === x.signing_bytes, 'signing bytes');
      const key = await crypto.subtle.importKey('raw', J.hex(x.validator), { name: 'Ed25519' }, false, ['verify']);
      check(await crypto.subtle.verify({ name: 'Ed25519' }, key, J.hex(x.signature), sb), 'vote signature');
      const bad = J.hex(x.signature); bad[0] ^= 1;
      check(!(await crypto.subtle.verify({ name: 'Ed25519' }, key, bad, sb)), 'flipped vote signature accepted');
    }
    for (const x of V.inclusion) {
      const leaf = await J.leafHash(J.hex(x.data));
      check(J.toHex(leaf) === x.leaf_hash, 'leaf hash');
      await J.inclusion(leaf, x.proof, x.root, 'vector');
      await fails(() => J.inclusion(leaf, x.proof, '00'.repeat(32), 'vector'), 'inclusion under another root');
      if (x.proof.path.length > 0) {
        const p = JSON.parse(JSON.stringify(x.proof)); p.path[0] = '11'.repeat(32);
        await fails(() => J.inclusion(leaf, p, x.root, 'vector'), 'inclusion with a changed sibling');
      }
    }
    for (const x of V.state) {
      const v = x.value === null ? null : J.hex(x.value);
      await J.stateProof(x.root, te.encode(x.key), v, x.proof);
      await fails(() => J.stateProof(x.root, te.encode(x.key), v === null ? te.encode('x') : J.hex(x.value + '00'), x.proof), 'state with another value');
      await fails(() => J.stateProof('00'.repeat(32), te.encode(x.key), v, x.proof), 'state under another root');
    }
    const h = V.history;
    const sets = await J.history(h.valid, h.fingerprint);
    check(JSON.stringify(J.setAt(sets, 6)) === JSON.stringify(h.set_after), 'set after the change');
    check(JSON.stringify(J.setAt(sets, 5)) === JSON.stringify(h.valid.genesis_validators), 'set before the change');
    await fails(() => J.history(h.forged, h.fingerprint), 'history with a change signed by the new set');
    await fails(() => J.history(h.valid, 'ff' + h.fingerprint.slice(2)), 'history under another fingerprint');
  } catch (e) { errs.push('threw: ' + e.message); }
  const out = document.getElementById('out');
  out.textContent = errs.length ? 'FAIL ' + errs.join('; ') : 'PASS ' + n;
})();
"#;

#[test]
fn verifier_script_matches_core_vectors_in_chromium() -> anyhow::Result<()> {
    let ok = Command::new("sh").arg("-c").arg("command -v chromium").output()?.status.success();
    anyhow::ensure!(ok, "chromium is not installed: run scripts/test (it installs it)");
    let dir = tempfile::tempdir()?;
    let page = format!(
        "<!doctype html><html><body><pre id=\"out\">not run</pre><script>{SCRIPT}</script><script>const VECTORS = {VECTORS};{RUNNER}</script></body></html>"
    );
    let file = dir.path().join("vectors.html");
    std::fs::write(&file, page)?;
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--virtual-time-budget=10000"])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .stderr(Stdio::null())
        .output()?;
    let dom = String::from_utf8_lossy(&out.stdout);
    let verdict = dom.split("<pre id=\"out\">").nth(1).and_then(|r| r.split("</pre>").next()).unwrap_or_default();
    assert!(verdict.starts_with("PASS "), "the verifier disagrees with core's vectors: {verdict}");
    let n: u32 = verdict[5..].trim().parse()?;
    assert!(n >= 60, "only {n} checks ran");
    Ok(())
}

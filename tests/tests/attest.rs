//! Document attestation (存证) against a real one-validator node: a 100 MB file is
//! hashed (streaming) and attested with `jialing attest record`; `attest proof` fetches
//! its state proofs and `attest verify` proves it offline with the genesis file; a copy
//! with one flipped byte fails; after `attest revoke` the same file verifies as revoked.

use std::io::Write;
use std::process::Command;

use jialing_tests::{OneNode, binary};

#[test]
fn a_100_mb_file_is_attested_verified_offline_and_revoked() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let one = OneNode::start_with(dir.path(), |t| {
        t.replace("empty_block_interval_ms = 30000", "empty_block_interval_ms = 200")
    })?;
    let url = one.node.url.clone();
    let key = one.net.join("org-keys/pomelo/admin.json");
    let genesis = one.net.join("genesis.toml");
    let jialing = binary("jialing")?;
    let run = |args: &[&std::ffi::OsStr]| -> anyhow::Result<(i32, String)> {
        let out = Command::new(&jialing).arg("--node").arg(&url).args(args).output()?;
        Ok((
            out.status.code().unwrap_or(-1),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        ))
    };
    let os = |s: &str| std::ffi::OsString::from(s);

    // 100 MB of varied bytes.
    let file = dir.path().join("report.bin");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&file)?);
    let block: Vec<u8> = (0..1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for i in 0..100u8 {
        let mut b = block.clone();
        b[0] = i;
        f.write_all(&b)?;
    }
    f.flush()?;
    drop(f);

    let t = std::time::Instant::now();
    let (code, out) = run(&[
        &os("attest"),
        &os("record"),
        file.as_os_str(),
        &os("--key"),
        key.as_os_str(),
        &os("--id"),
        &os("REPORT-2026-1"),
        &os("--type"),
        &os("inspection-report"),
        &os("--link"),
        &os("lot:FD-POMELO-2026-001"),
    ])?;
    assert_eq!(code, 0, "{out}");
    eprintln!("attest record of 100 MB: {:?}", t.elapsed());
    let proof = dir.path().join("proof.json");
    let (code, out) = run(&[&os("attest"), &os("proof"), file.as_os_str(), &os("--out"), proof.as_os_str()])?;
    assert_eq!(code, 0, "{out}");
    eprintln!("attestation proof: {} bytes", std::fs::metadata(&proof)?.len());
    let verify = |f: &std::path::Path, p: &std::path::Path| {
        run(&[
            &os("attest"),
            &os("verify"),
            f.as_os_str(),
            &os("--proof"),
            p.as_os_str(),
            &os("--genesis"),
            genesis.as_os_str(),
        ])
    };
    let (code, out) = verify(&file, &proof)?;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VERIFIED") && out.contains("REPORT-2026-1") && out.contains("not revoked"), "{out}");

    // Certificates after a validator-set change need the certified history of the
    // sets; a file that is not one is refused with what it is.
    let (code, out) = run(&[
        &os("attest"),
        &os("verify"),
        file.as_os_str(),
        &os("--proof"),
        proof.as_os_str(),
        &os("--genesis"),
        genesis.as_os_str(),
        &os("--validator-history"),
        genesis.as_os_str(),
    ])?;
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("is not a validator history"), "{out}");

    // One flipped byte: another document.
    let flipped = dir.path().join("flipped.bin");
    std::fs::copy(&file, &flipped)?;
    let mut bytes = std::fs::OpenOptions::new().write(true).open(&flipped)?;
    use std::io::{Seek, SeekFrom};
    bytes.seek(SeekFrom::Start(50 * 1024 * 1024 + 7))?;
    bytes.write_all(&[0xA5])?;
    drop(bytes);
    let (code, out) = verify(&flipped, &proof)?;
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("is not the attested one"), "{out}");

    // A forged proof (the attestation's value changed) fails too.
    let mut p: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&proof)?)?;
    let v = p["attestation"]["value"].as_str().unwrap_or_default().to_string();
    let flip = if &v[20..21] == "0" { "1" } else { "0" };
    p["attestation"]["value"] = serde_json::json!(format!("{}{flip}{}", &v[..20], &v[21..]));
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, p.to_string())?;
    let (code, out) = verify(&file, &forged)?;
    assert_eq!(code, 6, "{out}");

    // Revoked: the same file still verifies, and says so.
    let (code, out) = run(&[
        &os("attest"),
        &os("revoke"),
        &os("REPORT-2026-1"),
        &os("--reason"),
        &os("superseded by a corrected report"),
        &os("--key"),
        key.as_os_str(),
    ])?;
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&[&os("attest"), &os("proof"), file.as_os_str(), &os("--out"), proof.as_os_str()])?;
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify(&file, &proof)?;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("REVOKED") && out.contains("superseded by a corrected report"), "{out}");
    // Attesting it again is refused (one document, one attestation).
    let (code, out) = run(&[&os("attest"), &os("record"), file.as_os_str(), &os("--key"), key.as_os_str()])?;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("attest.digest_unique"), "{out}");

    // Large files by the Merkle root of 1 MiB chunks: the flipped copy, attested so.
    let (code, out) = run(&[
        &os("attest"),
        &os("record"),
        flipped.as_os_str(),
        &os("--key"),
        key.as_os_str(),
        &os("--id"),
        &os("REPORT-2026-2"),
        &os("--chunk-size"),
        &os("1048576"),
    ])?;
    assert_eq!(code, 0, "{out}");
    let chunked = dir.path().join("chunked.json");
    let (code, out) = run(&[
        &os("attest"),
        &os("proof"),
        flipped.as_os_str(),
        &os("--chunk-size"),
        &os("1048576"),
        &os("--out"),
        chunked.as_os_str(),
    ])?;
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify(&flipped, &chunked)?;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("REPORT-2026-2") && out.contains("not revoked"), "{out}");
    let (code, out) = verify(&file, &chunked)?;
    assert_eq!(code, 6, "the original is not the chunk-attested copy: {out}");
    Ok(())
}

//! The data exchange's whole process on a real devnet (5 processes, the demo scenario):
//! the compute-in-place licence accepted with its result hash, the silent buyer's trade
//! settled as deemed accepted, the disputed trade settled by arbitration with a partial
//! refund, escrow conserved on each, the voucher pledged to the bank, the bank's
//! demand matched into a negotiation; and `jialing data digest|verify|prove|check-chunk`
//! against the registered version of the demo dataset (a changed file fails with exit
//! code 6).

use std::time::{Duration, Instant};

use jialing_tests::{Devnet, get, jialing};
use serde_json::Value;

const DATASET: &str = "date,product,price_fen_per_kg\n2026-03-01,red-heart pomelo,860\n2026-03-01,beef,7200\n";

fn licence<'a>(all: &'a Value, id: &str) -> Option<&'a Value> {
    all["licences"].as_array()?.iter().map(|l| &l["licence"]).find(|l| l["id"] == id)
}

#[test]
fn data_exchange_whole_process_on_a_devnet() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let devnet = Devnet::start(dir.path())?;
    let full = devnet.full.clone();
    let audit_key = dir.path().join("devnet/keys/audit/operator.json");
    let audit_key = audit_key.to_str().unwrap_or_default();
    let buyer = "91500000MA5U20002J";

    // Wait until the demo's last data step (the silent buyer's settlement) is on the full node.
    let deadline = Instant::now() + Duration::from_secs(300);
    let all = loop {
        let (code, out, _) = jialing(&full, &["--json", "query", "licences", buyer, "--key", audit_key])?;
        if code == 0 {
            let v: Value = serde_json::from_str(&out)?;
            if licence(&v, "LIC-2026-0002").is_some_and(|l| l["status"] == "settled") {
                break v;
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "the demo's data trades never settled on the full node");
        std::thread::sleep(Duration::from_millis(500));
    };
    let l1 = licence(&all, "LIC-2026-0001").ok_or_else(|| anyhow::anyhow!("no LIC-2026-0001"))?;
    assert_eq!((l1["status"].as_str(), l1["acceptance"].as_str()), (Some("settled"), Some("buyer")), "{l1}");
    assert_eq!(l1["compute_job"]["job_id"], "JOB-0001");
    let l2 = licence(&all, "LIC-2026-0002").ok_or_else(|| anyhow::anyhow!("no LIC-2026-0002"))?;
    assert_eq!(l2["acceptance"], "deemed", "{l2}");
    let l3 = licence(&all, "LIC-2026-0003").ok_or_else(|| anyhow::anyhow!("no LIC-2026-0003"))?;
    assert_eq!((l3["status"].as_str(), l3["acceptance"].as_str()), (Some("settled"), Some("arbitrated")), "{l3}");
    assert_eq!(
        (l3["refunded_fen"].as_u64(), l3["fee_fen"].as_u64(), l3["paid_fen"].as_u64()),
        (Some(1_500_000), Some(70_000), Some(3_430_000))
    );
    for l in [l1, l2, l3] {
        let sum = ["paid_fen", "fee_fen", "refunded_fen"].iter().map(|f| l[f].as_u64().unwrap_or(0)).sum::<u64>();
        assert_eq!(Some(sum), l["escrowed_fen"].as_u64(), "escrow not conserved: {l}");
    }

    let v = get(&format!("{full}/v1/data/voucher/DAV-2026-0001"))?;
    assert_eq!(v["voucher"]["status"], "pledged", "{v}");
    assert_eq!(v["voucher"]["value_fen"], 80_000_000u64);
    let market = get(&format!("{full}/v1/data/market"))?;
    assert!(
        market["listings"].as_array().is_some_and(|l| l.iter().any(|p| p["product"] == "FD-PRICE-2026")),
        "{market}"
    );
    let lineage = get(&format!("{full}/v1/data/lineage/FD-PRICE-2026"))?;
    assert_eq!(lineage["product"], "FD-PRICE-2026");
    let bank = "91500230MA5U300010";
    let (code, out, err) = jialing(&full, &["--json", "query", "licences", bank, "--key", audit_key])?;
    anyhow::ensure!(code == 0, "licences of the bank: {out}{err}");
    let v: Value = serde_json::from_str(&out)?;
    assert!(licence(&v, "LIC-2026-0004").is_some_and(|l| l["status"] == "negotiating"), "{v}");

    // The dataset tools against the registered version.
    let file = dir.path().join("prices.csv");
    std::fs::write(&file, DATASET)?;
    let f = file.to_str().unwrap_or_default();
    let (code, out, err) = jialing(&full, &["--json", "data", "digest", f])?;
    anyhow::ensure!(code == 0, "digest: {out}{err}");
    let digest: Value = serde_json::from_str(&out)?;
    let product = get(&format!("{full}/v1/data/product/FD-PRICE-2026"))?;
    assert_eq!(digest["digest"], product["product"]["version_hash"]);
    let (code, out, err) = jialing(&full, &["data", "verify", f, "--product", "FD-PRICE-2026"])?;
    assert_eq!(code, 0, "verify: {out}{err}");
    let proof = dir.path().join("p.json");
    let chunk = dir.path().join("c.bin");
    let (p, c) = (proof.to_str().unwrap_or_default(), chunk.to_str().unwrap_or_default());
    let (code, out, err) = jialing(&full, &["data", "prove", f, "--chunk", "0", "--out", p, "--chunk-out", c])?;
    assert_eq!(code, 0, "prove: {out}{err}");
    let (code, out, err) = jialing(&full, &["data", "check-chunk", c, "--proof", p, "--product", "FD-PRICE-2026"])?;
    assert_eq!(code, 0, "check-chunk: {out}{err}");
    std::fs::write(&file, DATASET.replace("7200", "7300"))?;
    let (code, _, err) = jialing(&full, &["data", "verify", f, "--product", "FD-PRICE-2026"])?;
    assert_eq!(code, 6, "a changed file must fail verification: {err}");
    assert!(err.contains("not the registered version"), "{err}");
    Ok(())
}

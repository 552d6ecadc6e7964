//! `jialing-node export`: writes the chain held in a node's data directory to a file,
//! one hex line per block with its commit certificate from genesis, the format of
//! `jialing audit export` and of the API's `/v1/blocks/raw`. An auditor replays it
//! offline with `jialing audit replay --blocks FILE`, without trusting any running
//! node's API. The node must be stopped (the store is locked while it runs) or the
//! directory copied.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;

use crate::store::Store;

/// Exports blocks `0..=tip` of the store in `data_dir` to `out`; returns the tip.
pub fn export(data_dir: &Path, out: &Path) -> anyhow::Result<u64> {
    // Opening an empty or missing directory would create a store; say what is wrong.
    let empty = std::fs::read_dir(data_dir)
        .with_context(|| format!("reading the data directory {}", data_dir.display()))?
        .next()
        .is_none();
    anyhow::ensure!(!empty, "{} holds no ledger (is data_dir in the node's config right?)", data_dir.display());
    let store = Store::open(data_dir).map_err(|e| {
        let hint = if e.to_string().contains("Locked") {
            ": a running jialing-node holds this data directory; stop it or export a copy of the directory"
        } else {
            ""
        };
        anyhow::anyhow!("opening the store in {}: {e}{hint}", data_dir.display())
    })?;
    let tip = store.tip()?.with_context(|| format!("{} holds no ledger", data_dir.display()))?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let bar = indicatif::ProgressBar::new(tip + 1);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} blocks {per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    for h in 0..=tip {
        let block = store.block(h)?.with_context(|| format!("block {h} is missing from the store"))?;
        let cert = store.certificate(h)?;
        if h > 0 && cert.is_none() {
            anyhow::bail!("block {h} has no commit certificate in the store");
        }
        writeln!(w, "{}", hex::encode(jialing_core::encoding::encode(&(block, cert))))
            .with_context(|| format!("writing {}", out.display()))?;
        bar.inc(1);
    }
    w.flush().with_context(|| format!("writing {}", out.display()))?;
    w.get_ref().sync_all().with_context(|| format!("syncing {}", out.display()))?;
    bar.finish_and_clear();
    Ok(tip)
}

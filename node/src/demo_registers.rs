//! The demo scenario's register part (traceability, data trading, credit).

use std::sync::Arc;
use std::time::Duration;

use crate::app::Ledger;

/// Submits the register scenarios.
pub fn run(_ledger: &Arc<Ledger>, _timeout: Duration) -> anyhow::Result<()> {
    Ok(())
}

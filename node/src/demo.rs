//! The devnet's demo scenario: real signed transactions from the sample consortium's
//! organisations, submitted through the same checks as API submissions, each awaited
//! until committed, with its receipt logged.

use std::sync::Arc;
use std::time::Duration;

use jialing_contracts::{CallPayload, TxStatus};
use jialing_core::{Keypair, Role, Transaction};
use jialing_genesis::sample_key;

use crate::app::Ledger;

/// Submits one call signed by `key` and waits for its receipt.
pub fn call<P: CallPayload>(
    ledger: &Arc<Ledger>,
    key: &Keypair,
    payload: &P,
    timeout: Duration,
) -> anyhow::Result<TxStatus> {
    let committed = ledger.committed_next_nonce(&key.public()).map_err(anyhow::Error::msg)?;
    let nonce = ledger.mempool.lock().map(|p| p.pending_next_nonce(&key.public(), committed)).unwrap_or(committed);
    let (contract, method, body) = payload.to_call();
    let stx =
        Transaction { chain_id: ledger.chain_id.clone(), signer: key.public(), nonce, contract, method, payload: body }
            .sign(key);
    let hash = stx.hash();
    let bytes = stx.to_bytes();
    if let Some(Err(e)) = ledger.submit(vec![(stx, hash, bytes)]).pop() {
        anyhow::bail!("{}.{} rejected: {e}", P::CONTRACT, P::METHOD);
    }
    crate::devnet::wait_committed(ledger, &hash, timeout)?;
    let rec = ledger.store.tx(&hash)?.ok_or_else(|| anyhow::anyhow!("committed tx vanished"))?;
    let receipt = ledger.store.receipt(rec.height, rec.index)?.ok_or_else(|| anyhow::anyhow!("no receipt"))?;
    match &receipt.status {
        TxStatus::Ok => {
            tracing::info!(target: "jialing::demo", call = %format!("{}.{}", P::CONTRACT, P::METHOD), height = rec.height, tx = %hash, "ok")
        }
        TxStatus::Refused { code, message } => {
            tracing::info!(target: "jialing::demo", call = %format!("{}.{}", P::CONTRACT, P::METHOD), height = rec.height, tx = %hash, code, message, "refused (as the scenario expects)")
        }
    }
    Ok(receipt.status)
}

/// Runs the scenario once (skips it when the ledger already holds it).
pub fn run(ledger: &Arc<Ledger>, timeout: Duration) -> anyhow::Result<()> {
    let picker = Keypair::from_label("sample/pomelo/picker");
    if ledger.store.get_member_exists(&picker.public())? {
        tracing::info!(target: "jialing::demo", "demo scenario already on the ledger; skipping");
        return Ok(());
    }
    tracing::info!(target: "jialing::demo", "submitting the demo scenario");
    // Membership: the pomelo cooperative's admin certifies a picker's key for a year;
    // a certification outside the cooperative's roles is refused with a receipt.
    let admin = sample_key("pomelo", "admin");
    let year = 365 * 24 * 3600 * 1000;
    let until = ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0) + year;
    let certify = jialing_contracts::membership::Certify {
        member: picker.public(),
        roles: vec![Role::Producer],
        expires_ms: until,
    };
    call(ledger, &admin, &certify, timeout)?;
    let wrong = jialing_contracts::membership::Certify {
        member: Keypair::from_label("sample/pomelo/x").public(),
        roles: vec![Role::Inspector],
        expires_ms: until,
    };
    call(ledger, &admin, &wrong, timeout)?;
    crate::demo_registers::run(ledger, timeout)?;
    tracing::info!(target: "jialing::demo", "demo scenario complete");
    Ok(())
}

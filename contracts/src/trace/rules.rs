//! The traceability rules, each a small check returning a precise error. Names are
//! the codes receipts carry.

use jialing_core::Uscc;

use crate::error::ContractError;
use crate::trace::types::{Certificate, Lot, LotStatus};

/// `trace.id_format`: ids are 1 to 64 characters of `A-Z a-z 0-9 . _ -` (they go into
/// GS1 Digital Link URLs).
pub fn id_format(field: &'static str, id: &str) -> Result<(), ContractError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(ContractError::rule(
            "trace.id_format",
            format!("{field} {id:?} must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"),
        ));
    }
    Ok(())
}

/// `trace.event_time_not_future`: an event is not dated after block time plus the
/// allowed skew.
pub fn event_time_not_future(event_ms: u64, block_ms: u64, skew_ms: u64) -> Result<(), ContractError> {
    if event_ms > block_ms.saturating_add(skew_ms) {
        return Err(ContractError::rule(
            "trace.event_time_not_future",
            format!("event time {event_ms} ms is after block time {block_ms} ms plus the allowed {skew_ms} ms"),
        ));
    }
    Ok(())
}

/// `trace.event_time_monotonic`: a lot's events never go backwards in time.
pub fn event_time_monotonic(lot: &Lot, event_ms: u64) -> Result<(), ContractError> {
    if event_ms < lot.last_event_ms {
        return Err(ContractError::rule(
            "trace.event_time_monotonic",
            format!("event time {event_ms} ms is before lot {}'s last event at {} ms", lot.id, lot.last_event_ms),
        ));
    }
    Ok(())
}

/// `trace.custodian_only`: only a member of the organisation holding the lot adds
/// custody events to it.
pub fn custodian_only(lot: &Lot, signer_org: &Uscc) -> Result<(), ContractError> {
    if &lot.custodian != signer_org {
        return Err(ContractError::rule(
            "trace.custodian_only",
            format!("lot {} is held by {}, not by the signer's organisation {signer_org}", lot.id, lot.custodian),
        ));
    }
    Ok(())
}

/// `trace.recalled_is_final`: nothing happens to a recalled lot any more.
pub fn not_recalled(lot: &Lot) -> Result<(), ContractError> {
    if lot.status == LotStatus::Recalled {
        return Err(ContractError::rule("trace.recalled_is_final", format!("lot {} was recalled", lot.id)));
    }
    Ok(())
}

/// `trace.not_in_transit`: a lot on its way to another organisation only accepts
/// `receive`.
pub fn not_in_transit(lot: &Lot) -> Result<(), ContractError> {
    if let Some(to) = &lot.in_transit_to {
        return Err(ContractError::rule(
            "trace.not_in_transit",
            format!("lot {} is in transit to {to}; it must be received first", lot.id),
        ));
    }
    Ok(())
}

/// `trace.no_certificate_while_nonconformant`.
pub fn no_certificate_while_nonconformant(lot: &Lot) -> Result<(), ContractError> {
    if lot.nonconformant_open {
        return Err(ContractError::rule(
            "trace.no_certificate_while_nonconformant",
            format!(
                "lot {} has an open non-conformant test result; no certificate of compliance may be issued",
                lot.id
            ),
        ));
    }
    Ok(())
}

/// `trace.no_shipment_while_nonconformant`: no shipment or sale while a
/// non-conformant result is open.
pub fn no_shipment_while_nonconformant(lot: &Lot) -> Result<(), ContractError> {
    if lot.nonconformant_open {
        return Err(ContractError::rule(
            "trace.no_shipment_while_nonconformant",
            format!("lot {} has an open non-conformant test result; it may not be shipped or sold", lot.id),
        ));
    }
    Ok(())
}

/// `trace.preharvest_interval`: no harvest before the last pesticide application (or
/// veterinary drug) plus its pre-harvest interval (withdrawal period).
pub fn preharvest_interval(lot: &Lot, event_ms: u64) -> Result<(), ContractError> {
    if event_ms < lot.harvest_not_before_ms {
        return Err(ContractError::rule(
            "trace.preharvest_interval",
            format!(
                "lot {} may not be harvested before {} ms (pre-harvest interval / withdrawal period), event time is {event_ms} ms",
                lot.id, lot.harvest_not_before_ms
            ),
        ));
    }
    Ok(())
}

/// `trace.certificate_before_shipment`: lots of products for which the certificate of
/// compliance is mandatory leave the producer only with one.
pub fn certificate_before_shipment(lot: &Lot, mandatory: bool) -> Result<(), ContractError> {
    if mandatory && lot.certificate.is_none() && lot.custodian == lot.producer {
        return Err(ContractError::rule(
            "trace.certificate_before_shipment",
            format!("lot {} needs a certificate of compliance before it leaves its producer", lot.id),
        ));
    }
    Ok(())
}

/// `trace.quantity_available`: never take more than a lot holds.
pub fn quantity_available(lot: &Lot, wanted_milli: u64) -> Result<(), ContractError> {
    if wanted_milli == 0 || wanted_milli > lot.quantity_milli {
        return Err(ContractError::rule(
            "trace.quantity_available",
            format!(
                "lot {} holds {} milli-{}, {wanted_milli} was asked (must be 1 to the quantity held)",
                lot.id, lot.quantity_milli, lot.unit
            ),
        ));
    }
    Ok(())
}

/// `trace.status`: the event is allowed in the lot's current status.
pub fn status_in(lot: &Lot, allowed: &[LotStatus], event: &str) -> Result<(), ContractError> {
    if !allowed.contains(&lot.status) {
        return Err(ContractError::rule(
            "trace.status",
            format!("{event} is not allowed on lot {} in status {:?}", lot.id, lot.status),
        ));
    }
    Ok(())
}

/// `trace.not_held`: a held lot gets no certificate, shipment, sale or processing.
pub fn not_held(lot: &Lot) -> Result<(), ContractError> {
    if lot.held {
        return Err(ContractError::rule(
            "trace.not_held",
            format!("lot {} is held; it must be released first", lot.id),
        ));
    }
    Ok(())
}

/// `trace.packed_moves_with_pack`: a lot inside a pack moves only with its pack.
pub fn not_packed(lot: &Lot) -> Result<(), ContractError> {
    if let Some(p) = &lot.packed_in {
        return Err(ContractError::rule(
            "trace.packed_moves_with_pack",
            format!("lot {} is packed in {p}; act on the pack", lot.id),
        ));
    }
    Ok(())
}

/// `trace.quantity_conserved`: a transformation's outputs total at most its inputs
/// times the declared yield, and the declared yield is within the parameter.
pub fn quantity_conserved(
    total_in: u128,
    total_out: u128,
    yield_permille: u32,
    max_permille: u32,
) -> Result<(), ContractError> {
    if yield_permille > max_permille {
        return Err(ContractError::rule(
            "trace.quantity_conserved",
            format!("declared yield {yield_permille}‰ exceeds the allowed {max_permille}‰"),
        ));
    }
    if total_out * 1000 > total_in * u128::from(yield_permille) {
        return Err(ContractError::rule(
            "trace.quantity_conserved",
            format!("outputs total {total_out} milli-units, more than inputs {total_in} × {yield_permille}‰ allow"),
        ));
    }
    Ok(())
}

/// `trace.supervision_lab_test`: when supervision by grade applies to the producer
/// (`why` says why: a D grade or the watch list), a lot needs a conformant laboratory
/// test before its certificate of compliance.
pub fn supervision_lab_test(lot: &Lot, why: Option<String>) -> Result<(), ContractError> {
    let Some(why) = why else {
        return Ok(());
    };
    if lot.last_test.as_ref().is_some_and(|t| t.conformant) {
        return Ok(());
    }
    Err(ContractError::rule(
        "trace.supervision_lab_test",
        format!("{why}: lot {} needs a conformant laboratory test before its certificate of compliance", lot.id),
    ))
}

/// `trace.certificate_inherited`: a pack or transformation output carries its inputs'
/// certificates of compliance only when every input is certified, every input is the
/// same product as the output, all come from one origin and one issuer (mixing origins
/// or products needs a new certificate from a producer). The inherited certificate
/// covers the output's quantity and names the inputs it comes from.
pub fn inherited_certificate(out: &Lot, inputs: &[Lot]) -> Option<Certificate> {
    let first = inputs.first()?.certificate.as_ref()?;
    let origins = out.all_origins();
    let allowed = origins.len() == 1
        && inputs
            .iter()
            .all(|i| i.product == out.product && i.certificate.as_ref().is_some_and(|c| c.issuer == first.issuer));
    allowed.then(|| Certificate {
        quantity_milli: out.quantity_milli,
        inherited_from: inputs.iter().map(|i| i.id.clone()).collect(),
        ..first.clone()
    })
}

//! The query part of the EPCIS 2.0 REST interface: `GET /epcis/events` over the events
//! recorded by `trace.record_epcis_event` (imported partner events) and by
//! `trace.epcis_capture` (captured documents, `POST /epcis/capture`), with
//! the common query parameters of the standard's SimpleEventQuery: `EQ_bizStep`,
//! `MATCH_anyEPC`, `GE_eventTime`, `LT_eventTime`, `EQ_bizLocation` (values separated by
//! `|`), `perPage` and `nextPageToken`. The trace register is public, so the answer is
//! what an unsigned caller may read (the read policy's public part).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jialing_contracts::trace::epcis_event::EPCIS_EVENTS_TAG;
use jialing_contracts::trace::{epcis_hash, gs1};
use jialing_contracts::{IndexTag, TagKind};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::Caller;
use crate::api::{Api, ApiError};

/// Largest page.
pub const MAX_PER_PAGE: usize = 1000;
/// Page size when `perPage` is not given.
pub const DEFAULT_PER_PAGE: usize = 30;
/// Entries read from the index per step while filtering.
const SCAN_STEP: usize = 500;

/// The query parameters (names as in EPCIS 2.0 section 8.2.7.1).
#[derive(Deserialize, Default, Debug)]
#[allow(non_snake_case)]
pub struct EventsQuery {
    EQ_bizStep: Option<String>,
    MATCH_anyEPC: Option<String>,
    GE_eventTime: Option<String>,
    LT_eventTime: Option<String>,
    EQ_bizLocation: Option<String>,
    perPage: Option<usize>,
    nextPageToken: Option<String>,
}

/// A checked query.
struct Filter {
    biz_steps: Vec<String>,
    epcs: Vec<String>,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    locations: Vec<String>,
    per_page: usize,
    /// Block height, index in the block, event within the transaction.
    start: (u64, u32, usize),
}

fn bare_step(s: &str) -> String {
    s.trim()
        .trim_start_matches("https://ref.gs1.org/cbv/BizStep-")
        .trim_start_matches("urn:epcglobal:cbv:bizstep:")
        .to_string()
}

fn list(v: &Option<String>, f: impl Fn(&str) -> String) -> Vec<String> {
    v.as_deref().map(|s| s.split('|').filter(|x| !x.is_empty()).map(&f).collect()).unwrap_or_default()
}

fn time(name: &str, v: &Option<String>) -> Result<Option<u64>, ApiError> {
    v.as_deref()
        .map(|t| {
            epcis_hash::parse_time_ms(t).ok_or_else(|| {
                ApiError::bad_request(format!("{name} {t:?} is not an RFC 3339 date-time with a time zone"))
            })
        })
        .transpose()
}

impl Filter {
    fn new(q: &EventsQuery) -> Result<Filter, ApiError> {
        let per_page = q.perPage.unwrap_or(DEFAULT_PER_PAGE);
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::bad_request(format!("perPage must be 1 to {MAX_PER_PAGE}")));
        }
        let start = match q.nextPageToken.as_deref() {
            None => (0, 0, 0),
            Some(t) => {
                let parts: Vec<&str> = t.split('-').collect();
                let parsed = match parts.as_slice() {
                    [h, i] => h.parse().ok().zip(i.parse().ok()).map(|(h, i)| (h, i, 0)),
                    [h, i, k] => (|| Some((h.parse().ok()?, i.parse().ok()?, k.parse().ok()?)))(),
                    _ => None,
                };
                parsed.ok_or_else(|| ApiError::bad_request(format!("nextPageToken {t:?} is not one this node gave")))?
            }
        };
        Ok(Filter {
            biz_steps: list(&q.EQ_bizStep, bare_step),
            epcs: list(&q.MATCH_anyEPC, gs1::canonical_identifier),
            from_ms: time("GE_eventTime", &q.GE_eventTime)?,
            to_ms: time("LT_eventTime", &q.LT_eventTime)?,
            locations: list(&q.EQ_bizLocation, gs1::canonical_identifier),
            per_page,
            start,
        })
    }

    fn matches(&self, body: &Value, at_ms: u64) -> bool {
        if self.from_ms.is_some_and(|f| at_ms < f) || self.to_ms.is_some_and(|t| at_ms >= t) {
            return false;
        }
        if !self.biz_steps.is_empty() && !self.biz_steps.contains(&bare_step(body["bizStep"].as_str().unwrap_or(""))) {
            return false;
        }
        if !self.locations.is_empty() {
            let loc = body["bizLocation"]["id"].as_str().map(gs1::canonical_identifier).unwrap_or_default();
            if !self.locations.contains(&loc) {
                return false;
            }
        }
        if !self.epcs.is_empty() {
            let mut named = Vec::new();
            for k in ["epcList", "childEPCs", "inputEPCList", "outputEPCList"] {
                named.extend(body[k].as_array().into_iter().flatten().filter_map(Value::as_str));
            }
            named.extend(body["parentID"].as_str());
            if !named.iter().any(|e| self.epcs.contains(&gs1::canonical_identifier(e))) {
                return false;
            }
        }
        true
    }
}

/// `GET /epcis/events`: an `EPCISQueryDocument` of the matching events in chain order,
/// with `Link: <...>; rel="next"` when there are more.
pub async fn events(State(api): State<Api>, Query(q): Query<EventsQuery>) -> Response {
    let filter = match Filter::new(&q) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let result = crate::api::blocking(api.reads.clone(), move || read(&api, &filter)).await;
    match result {
        Ok((doc, next)) => {
            let mut r = Json(doc).into_response();
            if let Some(n) = next
                && let Ok(v) = format!("</epcis/events?nextPageToken={n}>; rel=\"next\"").parse()
            {
                r.headers_mut().insert(header::LINK, v);
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

/// The events a committed transaction recorded, `(body, event time ms)` in order: one
/// for `trace.record_epcis_event`, those of a successful `trace.epcis_capture` that were
/// not duplicates.
fn recorded_events(api: &Api, e: &jialing_api_types::HistoryEntry) -> Result<Vec<(String, u64)>, ApiError> {
    match e.method.as_str() {
        "record_epcis_event" => Ok(e.args["body"]
            .as_str()
            .map(|b| vec![(b.to_string(), e.args["at"]["time_ms"].as_u64().unwrap_or(e.time_ms))])
            .unwrap_or_default()),
        "epcis_capture" if e.status == jialing_api_types::Outcome::Ok => {
            let doc = e.args["document"].as_str().unwrap_or_default();
            Ok(crate::epcis_capture::captured_events(&api.ledger, &e.tx_hash, doc)?
                .events
                .into_iter()
                .filter(|(_, o)| *o == crate::epcis_capture::EventOutcome::Recorded)
                .map(|(ev, _)| (ev.record.body, ev.record.at.time_ms))
                .collect())
        }
        _ => Ok(Vec::new()),
    }
}

fn read(api: &Api, f: &Filter) -> Result<(Value, Option<String>), ApiError> {
    let tag = IndexTag { kind: TagKind::EpcisEvent, id: EPCIS_EVENTS_TAG.into() };
    let mut out = Vec::new();
    let mut context = serde_json::Map::new();
    // Each step starts right after the last position read, so a block holding more
    // tagged entries than one step is read whole, each entry once.
    let mut from = (f.start.0, f.start.1);
    let mut next = None;
    'scan: loop {
        let page = crate::api::history_from(&api.ledger, &tag, from, SCAN_STEP, &Caller::Public)?;
        let last = page.len() < SCAN_STEP;
        for e in &page {
            for (k, (text, at)) in recorded_events(api, e)?.into_iter().enumerate() {
                if (e.height, e.index, k) < f.start {
                    continue;
                }
                if out.len() == f.per_page {
                    next = Some(format!("{}-{}-{k}", e.height, e.index));
                    break 'scan;
                }
                let Ok(body) = serde_json::from_str::<Value>(&text) else { continue };
                if !f.matches(&body, at) {
                    continue;
                }
                out.push(jialing_contracts::trace::epcis::with_event_id(body, &mut context));
            }
        }
        match page.last() {
            Some(l) if !last => {
                from = match l.index.checked_add(1) {
                    Some(i) => (l.height, i),
                    None => (l.height.saturating_add(1), 0),
                }
            }
            _ => break,
        }
    }
    let mut ctx = vec![json!("https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld")];
    if !context.is_empty() {
        ctx.push(Value::Object(context));
    }
    let tip_ms = api.ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0);
    Ok((
        json!({
            "@context": ctx,
            "type": "EPCISQueryDocument",
            "schemaVersion": "2.0",
            "creationDate": jialing_core::calendar::format_rfc3339_ms(tip_ms),
            "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": out}}},
        }),
        next,
    ))
}

//! The GS1 Digital Link resolver of the public listener: `/01/{gtin}` with `/22/`,
//! `/10/` and `/21/` in order (zero-suppressed GTIN-8/12/13 padded, values
//! percent-encoded), the `linkType` query, and `/.well-known/gs1resolver`.
//!
//! A path naming a lot serves its consumer page (`consumer::page`); `linkType=gs1:epcis`
//! redirects to the lot's EPCIS document, `linkType=linkset` (or `all`) lists the links;
//! a malformed path gets the 400 page saying what is wrong.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use jialing_contracts::trace::epcis::digital_link_path;
use jialing_contracts::trace::gs1::parse_gtin_path;
use serde::Deserialize;
use serde_json::json;

use crate::api::Api;
use crate::consumer::PageQuery;

/// The link types this resolver serves (GS1 Web Vocabulary).
pub const LINK_TYPES: &[(&str, &str)] = &[
    ("gs1:pip", "product information page: the lot's traceability page"),
    ("gs1:traceability", "the lot's traceability page"),
    ("gs1:epcis", "the lot's events as an EPCIS 2.0 JSON document"),
];

/// The `linkType` query parameter.
#[derive(Deserialize, Default)]
pub struct LinkQuery {
    #[serde(rename = "linkType")]
    link_type: Option<String>,
}

/// `GET /01/{*path}`: resolves a GS1 Digital Link (see the module documentation).
pub async fn resolve(
    State(api): State<Api>,
    uri: Uri,
    Query(page_q): Query<PageQuery>,
    Query(link): Query<LinkQuery>,
) -> Response {
    let parsed = match parse_gtin_path(uri.path()) {
        Ok(p) => p,
        Err(m) => return crate::consumer::malformed(&page_q, &m),
    };
    let Some(lot) = parsed.lot.clone() else {
        return crate::consumer::malformed(
            &page_q,
            "this code names a product, not a lot: a traceability page needs /10/{lot} after /01/{GTIN}",
        );
    };
    let canonical = digital_link_path(&parsed.item, &lot);
    let link_type = link.link_type.as_deref().unwrap_or("gs1:pip");
    match link_type.trim_start_matches("https://gs1.org/voc/").trim_start_matches("gs1:") {
        "epcis" => Redirect::temporary(&format!("/v1/lot/{}/epcis", jialing_contracts::trace::gs1::percent_encode(&lot)))
            .into_response(),
        "linkset" | "all" => (
            [(header::CONTENT_TYPE, "application/linkset+json")],
            Json(json!({"linkset": [{
                "anchor": canonical,
                "https://gs1.org/voc/defaultLink": [{"href": canonical, "title": "traceability page"}],
                "https://gs1.org/voc/pip": [{"href": canonical, "title": "traceability page", "hreflang": ["zh"]}],
                "https://gs1.org/voc/traceability": [{"href": format!("{canonical}?lang=en"), "title": "traceability page", "hreflang": ["en"]}],
                "https://gs1.org/voc/epcis": [{"href": format!("/v1/lot/{}/epcis", jialing_contracts::trace::gs1::percent_encode(&lot)), "type": "application/ld+json"}],
            }]})),
        )
            .into_response(),
        // pip, traceability, defaultLink, and any type this resolver does not hold: the
        // default link (GS1 resolver standard: fall back to the default).
        _ => crate::consumer::page(State(api), Path((parsed.item, lot)), Query(page_q)).await,
    }
}

/// `GET /.well-known/gs1resolver`: the resolver description document (GS1-Conformant
/// Resolver Standard 1.1, section 6).
pub async fn description(headers: HeaderMap) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let root = format!("http://{host}");
    (
        StatusCode::OK,
        Json(json!({
            "name": "Jialing traceability ledger",
            "resolverRoot": root,
            "supportedPrimaryKeys": ["01"],
            "supportedLinkType": LINK_TYPES.iter().map(|(t, d)| json!({"namespace": "https://gs1.org/voc/", "prefix": "gs1:", "profile": t, "description": d})).collect::<Vec<_>>(),
            "linkTypeDefaultCanBeLinkset": false,
            "supportedContextValuesEnumerated": [],
            "qualifierPaths": ["/01/{gtin}/22/{cpv}/10/{lot}/21/{ser}"],
            "validatesCheckDigits": true,
            "zeroSuppressedGtins": true,
        })),
    )
        .into_response()
}

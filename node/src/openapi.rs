//! `GET /openapi.json`: the API as an OpenAPI 3.1 document, generated from the shared
//! response types (`jialing-api-types`, their schemas derived with utoipa) and the
//! route table [`ROUTES`] (path, visibility and what it serves), so the document
//! follows the code.

use axum::Json;
use jialing_api_types::{ErrorBody, ErrorDetail, History, HistoryEntry, Outcome, QueryLog};
use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::{ContentBuilder, PathsBuilder, Ref, ResponseBuilder};

/// Who may call a route (docs/api.md, "Visibility").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, on both listeners.
    Public,
    /// Anyone; restricted items appear as their public part unless the request is
    /// signed by a key that may read them (member listener).
    PerItem,
    /// A signed request from the roles or parties named (member listener).
    Signed,
    /// Member listener only.
    Member,
}

/// One route: method, path, access, response schema (a component name, if typed) and
/// summary.
pub type Route = (&'static str, &'static str, Access, Option<&'static str>, &'static str);

/// Every route of the node.
pub const ROUTES: &[Route] = &[
    ("get", "/health", Access::Public, None, "liveness"),
    ("get", "/status", Access::Public, None, "chain, height, validators, listeners, query_audience"),
    ("get", "/openapi.json", Access::Public, None, "this document"),
    ("get", "/v1/methods", Access::Public, None, "every contract method with its roles"),
    ("get", "/v1/block/{height}", Access::Public, None, "a block header, its transaction hashes and certificate"),
    ("get", "/v1/tx/{hash}", Access::PerItem, None, "a transaction and its receipt"),
    ("get", "/v1/lot/{id}", Access::Public, None, "a lot and its history"),
    ("get", "/v1/lot/{id}/epcis", Access::Public, None, "a lot's events as GS1 EPCIS 2.0"),
    ("get", "/v1/product/{code}", Access::Public, None, "a traceability product"),
    ("get", "/v1/credit/{subject}", Access::Public, None, "a subject's records in publication"),
    ("get", "/v1/data/product/{id}", Access::Public, None, "a data product"),
    ("get", "/v1/data/lineage/{id}", Access::Public, None, "a data product's lineage, both ways"),
    ("get", "/v1/data/voucher/{id}", Access::Public, None, "a data asset voucher and its history"),
    ("get", "/v1/data/market", Access::Public, None, "open data demands and products on sale"),
    (
        "get",
        "/v1/credit/lists/{list}",
        Access::Public,
        None,
        "a public credit list (serious, watch, red, overdue), paged",
    ),
    (
        "get",
        "/v1/credit/{subject}/grade",
        Access::Public,
        None,
        "an organisation's credit grade (a person's: 403, see the full view)",
    ),
    ("get", "/v1/credit/{subject}/government", Access::Public, None, "a government body's integrity records"),
    ("get", "/v1/governance/proposals", Access::Public, None, "governance proposals with approvals and state"),
    ("get", "/v1/governance/proposals/{id}", Access::Public, None, "one governance proposal"),
    ("get", "/v1/governance/params", Access::Public, None, "the consensus parameters in force"),
    ("get", "/v1/governance/member/{key}", Access::Public, None, "a member key's record"),
    ("get", "/v1/proof/tx/{hash}", Access::PerItem, None, "inclusion proof of a transaction"),
    ("get", "/v1/proof/state", Access::PerItem, None, "proof of a state value under the tip's root"),
    (
        "get",
        "/v1/proof/consistency",
        Access::Public,
        None,
        "the chain certified at `to` extends the chain at `from`: both headers, block `from`'s inclusion in `to`'s history root and the RFC 9162 consistency proof between the two history roots (O(log n) hashes)",
    ),
    ("get", "/assets/{file}", Access::Public, None, "the consumer page's verifier script, by content-hashed name"),
    (
        "get",
        "/v1/proof/lot/{id}",
        Access::PerItem,
        None,
        "validator history from genesis, the lot's state proof and its latest event's proof",
    ),
    ("get", "/v1/checkpoint/latest", Access::Public, None, "the newest signed checkpoint (C2SP signed note)"),
    ("get", "/v1/checkpoint/{height}", Access::Public, None, "the signed checkpoint at a checkpoint height"),
    (
        "get",
        "/01/{*path}",
        Access::Public,
        None,
        "GS1 Digital Link: the consumer page (HTML), linkType=gs1:epcis|linkset",
    ),
    ("get", "/.well-known/gs1resolver", Access::Public, None, "GS1 resolver description document"),
    (
        "get",
        "/epcis/events",
        Access::Public,
        None,
        "EPCIS 2.0 query: recorded EPCIS events (EQ_bizStep, MATCH_anyEPC, GE/LT_eventTime, EQ_bizLocation, perPage, nextPageToken)",
    ),
    (
        "get",
        "/epcis/capture/{captureID}",
        Access::Public,
        None,
        "EPCIS 2.0 capture job: running, success, captureErrorBehaviour, errors, each event's hash ID (recorded or duplicate)",
    ),
    ("get", "/metrics", Access::Member, None, "Prometheus metrics"),
    ("post", "/v1/txs", Access::Member, None, "submit a batch of transactions"),
    ("post", "/v1/tx", Access::Member, None, "submit one transaction"),
    (
        "post",
        "/epcis/capture",
        Access::Member,
        None,
        "EPCIS 2.0 capture: an EPCIS document signed by a member (Jialing-Signer, Jialing-Nonce, Jialing-Signature); 202 with Location /epcis/capture/{captureID}",
    ),
    ("get", "/v1/nonce/{key}", Access::Member, None, "a key's next nonce"),
    ("get", "/v1/org/{uscc}", Access::PerItem, None, "an organisation and its history"),
    ("get", "/v1/history/{kind}/{id}", Access::PerItem, Some("History"), "every transaction tagged kind/id"),
    ("get", "/v1/credit/{subject}/full", Access::Signed, None, "every record of a subject (credit readers)"),
    (
        "get",
        "/v1/data/licences/{uscc}/full",
        Access::Signed,
        None,
        "a company's licences (licence readers, the company)",
    ),
    ("get", "/v1/blocks/raw", Access::Signed, None, "raw blocks for replay (members)"),
    ("get", "/v1/audit/queries", Access::Signed, Some("QueryLog"), "the node's query log (auditors)"),
];

#[derive(OpenApi)]
#[openapi(
    info(title = "Jialing node API", description = "docs/api.md; visibility per route in x-jialing-access"),
    components(schemas(ErrorBody, ErrorDetail, Outcome, HistoryEntry, History, QueryLog))
)]
struct Doc;

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Doc::openapi();
    let mut paths = PathsBuilder::new();
    for (method, path, access, schema, summary) in ROUTES {
        let method = if *method == "post" { HttpMethod::Post } else { HttpMethod::Get };
        let ok = match schema {
            Some(name) => ResponseBuilder::new()
                .description("ok")
                .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(*name))).build())
                .build(),
            None => ResponseBuilder::new().description("ok").build(),
        };
        let error = ResponseBuilder::new()
            .description("error (stable code and message)")
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build();
        let op = OperationBuilder::new()
            .summary(Some(*summary))
            .description(Some(format!("access: {access:?}")))
            .response("200", ok)
            .response("default", error)
            .build();
        paths = paths.path(*path, PathItem::new(method, op));
    }
    doc.paths = paths.build();
    doc
}

/// `GET /openapi.json`.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_route_of_the_router_is_in_the_document_and_only_those() {
        // Every module that adds routes to the router.
        let src = [include_str!("api.rs"), include_str!("public_lists.rs"), include_str!("data_views.rs")].concat();
        let routed: std::collections::BTreeSet<&str> =
            src.split(".route(\"").skip(1).filter_map(|s| s.split('"').next()).collect();
        let listed: std::collections::BTreeSet<&str> = ROUTES.iter().map(|r| r.1).collect();
        assert_eq!(routed, listed);
        let doc = serde_json::to_value(document()).unwrap();
        assert!(doc["paths"]["/v1/history/{kind}/{id}"]["get"].is_object(), "{doc}");
        assert!(doc["components"]["schemas"]["HistoryEntry"]["properties"]["restricted"].is_object(), "{doc}");
    }
}

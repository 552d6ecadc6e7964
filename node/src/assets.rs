//! Static assets of the consumer page, served under a name that carries their content
//! hash (`/assets/verify-<16 hex>.js`) so browsers and CDNs may cache them for a year:
//! a new build with other bytes has another name.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The in-browser verifier (`node/assets/verify.js`).
pub const VERIFY_JS: &str = include_str!("../assets/verify.js");

/// The verifier's hashed file name, e.g. `verify-0123456789abcdef.js`.
pub static VERIFY_JS_NAME: LazyLock<String> =
    LazyLock::new(|| format!("verify-{}.js", &jialing_core::sha256(VERIFY_JS.as_bytes()).to_hex()[..16]));

/// The verifier's path on the node.
pub fn verify_js_path() -> String {
    format!("/assets/{}", *VERIFY_JS_NAME)
}

/// `GET /assets/{file}`: an asset by its hashed name (immutable, cached for a year);
/// any other name is a 404.
pub async fn serve(Path(file): Path<String>) -> Response {
    if file == *VERIFY_JS_NAME {
        return (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            VERIFY_JS,
        )
            .into_response();
    }
    crate::api::ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no asset {file}; the current verifier is {}", *VERIFY_JS_NAME),
    )
    .into_response()
}

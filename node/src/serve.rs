//! Serving a router over HTTP/1.1 with limits: the connection loop and the tower layers.
//!
//! `axum::serve` runs hyper without a timer, so a client that sends its headers one
//! byte at a time holds a connection (and a task) for ever, and it has no connection,
//! concurrency or rate limit. Here every listener gets, from the outside in:
//! - at most `max_connections` open connections (further ones wait in the kernel's
//!   backlog) and hyper's header-read timeout (`header_read_timeout_ms`, with a
//!   `TokioTimer`): a slow-header connection is closed;
//! - a per-client-address rate limit (`tower_governor`, keyed by peer IP): 429
//!   `rate_limited` with `Retry-After`;
//! - a concurrency limit that sheds load instead of queueing (`tower` `load_shed` +
//!   `concurrency_limit`): 503 `overloaded` with `Retry-After`;
//! - a request timeout (`tower` `timeout`): 408 `timeout`;
//! - a body limit (`DefaultBodyLimit`): handlers answer 413 `body_too_large`.
//!
//! Handlers read the store on the blocking pool (`api::blocking`), so a slow read never
//! holds a runtime thread that consensus needs.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::util::BoxCloneService;
use tower::{BoxError, Layer, ServiceBuilder, ServiceExt};
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use crate::api::ApiError;
use crate::config::ServeLimits;

/// Seconds a client is told to wait when the node sheds load.
const OVERLOAD_RETRY_SECS: u64 = 1;

/// Serves `router` on `listener` with `limits` until the listener fails. `name` tags
/// the log lines (`member` or `public`).
pub async fn serve(listener: TcpListener, router: Router, limits: ServeLimits, name: &'static str) {
    let app = with_limits(router, &limits);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let header_timeout = Duration::from_millis(limits.header_read_timeout_ms);
    loop {
        let Ok(permit) = connections.clone().acquire_owned().await else { return };
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: let some connections close.
                tracing::warn!(target: "jialing::api", listener = name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req.map(Body::new))
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
            if let Err(e) = http.serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!(target: "jialing::api", listener = name, %peer, error = %e, "connection closed");
            }
            drop(permit);
        });
    }
}

/// The service of one listener: the router inside the rate, concurrency, timeout and
/// body layers.
pub type Limited = BoxCloneService<Request<Body>, Response, Infallible>;

/// The router wrapped in the rate, concurrency, timeout and body layers.
pub fn with_limits(router: Router, limits: &ServeLimits) -> Limited {
    let inner = router.layer(DefaultBodyLimit::max(limits.max_body_bytes));
    let shed = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overload_error))
        .load_shed()
        .concurrency_limit(limits.max_concurrent_requests)
        .timeout(Duration::from_millis(limits.request_timeout_ms))
        .service(inner);
    if limits.rate_per_second == 0 {
        return BoxCloneService::new(shed);
    }
    let Some(config) = GovernorConfigBuilder::default()
        .per_nanosecond(1_000_000_000 / u64::from(limits.rate_per_second))
        .burst_size(limits.rate_burst)
        .key_extractor(ClientPrefix)
        .finish()
    else {
        tracing::error!(target: "jialing::api", "invalid rate limit; serving without one");
        return BoxCloneService::new(shed);
    };
    let config = Arc::new(config);
    // Forget clients not seen for a while, so the table does not grow with every
    // address that ever connected.
    let limiter = config.limiter().clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter.retain_recent();
        }
    });
    BoxCloneService::new(tower_governor::GovernorLayer::new(config).error_handler(rate_limited).layer(shed))
}

/// The rate limit's key: the peer's IPv4 address, or its IPv6 /64 (one subscriber's
/// network), so hopping between the addresses of one IPv6 prefix does not escape it.
#[derive(Clone, Copy, Debug)]
struct ClientPrefix;

impl KeyExtractor for ClientPrefix {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().ok_or(GovernorError::UnableToExtractKey)?;
        Ok(client_prefix(peer.0.ip()))
    }
}

/// See [`ClientPrefix`].
fn client_prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::from(u64::MAX)))),
        },
    }
}

/// The answer to a client over its rate.
fn rate_limited(e: GovernorError) -> Response {
    match e {
        GovernorError::TooManyRequests { wait_time, .. } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests from this address: wait Retry-After seconds",
        )
        .retry_after(wait_time.max(1))
        .into_response(),
        GovernorError::UnableToExtractKey => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no client address").into_response()
        }
        GovernorError::Other { code, msg, .. } => {
            ApiError::new(code, "rate_limited", msg.unwrap_or_default()).into_response()
        }
    }
}

/// The answer when the node sheds load or a request took too long.
async fn overload_error(e: BoxError) -> Response {
    if e.is::<tower::timeout::error::Elapsed>() {
        return ApiError::new(StatusCode::REQUEST_TIMEOUT, "timeout", "the request took too long; ask for less")
            .into_response();
    }
    if e.is::<tower::load_shed::error::Overloaded>() {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "the node is busy; retry shortly")
            .retry_after(OVERLOAD_RETRY_SECS)
            .into_response();
    }
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).into_response()
}

/// Binds `addr`; the error names the config field to change.
pub async fn bind(addr: SocketAddr, field: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!(
            "binding {field} to {addr}: {e} (is another node or connection using this port? set {field}, best to a port below the ephemeral range, 32768 on Linux)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_key_is_the_ipv4_address_or_the_ipv6_slash_64() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        assert_eq!(client_prefix(v4), v4);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap_or(v4);
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap_or(v4);
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(v4);
        assert_eq!(client_prefix(a), client_prefix(b));
        assert_ne!(client_prefix(a), client_prefix(other));
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap_or(v4);
        assert_eq!(client_prefix(mapped), v4);
    }
}

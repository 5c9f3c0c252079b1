//! The HTTP surface: JSON API, SSE streams, server functions and the server-rendered pages,
//! all behind one `router(state)` that `main` and the tests share.

mod api;
pub mod auth;
mod csv;
mod datasets;
mod error;
mod landscape;
mod serve;
mod share;
mod sse;
mod worker;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRef, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use domain::{Failure, Lab};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use serve::serve;

use crate::service::Service;

/// Request bodies above this are refused before parsing.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// A request body that sends nothing for this long is cut off: a slow client cannot hold a
/// connection (and what it declared it would send) open for ever.
pub const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Clone)]
pub struct AppState {
    /// The one service behind every door.
    pub lab: Arc<Service>,
    pub leptos: LeptosOptions,
    /// Required on mutating requests when set (the server listens beyond loopback).
    pub admin_token: Option<Arc<str>>,
    /// Private mode: reads need the admin token too, except share pages and what they load.
    pub private: bool,
    /// The host names requests may name.
    pub hosts: auth::Hosts,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos.clone()
    }
}

pub fn router(state: AppState) -> Router {
    let lab: Arc<dyn Lab> = state.lab.clone();
    let routes = generate_route_list(app::App);
    let leptos = state.leptos.clone();
    // The stream route gets no compression or timeout layer: it must stay open and unbuffered.
    let api = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/login", get(auth::login))
        .route("/api/runs", post(api::create_run).get(api::list_runs))
        .route("/api/runs/replicates", post(api::create_replicates))
        .route("/api/runs/{id}", get(api::get_run))
        .route("/api/runs/{id}/cancel", post(api::cancel_run))
        .route("/api/runs/{id}/resume", post(api::resume_run))
        .route("/api/runs/{id}/metrics", get(api::run_metrics))
        .route("/api/runs/{id}/events", get(sse::run_events))
        .route("/api/sweeps", post(api::create_sweep).get(api::list_sweeps))
        .route("/api/sweeps/{id}", get(api::get_sweep))
        .route("/api/sweeps/{id}/seeds", post(api::add_sweep_seeds))
        .route("/api/sweeps/{id}/summary", get(api::sweep_summary))
        .route("/api/sweeps/{id}/metrics", get(api::sweep_metrics))
        .route("/api/sweeps/{id}/prediction", get(api::sweep_prediction))
        .route("/api/sweeps/{id}/reference", get(api::sweep_reference))
        .route("/api/runs/{id}/reference", get(api::run_reference))
        .route(
            "/api/landscapes",
            post(landscape::create).get(landscape::list),
        )
        .route("/api/landscapes/{id}", get(landscape::get))
        .route("/api/landscapes/{id}/result", get(landscape::result))
        .route("/api/landscapes/{id}/cancel", post(landscape::cancel))
        .route("/api/landscapes/{id}/events", get(landscape::events))
        .route(
            "/api/shares",
            post(share::create_share).get(share::list_shares),
        )
        .route("/api/shares/{id}/revoke", post(share::revoke_share))
        .route("/s/{token}/export", get(share::export))
        .route("/api/datasets", get(datasets::list).post(datasets::upload))
        .route(
            "/api/datasets/{name}",
            get(datasets::get).delete(datasets::delete),
        )
        .route("/api/datasets/{name}/samples.png", get(datasets::samples))
        .route("/api/worker/runs/{id}/job", get(worker::job))
        .route("/api/worker/runs/{id}/dataset", get(worker::get_dataset))
        .route(
            "/api/worker/runs/{id}/objects/{object}",
            get(worker::get_object).put(worker::put_object),
        )
        .route(
            "/api/worker/runs/{id}/events",
            post(worker::events).layer(DefaultBodyLimit::max(worker::EVENTS_LIMIT_BYTES)),
        )
        .route("/api/worker/runs/{id}/heartbeat", post(worker::heartbeat))
        .route("/api/worker/runs/{id}/end", post(worker::end));
    api.leptos_routes_with_context(&state, routes, move || provide_context(lab.clone()), {
        let leptos = leptos.clone();
        move || app::shell(leptos.clone())
    })
    .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
        app::shell,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        share::guard,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_admin,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::same_origin,
    ))
    .layer(axum::middleware::from_fn(server_fn_status))
    .layer(axum::middleware::from_fn(json_errors))
    .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
    .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        BODY_IDLE_TIMEOUT,
    ))
    // Before anything else: a declared length beyond what the route takes is answered at once,
    // not after waiting for (or reading) the body.
    .layer(axum::middleware::from_fn(refuse_overlong))
    // One log line per request, with method, path, status and latency in milliseconds.
    .layer(
        TraceLayer::new_for_http()
            .make_span_with(|req: &Request| {
                tracing::info_span!(
                    "http",
                    http.method = %req.method(),
                    http.path = %req.uri().path(),
                )
            })
            .on_request(())
            .on_response(
                |res: &Response, latency: std::time::Duration, _span: &tracing::Span| {
                    tracing::info!(
                        http.status = res.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "request"
                    );
                },
            ),
    )
    .with_state(state)
}

/// The `Content-Length` a request declares, if it declares one that is a number.
pub(crate) fn declared_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The refusal of a body over `limit` bytes, in the units a reader takes in.
pub(crate) fn too_large(limit: u64) -> ApiError {
    let size = match limit {
        l if l >= 1 << 30 => format!("{} GiB", l >> 30),
        l if l >= 1 << 20 => format!("{} MiB", l >> 20),
        l => format!("{} KiB", l >> 10),
    };
    ApiError(Failure::new(
        413,
        format!("request body too large (at most {size})"),
    ))
}

/// The most bytes a request to this route may carry. A checkpoint upload's own bound, from its
/// job's model, is checked by the service once the job's token is.
fn route_allowance(method: &axum::http::Method, path: &str) -> usize {
    // A dataset upload's cap is a setting (ANNEAL_DATASET_MAX_BYTES), checked by its handler
    // against the declared length before the body is read.
    if *method == axum::http::Method::POST && path == "/api/datasets" {
        return usize::MAX;
    }
    let worker = path.strip_prefix("/api/worker/runs/");
    match worker.and_then(|p| p.split_once('/')).map(|(_, rest)| rest) {
        Some(rest) if *method == axum::http::Method::PUT && rest.starts_with("objects/") => {
            worker::OBJECT_LIMIT_BYTES
        }
        Some("events") => worker::EVENTS_LIMIT_BYTES,
        _ => BODY_LIMIT_BYTES,
    }
}

/// 413 at once for a request that declares more than its route takes, before its body is read,
/// authorised or not.
async fn refuse_overlong(req: Request, next: Next) -> Response {
    let limit = route_allowance(req.method(), req.uri().path());
    match declared_length(req.headers()) {
        Some(n) if n > limit as u64 => {
            axum::response::IntoResponse::into_response(too_large(limit as u64))
        }
        _ => next.run(req).await,
    }
}

/// axum's own extractors (a path id that is not a number, a bad query) refuse in plain text;
/// under `/api/` every refusal is the JSON `Failure` the clients read, with the same status.
async fn json_errors(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let plain = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !api || !plain || !res.status().is_client_error() {
        return res;
    }
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    let error = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("bad request")
            .to_owned()
    } else {
        text
    };
    axum::response::IntoResponse::into_response(ApiError(Failure::new(status.as_u16(), error)))
}

/// Server functions answer every refusal as 500 with the refusal as JSON; this gives the
/// response the refusal's own status (404, 422, 400 for an unreadable argument…), so both
/// doors answer an operation with the same status and body.
async fn server_fn_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    if let Ok(f) = serde_json::from_slice::<Failure>(&bytes)
        && let Ok(code) = StatusCode::from_u16(f.status)
    {
        parts.status = code;
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests;

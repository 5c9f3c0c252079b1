//! Router-level tests, one file per resource, over one shared `TestApp`: a real SQLite file
//! (or Postgres, with `ANNEAL_TEST_POSTGRES_URL`), real training, no socket.

mod auth;
mod doors;
mod landscapes;
mod registry;
mod runs;
mod shares;
mod snapshots;
mod sweeps;
mod workers;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, router};
use crate::db::Db;
use crate::landscapes::LandscapeService;
use crate::runs::RunService;
use crate::service::Service;
use crate::testing::TempDir;

struct TestApp {
    router: axum::Router,
    lab: Arc<Service>,
    runs: Arc<RunService>,
    landscapes: Arc<LandscapeService>,
    dir: TempDir,
}

fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("anneal")
        .site_root("target/site")
        .build()
}

/// Requests built in tests carry a path only; a client over the network names the host, as
/// the router requires, so the tests' router adds `Host: localhost` where a request has none.
fn addressed(router: axum::Router) -> axum::Router {
    router.layer(axum::middleware::map_request(
        |mut req: Request<Body>| async move {
            if !req.headers().contains_key(header::HOST) {
                req.headers_mut()
                    .insert(header::HOST, header::HeaderValue::from_static("localhost"));
            }
            req
        },
    ))
}

impl TestApp {
    async fn new() -> Self {
        Self::with_workers(1).await
    }

    /// With `n` training workers (0: queued runs stay queued, for tests that play a worker).
    async fn with_workers(n: usize) -> Self {
        Self::build(n, crate::registry::RegistryLimits::default()).await
    }

    /// With one worker and these caps on dataset registrations.
    async fn with_dataset_limits(limits: crate::registry::RegistryLimits) -> Self {
        Self::build(1, limits).await
    }

    async fn build(n: usize, limits: crate::registry::RegistryLimits) -> Self {
        let dir = TempDir::new("http");
        let db = Db::testing(dir.path()).await.expect("db opens");
        let runs = RunService::start(db, dir.path().to_owned(), n)
            .await
            .expect("service starts");
        let landscapes = LandscapeService::start(runs.clone(), true)
            .await
            .expect("landscape service starts");
        let lab = Service::new(runs.clone(), landscapes.clone(), limits);
        Self {
            router: addressed(router(AppState {
                lab: lab.clone(),
                leptos: leptos_options(),
                admin_token: None,
                private: false,
                hosts: Default::default(),
            })),
            lab,
            runs,
            landscapes,
            dir,
        }
    }

    async fn with_token(token: &str) -> Self {
        Self::new().await.guard(token, false)
    }

    /// The same lab behind a router that needs `token` for mutations, and in private mode for
    /// reads too.
    fn guard(mut self, token: &str, private: bool) -> Self {
        self.router = addressed(router(AppState {
            lab: self.lab.clone(),
            leptos: leptos_options(),
            admin_token: Some(token.into()),
            private,
            hosts: Default::default(),
        }));
        self
    }

    async fn call(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router answers");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn post_json(&self, uri: &str, body: &str) -> (StatusCode, Value) {
        let req = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()));
        self.call(req.expect("request")).await
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call(Request::get(uri).body(Body::empty()).expect("request"))
            .await
    }

    /// Reads SSE events until `done`, `max` events, or the timeout.
    async fn stream(&self, uri: &str, last_id: Option<i64>, max: usize) -> Vec<SseEvent> {
        let mut req = Request::get(uri);
        if let Some(id) = last_id {
            req = req.header("last-event-id", id.to_string());
        }
        let res = self
            .router
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("answers");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
        let mut body = res.into_body();
        let mut text = String::new();
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while events.len() < max {
            let frame = tokio::time::timeout_at(deadline, body.frame()).await;
            let Ok(Some(Ok(frame))) = frame else { break };
            if let Ok(data) = frame.into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
            }
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                if let Some(e) = SseEvent::parse(&block) {
                    let done = e.event == "done";
                    events.push(e);
                    if done || events.len() >= max {
                        return events;
                    }
                }
            }
        }
        events
    }
}

#[derive(Debug, Clone)]
struct SseEvent {
    event: String,
    id: Option<i64>,
    data: Value,
}

impl SseEvent {
    fn parse(block: &str) -> Option<Self> {
        let (mut event, mut id, mut data) = (None, None, String::new());
        for line in block.lines() {
            if let Some(v) = line
                .strip_prefix("event: ")
                .or_else(|| line.strip_prefix("event:"))
            {
                event = Some(v.to_owned());
            } else if let Some(v) = line
                .strip_prefix("id: ")
                .or_else(|| line.strip_prefix("id:"))
            {
                id = v.parse().ok();
            } else if let Some(v) = line
                .strip_prefix("data: ")
                .or_else(|| line.strip_prefix("data:"))
            {
                data.push_str(v);
            }
        }
        Some(Self {
            event: event?,
            id,
            data: serde_json::from_str(&data).unwrap_or(Value::Null),
        })
    }
}

fn toy_body(steps: u64, eval_every: u64) -> String {
    json!({
        "experiment": {"kind": "toy", "d": 20, "n": 5, "gamma": 1.0, "label_noise": 0.3, "batch": 1,
                       "steps": steps, "eval_every": eval_every},
        "schedule": {"kind": "constant", "lr": 0.05},
        "seed": 1
    })
    .to_string()
}

impl TestApp {
    /// Status, headers and body text of a request, for HTML and CSV answers.
    async fn text(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let res = self.router.clone().oneshot(req).await.expect("answers");
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    async fn get_text(&self, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        self.text(Request::get(uri).body(Body::empty()).expect("request"))
            .await
    }

    fn db_file(&self) -> std::path::PathBuf {
        self.dir.path().join("t.db")
    }

    /// Runs a short toy run to the end and returns its id.
    async fn finished_run(&self) -> i64 {
        let (code, body) = self.post_json("/api/runs", &toy_body(200, 20)).await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        let id = body["id"].as_i64().expect("id");
        self.assert_completes(id, 10_000).await;
        id
    }

    /// Follows run `id`'s stream (at most `max` events) and asserts it ends completed.
    async fn assert_completes(&self, id: i64, max: usize) {
        let events = self
            .stream(&format!("/api/runs/{id}/events"), None, max)
            .await;
        assert_eq!(
            events.last().map(|e| e.data["status"].clone()),
            Some(json!("completed")),
            "run {id}"
        );
    }
}

fn random_token() -> String {
    crate::tokens::new_token()
}

impl TestApp {
    /// Follows a landscape's progress stream to its end; returns every event.
    async fn landscape_events(&self, id: i64) -> Vec<SseEvent> {
        self.stream(&format!("/api/landscapes/{id}/events"), None, 100_000)
            .await
    }
}

fn toy2_body(steps: u64) -> String {
    json!({
        "experiment": {"kind": "toy", "d": 2, "n": 1, "gamma": 1.0, "label_noise": 0.5, "batch": 1,
                       "steps": steps, "eval_every": 20},
        "schedule": {"kind": "constant", "lr": 0.05},
        "seed": 4
    })
    .to_string()
}

fn landscape_req(source: Value, grid: u32, method: Value) -> String {
    json!({"source": source, "spec": {"grid": grid, "margin": 0.25, "method": method}}).to_string()
}

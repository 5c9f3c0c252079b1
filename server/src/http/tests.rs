//! Router-level tests: real SQLite file, real training, no socket.

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

struct TestApp {
    router: axum::Router,
    runs: std::sync::Arc<RunService>,
    landscapes: std::sync::Arc<LandscapeService>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestApp {
    async fn new() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "anneal-http-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let db = Db::testing(&dir).await.expect("db opens");
        let runs = RunService::start(db, dir.clone(), 1)
            .await
            .expect("service starts");
        let landscapes = LandscapeService::start(runs.clone(), true)
            .await
            .expect("landscape service starts");
        let leptos = LeptosOptions::builder()
            .output_name("anneal")
            .site_root("target/site")
            .build();
        Self {
            router: router(AppState {
                runs: runs.clone(),
                landscapes: landscapes.clone(),
                leptos,
                admin_token: None,
            }),
            runs,
            landscapes,
            _dir: TempDir(dir),
        }
    }

    async fn with_token(token: &str) -> Self {
        let mut app = Self::new().await;
        let leptos = LeptosOptions::builder()
            .output_name("anneal")
            .site_root("target/site")
            .build();
        app.router = router(AppState {
            runs: app.runs.clone(),
            landscapes: app.landscapes.clone(),
            leptos,
            admin_token: Some(token.into()),
        });
        app
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

#[tokio::test]
async fn healthz_answers_ok() {
    let app = TestApp::new().await;
    let res = app
        .router
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).expect("req"))
        .await
        .expect("ok");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_run_streams_metrics_then_done() {
    let app = TestApp::new().await;
    let (code, body) = app.post_json("/api/runs", &toy_body(400, 40)).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let events = app
        .stream(&format!("/api/runs/{id}/events"), None, 1000)
        .await;
    let stored: Vec<&SseEvent> = events.iter().filter(|e| e.id.is_some()).collect();
    let ids: Vec<i64> = stored.iter().filter_map(|e| e.id).collect();
    assert_eq!(
        ids,
        (1..=ids.len() as i64).collect::<Vec<_>>(),
        "ids are 1..n with no gap"
    );
    let metrics: Vec<&&SseEvent> = stored.iter().filter(|e| e.event == "metric").collect();
    assert_eq!(metrics.len(), 11, "step 0 and every 40 steps");
    assert_eq!(metrics[10].data["step"], 400);
    assert!(
        metrics[10].data["values"]["dist_mn"]
            .as_f64()
            .is_some_and(f64::is_finite)
    );
    let last = events.last().expect("events");
    assert_eq!(
        (last.event.as_str(), last.data["status"].as_str()),
        ("done", Some("completed"))
    );
    let running = stored
        .iter()
        .find(|e| e.data["status"] == "running")
        .expect("a running status");
    assert_eq!(running.data["backend"], "flex");

    let (code, run) = app.get(&format!("/api/runs/{id}")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        (run["status"].as_str(), run["last_step"].as_u64()),
        (Some("completed"), Some(400))
    );
    let (_, rows) = app.get(&format!("/api/runs/{id}/metrics")).await;
    assert_eq!(rows.as_array().map(Vec::len), Some(11));
}

#[tokio::test]
async fn reconnect_with_last_event_id_has_no_gaps_or_duplicates() {
    let app = TestApp::new().await;
    let (_, body) = app.post_json("/api/runs", &toy_body(3000, 10)).await;
    let id = body["id"].as_i64().expect("id");
    let uri = format!("/api/runs/{id}/events");
    // Drop the first connection mid-run, after a handful of stored events.
    let first: Vec<SseEvent> = app.stream(&uri, None, 8).await;
    let last_seen = first
        .iter()
        .filter_map(|e| e.id)
        .max()
        .expect("some stored events");
    let second = app.stream(&uri, Some(last_seen), 100_000).await;
    let mut ids: Vec<i64> = first
        .iter()
        .chain(second.iter())
        .filter_map(|e| e.id)
        .collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "no duplicates");
    assert_eq!(ids, (1..=n as i64).collect::<Vec<_>>(), "no gaps");
    assert_eq!(second.last().map(|e| e.event.as_str()), Some("done"));
    let metrics = first
        .iter()
        .chain(second.iter())
        .filter(|e| e.event == "metric")
        .count();
    assert_eq!(metrics, 301);
}

#[tokio::test]
async fn finished_run_replays_everything_and_closes() {
    let app = TestApp::new().await;
    let (_, body) = app.post_json("/api/runs", &toy_body(100, 10)).await;
    let id = body["id"].as_i64().expect("id");
    let uri = format!("/api/runs/{id}/events");
    let live = app.stream(&uri, None, 10_000).await;
    let replay = app.stream(&uri, None, 10_000).await;
    let ids = |v: &[SseEvent]| v.iter().filter_map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(&live), ids(&replay));
    let tail = app.stream(&uri, Some(ids(&live)[3]), 10_000).await;
    assert_eq!(ids(&tail), ids(&live)[4..].to_vec());
}

#[tokio::test]
async fn invalid_specs_get_field_level_422() {
    let app = TestApp::new().await;
    let bad = json!({
        "experiment": {"kind": "toy", "d": 10, "n": 20, "gamma": 1.0, "label_noise": 0.3, "batch": 0, "steps": 10},
        "schedule": {"kind": "constant", "lr": -0.1}
    });
    let (code, body) = app.post_json("/api/runs", &bad.to_string()).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    for f in ["experiment.n", "experiment.batch", "schedule.lr"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }

    let (code, body) = app
        .post_json(
            "/api/runs",
            &toy_body(10, 1).replace("\"seed\"", "\"bogus\":1,\"seed\""),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "bogus");

    let cuda = toy_body(10, 1).replace("\"seed\":1", "\"seed\":1,\"backend\":\"cuda\"");
    let (code, body) = app.post_json("/api/runs", &cuda).await;
    if !cfg!(feature = "cuda") {
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["fields"][0]["field"], "backend");
    }
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_400_or_413() {
    let app = TestApp::new().await;
    let (code, body) = app.post_json("/api/runs", "{not json").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "request body is not valid JSON");
    let req = Request::post("/api/runs")
        .body(Body::from(toy_body(10, 1)))
        .expect("req");
    assert_eq!(
        app.call(req).await.0,
        StatusCode::BAD_REQUEST,
        "missing content type"
    );
    let huge = format!(
        "{{\"name\":\"{}\"}}",
        "x".repeat(super::BODY_LIMIT_BYTES + 10)
    );
    let (code, _) = app.post_json("/api/runs", &huge).await;
    assert!(
        code == StatusCode::PAYLOAD_TOO_LARGE || code == StatusCode::BAD_REQUEST,
        "{code}"
    );
}

#[tokio::test]
async fn unknown_runs_are_404_and_bad_ids_rejected() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/api/runs/999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/runs/999/events").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post_json("/api/runs/999/cancel", "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/api/runs/abc").await.0, StatusCode::BAD_REQUEST);
    let (_, body) = app.post_json("/api/runs", &toy_body(10, 1)).await;
    let id = body["id"].as_i64().expect("id");
    let req = Request::get(format!("/api/runs/{id}/events"))
        .header("last-event-id", "x")
        .body(Body::empty());
    assert_eq!(app.call(req.expect("req")).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn cancel_stops_a_running_run() {
    let app = TestApp::new().await;
    let (_, body) = app
        .post_json("/api/runs", &toy_body(5_000_000, 100_000))
        .await;
    let id = body["id"].as_i64().expect("id");
    // Wait until it is running.
    let uri = format!("/api/runs/{id}/events");
    let early = app.stream(&uri, None, 3).await;
    assert!(
        early.iter().any(|e| e.data["status"] == "running"),
        "{early:?}"
    );
    let (code, body) = app.post_json(&format!("/api/runs/{id}/cancel"), "").await;
    assert_eq!(
        (code, body["cancelled"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let rest = app
        .stream(&uri, early.iter().filter_map(|e| e.id).max(), 10_000)
        .await;
    let done = rest.last().expect("done event");
    assert_eq!(
        (done.event.as_str(), done.data["status"].as_str()),
        ("done", Some("cancelled"))
    );
    app.runs.shutdown().await;
}

#[tokio::test]
async fn beyond_loopback_mutations_need_the_admin_token() {
    let app = TestApp::with_token("s3cret").await;
    let (code, _) = app.post_json("/api/runs", &toy_body(10, 1)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/runs").await.0,
        StatusCode::OK,
        "reads stay open"
    );
    let with = |t: &str| {
        Request::post("/api/runs")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::from(toy_body(10, 1)))
            .expect("req")
    };
    assert_eq!(app.call(with("wrong")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(with("s3cret")).await.0, StatusCode::CREATED);
    let cookie = Request::post("/api/runs")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, "other=1; anneal_admin=s3cret")
        .body(Body::from(toy_body(10, 1)))
        .expect("req");
    assert_eq!(app.call(cookie).await.0, StatusCode::CREATED);
    let res = app
        .router
        .clone()
        .oneshot(
            Request::get("/login?token=s3cret")
                .body(Body::empty())
                .expect("req"),
        )
        .await
        .expect("ok");
    assert!(
        res.headers()[header::SET_COOKIE]
            .to_str()
            .expect("ascii")
            .contains("HttpOnly")
    );
    app.runs.shutdown().await;
}

#[tokio::test]
async fn sweeps_run_and_export_their_verdict() {
    let app = TestApp::new().await;
    let sweep = json!({
        "name": "t",
        "main": serde_json::from_str::<Value>(&toy_body(3000, 100)).expect("json"),
        "branch_at": [500, 1500, 3000],
        "after": {"kind": "constant", "lr": 0.005},
        "branch_length": 500
    });
    let (code, body) = app.post_json("/api/sweeps", &sweep.to_string()).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let runs: Vec<i64> = body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert_eq!(runs.len(), 4);
    let last = *runs.last().expect("a branch");
    let done = app
        .stream(&format!("/api/runs/{last}/events"), None, 100_000)
        .await;
    assert_eq!(
        done.last().map(|e| e.data["status"].clone()),
        Some(json!("completed"))
    );
    let (_, sweep) = app.get(&format!("/api/sweeps/{id}")).await;
    assert_eq!(sweep["runs"][2]["branch_at"], 1500);
    let (code, summary) = app.get(&format!("/api/sweeps/{id}/summary")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(summary["branches"].as_array().map(Vec::len), Some(3));
    assert!(
        summary["conclusion"]
            .as_str()
            .is_some_and(|c| c.contains("instead of 500")),
        "{summary}"
    );

    let res = app
        .router
        .clone()
        .oneshot(
            Request::get(format!("/api/runs/{last}/metrics?format=csv"))
                .body(Body::empty())
                .expect("req"),
        )
        .await
        .expect("ok");
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let text = String::from_utf8(
        res.into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec(),
    )
    .expect("utf8");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("seq,step,epoch,alpha_norm,dist_mn,lr,test_loss,train_loss,w_norm")
    );
    assert_eq!(lines.count(), 36, "rows every 100 steps to 3500");
    assert_eq!(
        app.get(&format!("/api/sweeps/{id}/summary?format=xml"))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let mut bad = sweep.clone();
    bad["spec"] = Value::Null;
    let bad = json!({"name": "t", "main": serde_json::from_str::<Value>(&toy_body(3000, 100)).expect("json"),
                     "branch_at": [1500, 500], "after": {"kind": "constant", "lr": 0.005}, "branch_length": 0});
    let (code, body) = app.post_json("/api/sweeps", &bad.to_string()).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"branch_at") && fields.contains(&"branch_length"),
        "{fields:?}"
    );
}

#[tokio::test]
async fn missing_datasets_are_refused_without_showing_paths() {
    let app = TestApp::new().await;
    let body = json!({
        "experiment": {"kind": "net", "dataset": "cifar10", "model": {"kind": "small_cnn"}, "loss": "mse",
                       "optimizer": {"kind": "sgd", "momentum": 0.9}, "batch": 125, "epochs": 2},
        "schedule": {"kind": "constant", "lr": 0.1}
    });
    let (code, body) = app.post_json("/api/runs", &body.to_string()).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let msg = body["fields"][0]["message"].as_str().unwrap_or_default();
    assert_eq!(body["fields"][0]["field"], "experiment.dataset");
    assert!(msg.contains("anneal data fetch cifar10"), "{msg}");
    assert!(
        !msg.contains(&*app._dir.0.to_string_lossy()),
        "the data directory leaked: {msg}"
    );
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
        self._dir.0.join("t.db")
    }

    /// Runs a short toy run to the end and returns its id.
    async fn finished_run(&self) -> i64 {
        let (code, body) = self.post_json("/api/runs", &toy_body(200, 20)).await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        let id = body["id"].as_i64().expect("id");
        let events = self
            .stream(&format!("/api/runs/{id}/events"), None, 10_000)
            .await;
        assert_eq!(
            events.last().map(|e| e.data["status"].clone()),
            Some(json!("completed"))
        );
        id
    }
}

fn random_token() -> String {
    crate::shares::new_token()
}

#[tokio::test]
async fn share_links_serve_a_frozen_page_until_revoked() {
    let app = TestApp::new().await;
    let run = app.finished_run().await;
    let (code, created) = app
        .post_json(
            "/api/shares",
            &json!({"kind": "run", "id": run}).to_string(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 64, "256 bits, hex");
    assert_eq!(created["url"], format!("/s/{token}"));
    let share = created["id"].as_i64().expect("id");

    // The token is never stored: only its hash is in the database file.
    let raw = if app.runs.db().backend() == crate::db::Backend::Sqlite {
        std::fs::read(app.db_file()).expect("db file")
    } else {
        Vec::new()
    };
    let wal = std::fs::read(app.db_file().with_extension("db-wal")).unwrap_or_default();
    let needle = token.as_bytes();
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle)
            && !wal.windows(needle.len()).any(|w| w == needle),
        "the token must not be stored in clear"
    );

    let (code, page) = app.get(&format!("/s/{token}/export?format=json")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(page["body"]["kind"], "run");
    let points = page["body"]["points"].as_array().expect("points").len();
    assert!(points >= 10, "{points} points");

    // Later metrics of the run do not change the frozen snapshot, and the page names no path.
    let (code, headers, csv) = app.get_text(&format!("/s/{token}/export?format=csv")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(csv.starts_with("run,role,step,epoch,"), "{csv}");
    assert_eq!(csv.lines().count(), points + 1);

    let (code, headers, html) = app.get_text(&format!("/s/{token}")).await;
    assert_eq!(code, StatusCode::OK, "{html}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert!(html.contains("og:title"), "Open Graph tags");
    assert!(html.contains("share-conclusion"), "{html}");
    assert!(
        html.contains("<svg"),
        "a chart that reads without JavaScript"
    );
    for leak in ["/tmp", "anneal-http", "data_dir", "token_hash"] {
        assert!(!html.contains(leak), "page leaks {leak}");
    }

    let (code, list) = app.get("/api/shares").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list[0]["id"], share);
    assert!(list[0]["revoked_at_ms"].is_null());
    assert!(
        !list.to_string().contains(&token),
        "listing never shows tokens"
    );

    let (code, _) = app
        .post_json(&format!("/api/shares/{share}/revoke"), "")
        .await;
    assert_eq!(code, StatusCode::OK);
    for uri in [
        format!("/s/{token}"),
        format!("/s/{token}/export?format=json"),
    ] {
        let (code, headers, _) = app.get_text(&uri).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{uri} after revoking");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }
    let (_, list) = app.get("/api/shares").await;
    assert!(list[0]["revoked_at_ms"].is_i64());
    assert_eq!(
        app.post_json("/api/shares/999/revoke", "").await.0,
        StatusCode::NOT_FOUND
    );
    app.runs.shutdown().await;
}

#[tokio::test]
async fn guessed_and_malformed_tokens_get_404() {
    let app = TestApp::new().await;
    let run = app.finished_run().await;
    let (code, _) = app
        .post_json(
            "/api/shares",
            &json!({"kind": "run", "id": run}).to_string(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    for token in [
        random_token(),
        random_token().to_uppercase(),
        "0".repeat(64),
        "abc".into(),
        "..%2F..%2Fetc%2Fpasswd".into(),
        format!("{}x", random_token()),
    ] {
        let (code, _, body) = app.get_text(&format!("/s/{token}")).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{token}");
        assert!(!body.contains("Run "), "nothing of the run shows");
        let (code, _, _) = app
            .get_text(&format!("/s/{token}/export?format=json"))
            .await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{token}");
    }
    app.runs.shutdown().await;
}

#[tokio::test]
async fn expired_links_get_404() {
    let app = TestApp::new().await;
    let run = app.finished_run().await;
    let (code, created) = app
        .post_json(
            "/api/shares",
            &json!({"kind": "run", "id": run, "expires_in_hours": 1}).to_string(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().expect("token").to_owned();
    let expires = created["expires_at_ms"].as_i64().expect("expiry");
    assert!(expires > crate::db::now_ms() + 3_500_000);
    assert_eq!(app.get_text(&format!("/s/{token}")).await.0, StatusCode::OK);
    // Move the clock past the expiry by moving the expiry before the clock.
    app.runs
        .db()
        .execute_for_test(
            "UPDATE share_links SET expires_at_ms = $1 WHERE id = $2",
            crate::db::now_ms() - 1,
            created["id"].as_i64().expect("id"),
        )
        .await
        .expect("update");
    assert_eq!(
        app.get_text(&format!("/s/{token}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/s/{token}/export?format=csv")).await.0,
        StatusCode::NOT_FOUND
    );
    app.runs.shutdown().await;
}

#[tokio::test]
async fn share_requests_are_validated_per_field() {
    let app = TestApp::new().await;
    let cases = [
        (json!({"kind": "run", "id": 12345}), "id"),
        (
            json!({"kind": "run", "id": 1, "expires_in_hours": 0}),
            "expires_in_hours",
        ),
        (
            json!({"kind": "run", "id": 1, "expires_in_hours": 1_000_000}),
            "expires_in_hours",
        ),
        (json!({"kind": "sweep", "id": 77}), "id"),
    ];
    for (body, field) in cases {
        let (code, answer) = app.post_json("/api/shares", &body.to_string()).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        assert_eq!(answer["fields"][0]["field"], field, "{answer}");
    }
    for body in [
        json!({"kind": "run", "id": 1, "extra": true}),
        json!({"kind": "dataset", "id": 1}),
        json!({"kind": "run", "id": "1"}),
    ] {
        let (code, _) = app.post_json("/api/shares", &body.to_string()).await;
        assert!(code.is_client_error(), "{body} → {code}");
    }
    let (code, _, _) = app
        .get_text(&format!("/s/{}/export?format=xml", random_token()))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "dead links say nothing else");
    app.runs.shutdown().await;
}

#[tokio::test]
async fn a_share_token_opens_nothing_that_mutates() {
    let app = TestApp::with_token("s3cret").await;
    let admin = |req: axum::http::request::Builder| {
        req.header(header::AUTHORIZATION, "Bearer s3cret")
            .header(header::CONTENT_TYPE, "application/json")
    };
    let (code, body) = app
        .call(
            admin(Request::post("/api/runs"))
                .body(Body::from(toy_body(200, 20)))
                .expect("req"),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let run = body["id"].as_i64().expect("id");
    let (code, created) = app
        .call(
            admin(Request::post("/api/shares"))
                .body(Body::from(json!({"kind": "run", "id": run}).to_string()))
                .expect("req"),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let share_token = created["token"].as_str().expect("token").to_owned();

    let mut mutating: Vec<String> = [
        "/api/runs".to_owned(),
        format!("/api/runs/{run}/cancel"),
        format!("/api/runs/{run}/resume"),
        "/api/sweeps".into(),
        "/api/shares".into(),
        "/api/shares/1/revoke".into(),
        format!("/s/{share_token}/export"),
        format!("/s/{share_token}"),
    ]
    .into();
    mutating.extend(
        leptos::server_fn::axum::server_fn_paths()
            .filter(|(_, m)| *m != axum::http::Method::GET)
            .map(|(p, _)| p.to_owned()),
    );
    assert!(mutating.len() > 12, "the server functions are registered");
    for uri in &mutating {
        for auth in [
            (header::AUTHORIZATION, format!("Bearer {share_token}")),
            (header::COOKIE, format!("anneal_admin={share_token}")),
        ] {
            let req = Request::post(uri.as_str())
                .header(auth.0.clone(), auth.1.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"id": run}).to_string()))
                .expect("req");
            let (code, _) = app.call(req).await;
            assert!(
                code == StatusCode::UNAUTHORIZED
                    || code == StatusCode::METHOD_NOT_ALLOWED
                    || code == StatusCode::NOT_FOUND,
                "POST {uri} with a share token → {code}"
            );
        }
    }
    // The run was neither cancelled nor anything else: it finishes on its own.
    let events = app
        .stream(&format!("/api/runs/{run}/events"), None, 10_000)
        .await;
    assert_eq!(
        events.last().map(|e| e.data["status"].clone()),
        Some(json!("completed"))
    );
    let (code, _, _) = app.get_text(&format!("/s/{share_token}")).await;
    assert_eq!(code, StatusCode::OK, "the link itself still reads");
    app.runs.shutdown().await;
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

#[tokio::test]
async fn toy_landscape_is_computed_streamed_stored_and_shared() {
    let app = TestApp::new().await;
    let (code, body) = app.post_json("/api/runs", &toy2_body(600)).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let run = body["id"].as_i64().expect("id");
    let (code, answer) = app
        .post_json(
            "/api/landscapes",
            &landscape_req(
                json!({"kind": "run", "id": run}),
                11,
                json!({"kind": "pca"}),
            ),
        )
        .await;
    assert_eq!(
        code,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the run is not finished yet: {answer}"
    );
    assert_eq!(answer["fields"][0]["field"], "source.id");
    app.stream(&format!("/api/runs/{run}/events"), None, 10_000)
        .await;

    let (code, created) = app
        .post_json(
            "/api/landscapes",
            &landscape_req(
                json!({"kind": "run", "id": run}),
                11,
                json!({"kind": "pca"}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().expect("id");
    let events = app.landscape_events(id).await;
    let done = events.last().expect("events");
    assert_eq!(done.event, "done");
    assert_eq!(done.data["status"], "completed", "{:?}", done.data);

    let (code, l) = app.get(&format!("/api/landscapes/{id}/result")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(l["xs"].as_array().map(Vec::len), Some(11));
    assert_eq!(l["train_loss"].as_array().map(Vec::len), Some(11));
    assert_eq!(l["x_label"], "w₁");
    assert!(l["w_mn"].is_array(), "the minimum-norm point is marked");
    assert!(!l["manifold"].as_array().expect("manifold").is_empty());
    let path = &l["paths"][0];
    let rows = app.get(&format!("/api/runs/{run}/metrics")).await.1;
    assert_eq!(
        path["x"].as_array().map(Vec::len),
        rows.as_array().map(Vec::len),
        "one point per stored metric row"
    );
    // The trajectory's last point is the run's last (w₁, w₂).
    let last = rows.as_array().and_then(|r| r.last()).expect("rows");
    let w1 = last["values"]["w1"].as_f64().expect("w1");
    assert!(
        (path["x"]
            .as_array()
            .expect("x")
            .last()
            .and_then(Value::as_f64)
            .expect("x")
            - w1)
            .abs()
            < 1e-9
    );

    // Stored: listing and reopening read the database, no recomputation.
    let (_, list) = app.get(&format!("/api/landscapes?run={run}")).await;
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["status"], "completed");
    assert_eq!(
        app.get("/api/landscapes?run=1&sweep=1").await.0,
        StatusCode::BAD_REQUEST
    );

    // Shared: the page and the grid CSV.
    let (code, share) = app
        .post_json(
            "/api/shares",
            &json!({"kind": "landscape", "id": id}).to_string(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{share}");
    let url = share["url"].as_str().expect("url").to_owned();
    let (code, _, csv) = app.get_text(&format!("{url}/export?format=csv")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(csv.starts_with("x,y,train_loss,test_loss,train_acc,test_acc"));
    assert_eq!(csv.lines().count(), 1 + 11 * 11);
    let (code, _, html) = app.get_text(&url).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        html.contains("landscape-train") && html.contains("svg-landscape"),
        "maps and their fallback"
    );
    app.landscapes.shutdown().await;
    app.runs.shutdown().await;
}

#[tokio::test]
async fn landscape_requests_are_validated_per_field() {
    let app = TestApp::new().await;
    let (_, body) = app.post_json("/api/runs", &toy_body(100, 10)).await;
    let d20 = body["id"].as_i64().expect("id");
    app.stream(&format!("/api/runs/{d20}/events"), None, 10_000)
        .await;
    let cases = [
        (landscape_req(json!({"kind": "run", "id": d20}), 99, json!({"kind": "pca"})), "spec.grid"),
        (landscape_req(json!({"kind": "run", "id": 777}), 11, json!({"kind": "pca"})), "source.id"),
        (landscape_req(json!({"kind": "sweep", "id": 777}), 11, json!({"kind": "pca"})), "source.id"),
        (landscape_req(json!({"kind": "run", "id": d20}), 11, json!({"kind": "pca"})), "source.id"),
        (
            json!({"source": {"kind": "run", "id": d20}, "spec": {"grid": 11, "margin": -1.0, "method": {"kind": "pca"}}}).to_string(),
            "spec.margin",
        ),
    ];
    for (body, field) in cases {
        let (code, answer) = app.post_json("/api/landscapes", &body).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        let fields: Vec<&str> = answer["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{body} → {answer}");
    }
    let (_, answer) = app
        .post_json(
            "/api/landscapes",
            &landscape_req(
                json!({"kind": "run", "id": d20}),
                11,
                json!({"kind": "pca"}),
            ),
        )
        .await;
    assert!(
        answer.to_string().contains("d = 20"),
        "says why the toy run cannot be drawn: {answer}"
    );
    for bad in [
        json!({"source": {"kind": "run", "id": d20}, "spec": {"grid": 11, "margin": 0.2, "method": {"kind": "pca"}}, "x": 1}),
        json!({"source": {"kind": "dataset", "id": 1}, "spec": {"grid": 11, "margin": 0.2, "method": {"kind": "pca"}}}),
        json!({"source": {"kind": "run", "id": d20}, "spec": {"grid": 11, "margin": 0.2, "method": {"kind": "hessian"}}}),
    ] {
        let (code, _) = app.post_json("/api/landscapes", &bad.to_string()).await;
        assert!(code.is_client_error(), "{bad} → {code}");
    }
    assert_eq!(app.get("/api/landscapes/5").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/landscapes/5/result").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post_json("/api/landscapes/5/cancel", "").await.0,
        StatusCode::NOT_FOUND
    );
    app.landscapes.shutdown().await;
    app.runs.shutdown().await;
}

#[tokio::test]
async fn net_sweep_landscape_projects_main_path_and_branches_and_cancels() {
    let app = TestApp::new().await;
    // Big enough that a 51×51 grid takes seconds, so the cancel below lands mid-grid.
    datasets::testgen::write_idx(&app._dir.0.join("tiny"), 2000, 1000, false, 3)
        .expect("IDX files");
    let main = json!({
        "experiment": {"kind": "net", "dataset": "fashion_mnist", "data_dir": "tiny",
                       "model": {"kind": "mlp", "hidden": [8]}, "loss": "cross_entropy",
                       "optimizer": {"kind": "sgd", "momentum": 0.9}, "batch": 50, "epochs": 4},
        "schedule": {"kind": "constant", "lr": 0.05},
        "seed": 2
    });
    let sweep = json!({"name": "ls", "main": main, "branch_at": [2, 3],
                       "after": {"kind": "constant", "lr": 0.005}, "branch_length": 1});
    let (code, body) = app.post_json("/api/sweeps", &sweep.to_string()).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let sweep_id = body["id"].as_i64().expect("id");
    for run in body["runs"].as_array().expect("runs") {
        let run = run.as_i64().expect("id");
        app.stream(&format!("/api/runs/{run}/events"), None, 10_000)
            .await;
    }
    let source = json!({"kind": "sweep", "id": sweep_id});
    let (code, created) = app
        .post_json(
            "/api/landscapes",
            &landscape_req(source.clone(), 5, json!({"kind": "pca"})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().expect("id");
    let events = app.landscape_events(id).await;
    assert_eq!(
        events.last().map(|e| e.data["status"].clone()),
        Some(json!("completed"))
    );
    let (_, l) = app.get(&format!("/api/landscapes/{id}/result")).await;
    let labels: Vec<&str> = l["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(|p| p["label"].as_str())
        .collect();
    assert_eq!(labels, ["main", "k=2", "k=3"]);
    assert_eq!(l["paths"][0]["epochs"], json!([1.0, 2.0, 3.0, 4.0]));
    // A branch starts at its branch point on the main path.
    assert_eq!(l["paths"][1]["epochs"], json!([2.0, 3.0]));
    assert_eq!(l["paths"][1]["x"][0], l["paths"][0]["x"][1]);
    assert_eq!(l["explained_variance"].as_array().map(Vec::len), Some(2));
    assert!(l["test_acc"].is_array());

    // A larger grid, cancelled while it computes.
    let (_, created) = app
        .post_json(
            "/api/landscapes",
            &landscape_req(source, 51, json!({"kind": "curved_pca"})),
        )
        .await;
    let big = created["id"].as_i64().expect("id");
    let first = app
        .stream(&format!("/api/landscapes/{big}/events"), None, 3)
        .await;
    assert!(!first.is_empty());
    assert_ne!(
        first.last().map(|e| e.event.as_str()),
        Some("done"),
        "cancel before the end"
    );
    let (code, answer) = app
        .post_json(&format!("/api/landscapes/{big}/cancel"), "")
        .await;
    assert_eq!(code, StatusCode::OK, "{answer}");
    let events = app.landscape_events(big).await;
    assert_eq!(
        events.last().map(|e| e.data["status"].clone()),
        Some(json!("cancelled"))
    );
    assert_eq!(
        app.get(&format!("/api/landscapes/{big}/result")).await.0,
        StatusCode::NOT_FOUND
    );
    app.landscapes.shutdown().await;
    app.runs.shutdown().await;
}

#[tokio::test]
async fn a_landscape_left_running_by_a_crash_is_computed_again_at_start() {
    let app = TestApp::new().await;
    app.landscapes.shutdown().await;
    let (_, body) = app.post_json("/api/runs", &toy2_body(200)).await;
    let run = body["id"].as_i64().expect("id");
    app.stream(&format!("/api/runs/{run}/events"), None, 10_000)
        .await;
    let spec = spec::landscape::LandscapeSpec {
        grid: 5,
        ..Default::default()
    };
    let db = app.runs.db();
    let id = db
        .insert_landscape(
            "crashed",
            app::wire::LandscapeSource::Run { id: run },
            &spec,
        )
        .await
        .expect("insert");
    // What a killed process leaves behind: a job marked running that nobody computes.
    assert!(db.claim_next_landscape().await.expect("claim").is_some());
    assert_eq!(
        db.get_landscape(id).await.expect("read").map(|l| l.status),
        Some(app::wire::RunStatus::Running)
    );
    let restarted = LandscapeService::start(app.runs.clone(), true)
        .await
        .expect("starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let l = db.get_landscape(id).await.expect("read").expect("exists");
        if l.status == app::wire::RunStatus::Completed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {:?}",
            l.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(db.landscape_result(id).await.expect("read").is_some());
    restarted.shutdown().await;
    app.runs.shutdown().await;
}

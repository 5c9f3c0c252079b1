//! Runs over HTTP: queueing, live and resumed SSE streams, validation, cancel, missing data.

use domain::wire::RunStatus;

use super::*;

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
    // The field is where the value sits, never the value itself.
    let negative = toy_body(10, 1).replace("\"steps\":10", "\"steps\":-1");
    let (code, body) = app.post_json("/api/runs", &negative).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let field = body["fields"][0]["field"].as_str().unwrap_or_default();
    assert!(field.starts_with("experiment"), "{body}");
    let (_, body) = app
        .post_json(
            "/api/runs",
            &toy_body(10, 1).replace("\"seed\":1", "\"seed\":\"x\""),
        )
        .await;
    assert_eq!(body["fields"][0]["field"], "seed", "{body}");

    let on = |backend: &str| {
        toy_body(10, 1).replace(
            "\"seed\":1",
            &format!("\"seed\":1,\"backend\":\"{backend}\""),
        )
    };
    let (code, body) = app.post_json("/api/runs", &on("cuda")).await;
    if !cfg!(feature = "cuda") {
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["fields"][0]["field"], "backend");
        let why = body["fields"][0]["message"].as_str().unwrap_or_default();
        assert!(why.contains("--features cuda"), "{why}");
    }
    let (code, body) = app.post_json("/api/runs", &on("wgpu")).await;
    if !cfg!(feature = "wgpu") {
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["fields"][0]["field"], "backend");
    }
    let (code, body) = app.post_json("/api/runs", &on("tpu")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "backend", "{body}");
    // "auto" is always runnable: a GPU where there is one, the CPU here.
    let (code, body) = app.post_json("/api/runs", &on("auto")).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    app.assert_completes(id, 10_000).await;
    let (_, run) = app.get(&format!("/api/runs/{id}")).await;
    if !cfg!(feature = "cuda") {
        assert_eq!(run["backend"], "flex", "{run}");
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
        "x".repeat(crate::http::BODY_LIMIT_BYTES + 10)
    );
    let (code, body) = app.post_json("/api/runs", &huge).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["status"], 413);
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
    let (code, body) = app.get("/api/runs/abc").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(body["status"], 400, "path errors are JSON too: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("abc")),
        "{body}"
    );
    let (code, body) = app.get("/api/runs/1/metrics?format=csv&bogus=1").await;
    assert_eq!(
        (code, &body["status"]),
        (StatusCode::BAD_REQUEST, &json!(400)),
        "{body}"
    );
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
        !msg.contains(&*app.dir.path().to_string_lossy()),
        "the data directory leaked: {msg}"
    );
}

#[tokio::test]
async fn a_stream_resumed_at_or_past_the_end_closes_at_once() {
    let app = TestApp::new().await;
    let id = app.finished_run().await;
    let uri = format!("/api/runs/{id}/events");
    let all = app.stream(&uri, None, 100_000).await;
    let done = all.last().and_then(|e| e.id).expect("a done with an id");
    for after in [done, done + 1, 1_000_000] {
        let rest = tokio::time::timeout(Duration::from_secs(10), app.stream(&uri, Some(after), 10))
            .await
            .expect("the stream ends instead of waiting for events that will never come");
        assert!(rest.is_empty(), "after {after}: {rest:?}");
    }
    // Not UTF-8 is as unreadable as ASCII garbage.
    let req = Request::get(&uri)
        .header(
            "last-event-id",
            axum::http::HeaderValue::from_bytes(b"\xff\xfe").expect("header"),
        )
        .body(Body::empty())
        .expect("request");
    assert_eq!(app.call(req).await.0, StatusCode::BAD_REQUEST);
    app.runs.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_streams_and_interrupts_runs_within_seconds() {
    let app = TestApp::new().await;
    let (_, body) = app
        .post_json("/api/runs", &toy_body(5_000_000, 100_000))
        .await;
    let id = body["id"].as_i64().expect("id");
    let (_, queued) = app.post_json("/api/runs", &toy_body(10, 5)).await;
    let queued = queued["id"].as_i64().expect("id");
    let uri = format!("/api/runs/{id}/events");
    let early = app.stream(&uri, None, 3).await;
    assert!(
        early.iter().any(|e| e.data["status"] == "running"),
        "{early:?}"
    );
    let viewer = {
        let router = app.router.clone();
        let uri = uri.clone();
        tokio::spawn(async move {
            let res = router
                .oneshot(Request::get(&uri).body(Body::empty()).expect("request"))
                .await
                .expect("answers");
            res.into_body().collect().await.map(|b| b.to_bytes())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = tokio::time::Instant::now();
    app.runs.shutdown().await;
    let body = tokio::time::timeout(Duration::from_secs(5), viewer)
        .await
        .expect("the viewer's stream ends with the shutdown")
        .expect("task")
        .expect("body");
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("event: done") && text.contains("\"interrupted\""),
        "the stream carries the interruption: {text}"
    );
    let (_, q) = app.get(&format!("/api/runs/{queued}")).await;
    assert_eq!(q["status"], "queued", "nothing new starts during shutdown");
}

/// Plays one stretch of training into storage as the queue would: claim, running, a metric
/// row at `step`, then the `done` of `end` and the matching status.
async fn train_by_hand(app: &TestApp, id: i64, step: u64, end: RunStatus, message: Option<&str>) {
    use crate::db::EventKind::{Done, Metric, Status};
    let status =
        |s: RunStatus, m: Option<&str>| json!({"status": s.as_str(), "message": m}).to_string();
    let row = json!({"step": step, "epoch": 0.0, "values": {"train_loss": 1.0}}).to_string();
    let db = app.runs.db();
    assert!(db.claim(id).await.expect("claim"));
    for (kind, step, data) in [
        (Status, None, status(RunStatus::Running, None)),
        (Metric, Some(step), row),
        (Done, None, status(end, message)),
    ] {
        app.runs.record(id, kind, step, &data).await.expect("event");
    }
    assert!(
        db.transition(id, &[RunStatus::Running], end, message)
            .await
            .expect("transition")
    );
}

#[tokio::test]
async fn a_resumed_run_reads_as_it_is_now_from_the_start() {
    let app = TestApp::new().await;
    // A long run holds the only compute slot, so the run below is moved by hand.
    let (_, busy) = app
        .post_json("/api/runs", &toy_body(5_000_000, 100_000))
        .await;
    let busy = busy["id"].as_i64().expect("id");
    let db = app.runs.db();
    let spec: experiment::RunSpec = serde_json::from_str(&toy_body(20, 10)).expect("spec");
    let id = db.insert_run(&spec).await.expect("insert");
    let lost = "the server stopped while this run was training";
    // What a kill -9 mid-run and the next start leave behind.
    train_by_hand(&app, id, 0, RunStatus::Interrupted, Some(lost)).await;
    let (code, body) = app.post_json(&format!("/api/runs/{id}/resume"), "").await;
    assert_eq!(
        (code, body["resumed"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (_, run) = app.get(&format!("/api/runs/{id}")).await;
    assert_eq!(
        run["message"],
        Value::Null,
        "the interruption's message is gone: {run}"
    );
    assert_eq!(run["finished_at_ms"], Value::Null);
    // The resumed run trains to its end.
    train_by_hand(&app, id, 10, RunStatus::Completed, None).await;
    let events = app
        .stream(&format!("/api/runs/{id}/events"), None, 1000)
        .await;
    let dones: Vec<&SseEvent> = events.iter().filter(|e| e.event == "done").collect();
    assert_eq!(dones.len(), 1, "{events:?}");
    assert_eq!(dones[0].data["status"], "completed");
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("done"));
    assert_eq!(events.iter().filter(|e| e.event == "metric").count(), 2);
    assert!(
        events
            .iter()
            .any(|e| e.event == "status" && e.data["status"] == "interrupted"),
        "the interruption stays in the history, as a status"
    );
    let (code, _) = app.post_json(&format!("/api/runs/{busy}/cancel"), "").await;
    assert_eq!(code, StatusCode::OK);
    app.runs.shutdown().await;
}

#[tokio::test]
async fn a_run_too_large_for_memory_is_refused_at_validation() {
    let app = TestApp::new().await;
    let mut mlp: Value = serde_json::from_str(&toy_body(10, 5)).expect("json");
    mlp["experiment"] = json!({
        "kind": "net", "dataset": "fashion_mnist", "model": {"kind": "mlp", "hidden": vec![65_536; 16]},
        "loss": "mse", "optimizer": {"kind": "sgd", "momentum": 0.9, "nesterov": false, "weight_decay": 0.0},
        "batch": 25, "epochs": 1
    });
    let mut toy: Value = serde_json::from_str(&toy_body(10, 5)).expect("json");
    toy["experiment"]["d"] = json!(10_000);
    toy["experiment"]["n"] = json!(9_999);
    toy["experiment"]["batch"] = json!(9_999);
    for (spec, field) in [(mlp, "experiment.model.hidden"), (toy, "experiment.d")] {
        let (code, body) = app.post_json("/api/runs", &spec.to_string()).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let f = &body["fields"][0];
        assert_eq!(f["field"], field, "{body}");
        assert!(
            f["message"]
                .as_str()
                .is_some_and(|m| m.contains("GiB") && m.contains("at most")),
            "says what the limit is: {body}"
        );
    }
    let (_, list) = app.get("/api/runs").await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "nothing was queued");
}

#[tokio::test]
async fn replicates_train_one_run_per_seed_on_the_same_data() {
    let app = TestApp::new().await;
    let spec: Value = serde_json::from_str(&toy_body(300, 100)).expect("json");
    let (code, body) = app
        .post_json(
            "/api/runs/replicates",
            &json!({"spec": spec, "seeds": [1, 2, 3]}).to_string(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let ids: Vec<i64> = body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert_eq!(ids.len(), 3);
    let mut finals = Vec::new();
    for id in &ids {
        app.stream(&format!("/api/runs/{id}/events"), None, 100_000)
            .await;
        let (_, run) = app.get(&format!("/api/runs/{id}")).await;
        assert_eq!(run["status"], "completed", "{run}");
        assert!(
            run["name"].as_str().is_some_and(|n| n.contains("seed")),
            "{run}"
        );
        let (_, rows) = app.get(&format!("/api/runs/{id}/metrics")).await;
        finals.push(
            rows.as_array()
                .and_then(|r| r.last())
                .map(|r| r["values"]["test_loss"].clone()),
        );
    }
    let (_, two) = app.get(&format!("/api/runs/{}", ids[1])).await;
    assert_eq!(
        (
            two["spec"]["seed"].clone(),
            two["spec"]["data_seed"].clone()
        ),
        (json!(2), json!(1))
    );
    assert!(finals[0] != finals[1], "{finals:?}");

    for (body, why) in [
        (json!({"spec": spec, "seeds": []}), "at least one"),
        (
            json!({"spec": spec, "seeds": (0..17).collect::<Vec<u64>>()}),
            "at most 16",
        ),
        (json!({"spec": spec, "seeds": [2, 2]}), "given twice"),
    ] {
        let (code, res) = app
            .post_json("/api/runs/replicates", &body.to_string())
            .await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{res}");
        assert_eq!(res["fields"][0]["field"], "seeds");
        assert!(
            res["fields"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains(why)),
            "{res}"
        );
    }
    let (code, _) = app
        .post_json(
            "/api/runs/replicates",
            &json!({"spec": spec, "seeds": [1], "x": 1}).to_string(),
        )
        .await;
    assert!(code.is_client_error());
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_at_once_through_either_door() {
    let app = TestApp::new().await;
    for uri in ["/api/runs", "/api/fn/create_run"] {
        let req = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, (1u64 << 20).to_string())
            .body(Body::from_stream(futures::stream::pending::<
                Result<Vec<u8>, std::io::Error>,
            >()))
            .expect("request");
        let (code, body) = tokio::time::timeout(std::time::Duration::from_secs(5), app.call(req))
            .await
            .expect("answered before the body");
        assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{uri}: {body}");
        assert_eq!(body["error"], "request body too large (at most 64 KiB)");
    }
    app.runs.shutdown().await;
}

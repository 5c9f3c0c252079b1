//! The worker protocol over HTTP, played by hand: a job's token and nothing else opens its
//! routes, event batches are idempotent on (run, seq), a gap or a missing checkpoint refuses a
//! whole batch, and uploads are checked against their content address.

use super::*;
use crate::worker::protocol::{Files, object_id, pack};

/// A toy run claimed and handed to a worker job with `token`, as the executor does.
async fn dispatched(app: &TestApp, token: &str) -> i64 {
    let spec: domain::wire::RunSpec = serde_json::from_str(&toy_body(100, 10)).expect("spec");
    dispatched_spec(app, token, &spec).await
}

/// A network run (which keeps checkpoints), handed to a worker job with `token`.
async fn dispatched_net(app: &TestApp, token: &str) -> i64 {
    let spec = domain::wire::RunSpec {
        experiment: experiment::Experiment::Net(experiment::NetSpec::fashion_mlp()),
        ..domain::wire::RunSpec::toy_default()
    };
    dispatched_spec(app, token, &spec).await
}

async fn dispatched_spec(app: &TestApp, token: &str, spec: &domain::wire::RunSpec) -> i64 {
    let db = app.runs.db();
    let id = db.insert_run(spec).await.expect("insert");
    assert!(db.claim(id).await.expect("claim"));
    db.dispatch_worker(id, "process", &crate::tokens::hash_token(token))
        .await
        .expect("dispatch");
    id
}

impl TestApp {
    async fn worker(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Body,
        kind: &str,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("bearer {t}"));
        }
        req = req.header(header::CONTENT_TYPE, kind);
        self.call(req.body(body).expect("request")).await
    }

    async fn batch(&self, id: i64, token: &str, batch: Value) -> (StatusCode, Value) {
        self.worker(
            "POST",
            &format!("/api/worker/runs/{id}/events"),
            Some(token),
            Body::from(batch.to_string()),
            "application/json",
        )
        .await
    }

    async fn metric_count(&self, id: i64) -> usize {
        self.runs.metrics(id).await.expect("metrics").len()
    }
}

fn metric(step: u64) -> Value {
    json!({"kind": "metric", "point": {"step": step, "epoch": step as f64 / 10.0, "values": {"train_loss": 1.0 / (1.0 + step as f64)}}})
}

#[tokio::test]
async fn a_job_token_opens_only_its_job_and_batches_are_idempotent() {
    let app = TestApp::with_workers(0).await;
    let token = "job-token-0123456789abcdef0123456789abcdef";
    let id = dispatched(&app, token).await;
    let other = dispatched(&app, "another-job-token-0123456789abcdef0123").await;
    let job = format!("/api/worker/runs/{id}/job");

    // No token, a wrong one, another job's, or the admin's: 401, and nothing is written.
    for t in [
        None,
        Some("wrong"),
        Some("another-job-token-0123456789abcdef0123"),
    ] {
        let (code, _) = app
            .worker("GET", &job, t, Body::empty(), "application/json")
            .await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{t:?}");
        let (code, _) = app
            .batch(
                id,
                t.unwrap_or(""),
                json!({"first": 0, "events": [metric(0)]}),
            )
            .await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.metric_count(id).await, 0);
    let (code, body) = app
        .worker("GET", &job, Some(token), Body::empty(), "application/json")
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["run_id"].clone(),
            body["next_seq"].clone(),
            body["resume"].clone()
        ),
        (json!(id), json!(0), Value::Null)
    );
    assert_eq!(body["spec"]["experiment"]["kind"], "toy");

    // In order, then the same batch again (a retry after a lost answer): stored once.
    let first = json!({"first": 0, "events": [{"kind": "started", "backend": "flex", "device": "cpu"}, metric(0), metric(10)]});
    for _ in 0..2 {
        let (code, body) = app.batch(id, token, first.clone()).await;
        assert_eq!(
            (code, body["acked"].clone()),
            (StatusCode::OK, json!(3)),
            "{body}"
        );
    }
    assert_eq!(app.metric_count(id).await, 2);
    let (_, run) = app.get(&format!("/api/runs/{id}")).await;
    assert_eq!(run["backend"], "flex");
    // Overlapping: the stored part is skipped, the rest stored.
    let (code, body) = app
        .batch(
            id,
            token,
            json!({"first": 2, "events": [metric(10), metric(20)]}),
        )
        .await;
    assert_eq!((code, body["acked"].clone()), (StatusCode::OK, json!(4)));
    assert_eq!(app.metric_count(id).await, 3);
    // A gap: refused whole.
    let (code, _) = app
        .batch(id, token, json!({"first": 6, "events": [metric(40)]}))
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    // A checkpoint not uploaded yet: the metric before it is not stored either.
    let missing = "0".repeat(64);
    let (code, body) = app
        .batch(id, token, json!({"first": 4, "events": [metric(30), {"kind": "checkpoint", "epoch": 1, "step": 30, "object": missing}]}))
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert_eq!(app.metric_count(id).await, 3);
    // Malformed, unknown kinds and oversized batches: 4xx, nothing stored.
    for bad in [
        json!({"first": 4}),
        json!({"first": 4, "events": [{"kind": "nope"}]}),
        json!({"first": "x", "events": []}),
    ] {
        let (code, _) = app.batch(id, token, bad).await;
        assert!(code.is_client_error(), "{code}");
    }
    let many: Vec<Value> = (0..1001).map(|i| metric(100 + i)).collect();
    let (code, _) = app
        .batch(id, token, json!({"first": 4, "events": many}))
        .await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.metric_count(id).await, 3);

    // Uploads are checked against their name, then a checkpoint can point at them.
    let files: Files = vec![
        ("model.bin".into(), vec![7; 1000]),
        ("position.json".into(), b"{}".to_vec()),
    ];
    let good = object_id(&files);
    // A toy run keeps no checkpoints: its job may upload nothing, and is told so at once.
    let put_to = |run: i64, name: String, body: Vec<u8>, t: &'static str| {
        let app = &app;
        async move {
            app.worker(
                "PUT",
                &format!("/api/worker/runs/{run}/objects/{name}"),
                Some(t),
                Body::from(body),
                "application/octet-stream",
            )
            .await
        }
    };
    let (code, body) = put_to(id, good.clone(), pack(&files), token).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let net_token = "net-job-token-0123456789abcdef0123456789ab";
    let net = dispatched_net(&app, net_token).await;
    let put = |name: String, body: Vec<u8>, t: &'static str| put_to(net, name, body, t);
    let token_for_net = net_token;
    let (code, body) = put("f".repeat(64), pack(&files), token_for_net).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["fields"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("SHA-256"))
    );
    let (code, _) = put(good.clone(), b"not an archive".to_vec(), token_for_net).await;
    assert!(code.is_client_error());
    assert!(
        !app.dir
            .path()
            .join("checkpoints/objects")
            .join(&good)
            .exists()
    );
    let (code, _) = put(good.clone(), pack(&files), token_for_net).await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, body) = app
        .batch(net, net_token, json!({"first": 0, "events": [{"kind": "checkpoint", "epoch": 1, "step": 30, "object": good}]}))
        .await;
    assert_eq!(
        (code, body["acked"].clone()),
        (StatusCode::OK, json!(1)),
        "{body}"
    );
    let stored = app
        .runs
        .db()
        .checkpoint_at(net, 1)
        .await
        .expect("read")
        .expect("a checkpoint");
    assert_eq!(
        stored,
        format!("checkpoints/objects/{good}"),
        "stored relative to the data directory"
    );

    // A heartbeat of a job this server did not start tells it to stop; the end is taken.
    let (code, body) = app
        .worker(
            "POST",
            &format!("/api/worker/runs/{id}/heartbeat"),
            Some(token),
            Body::from(json!({"step": 30, "total_steps": 100, "samples_per_sec": 1.0}).to_string()),
            "application/json",
        )
        .await;
    assert_eq!((code, body["stop"].clone()), (StatusCode::OK, json!(true)));
    // Once the job's token is revoked (its job ended), it opens nothing.
    app.runs.db().revoke_worker(id).await.expect("revoke");
    let (code, _) = app
        .batch(id, token, json!({"first": 5, "events": [metric(50)]}))
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // A cancelled run's worker is told so.
    app.runs
        .db()
        .transition(
            other,
            &[domain::wire::RunStatus::Running],
            domain::wire::RunStatus::Cancelled,
            None,
        )
        .await
        .expect("cancel");
    let (code, _) = app
        .batch(
            other,
            "another-job-token-0123456789abcdef0123",
            json!({"first": 0, "events": [metric(0)]}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(app.metric_count(other).await, 0);
}

#[tokio::test]
async fn the_admin_token_is_not_a_worker_token_and_workers_need_no_admin_token() {
    let app = TestApp::with_workers(0).await.guard("admin-secret", true);
    let token = "job-token-0123456789abcdef0123456789abcdef";
    let id = dispatched(&app, token).await;
    let job = format!("/api/worker/runs/{id}/job");
    let (code, _) = app
        .worker(
            "GET",
            &job,
            Some("admin-secret"),
            Body::empty(),
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    // A private server with an admin token still lets the job's own token through.
    let (code, _) = app
        .worker("GET", &job, Some(token), Body::empty(), "application/json")
        .await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = app
        .batch(id, token, json!({"first": 0, "events": [metric(0)]}))
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_job_writes_only_its_own_next_steps_with_plain_keys_and_sane_beats() {
    let app = TestApp::with_workers(0).await;
    let token = "job-token-0123456789abcdef0123456789abcdef";
    let id = dispatched(&app, token).await;
    let (code, body) = app
        .batch(
            id,
            token,
            json!({"first": 0, "events": [metric(0), metric(10)]}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    // A step already stored, under a new seq: refused, nothing stored.
    for (events, why) in [
        (json!([metric(10)]), "a stored step again"),
        (json!([metric(5)]), "a step before the last stored"),
        (json!([metric(30), metric(20)]), "steps going backwards"),
        (json!([metric(30), metric(30)]), "one step twice"),
    ] {
        let (code, body) = app
            .batch(id, token, json!({"first": 2, "events": events}))
            .await;
        assert_eq!(code, StatusCode::CONFLICT, "{why}: {body}");
    }
    assert_eq!(app.metric_count(id).await, 2);
    // A metric key that a spreadsheet would run, or that no chart could name: refused by field.
    let evil = json!({"kind": "metric", "point": {"step": 40, "epoch": 4.0, "values": {"=HYPERLINK(\"http://evil.example\",\"x\")": 1.0}}});
    let (code, body) = app
        .batch(id, token, json!({"first": 2, "events": [evil]}))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "events");
    assert_eq!(app.metric_count(id).await, 2);
    // Heartbeats past the run's end, or with a negative or absurd speed: refused by field.
    let beat = |b: Value| {
        let app = &app;
        async move {
            app.worker(
                "POST",
                &format!("/api/worker/runs/{id}/heartbeat"),
                Some(token),
                Body::from(b.to_string()),
                "application/json",
            )
            .await
        }
    };
    for (b, field) in [
        (
            json!({"step": 101, "total_steps": 100, "samples_per_sec": 1.0}),
            "step",
        ),
        (
            json!({"step": 5, "total_steps": 1000, "samples_per_sec": 1.0}),
            "total_steps",
        ),
        (
            json!({"step": 5, "total_steps": 100, "samples_per_sec": -3.0}),
            "samples_per_sec",
        ),
    ] {
        let (code, body) = beat(b).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["fields"][0]["field"], field, "{body}");
    }
    let (code, _) = beat(json!({"step": 20, "total_steps": 100, "samples_per_sec": 3.0})).await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn an_oversized_event_batch_is_refused_with_its_own_limit() {
    let app = TestApp::with_workers(0).await;
    let token = "job-token-0123456789abcdef0123456789abcdef";
    let id = dispatched(&app, token).await;
    // Declared: refused before the body, quoting the events route's limit, not the default's.
    let req = Request::builder()
        .method("POST")
        .uri(format!("/api/worker/runs/{id}/events"))
        .header(header::AUTHORIZATION, format!("bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, (2u64 << 20).to_string())
        .body(Body::from_stream(futures::stream::pending::<
            Result<Vec<u8>, std::io::Error>,
        >()))
        .expect("request");
    let (code, body) = tokio::time::timeout(std::time::Duration::from_secs(5), app.call(req))
        .await
        .expect("answered before the body");
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["error"], "request body too large (at most 1 MiB)",
        "{body}"
    );
    // Undeclared (chunked): the same limit, in the same words.
    let big = vec![b' '; (1 << 20) + 10];
    let (code, body) = app
        .worker(
            "POST",
            &format!("/api/worker/runs/{id}/events"),
            Some(token),
            Body::from(big),
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["error"], "request body too large (at most 1 MiB)",
        "{body}"
    );
}

#[tokio::test]
async fn an_unauthenticated_upload_is_answered_without_reading_its_body() {
    let app = TestApp::with_workers(0).await;
    let token = "net-job-token-0123456789abcdef0123456789ab";
    let net = dispatched_net(&app, token).await;
    let object = "ab".repeat(32);
    // A body that never arrives: any answer proves it was not waited for.
    let pending =
        || Body::from_stream(futures::stream::pending::<Result<Vec<u8>, std::io::Error>>());
    let put = |auth: Option<&'static str>, length: u64| {
        let app = &app;
        let object = object.clone();
        async move {
            let mut req = Request::builder()
                .method("PUT")
                .uri(format!("/api/worker/runs/{net}/objects/{object}"))
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, length.to_string());
            if let Some(t) = auth {
                req = req.header(header::AUTHORIZATION, format!("bearer {t}"));
            }
            let call = app.call(req.body(pending()).expect("request"));
            tokio::time::timeout(std::time::Duration::from_secs(5), call)
                .await
                .expect("answered before the body")
        }
    };
    assert_eq!(put(None, 512 << 20).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        put(Some("wrong"), 512 << 20).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        put(None, 1_000_000_000_000).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // The job's own token, but more than its model's checkpoint can hold.
    let (code, body) = put(Some(token), 512 << 20).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("at most")),
        "{body}"
    );
}

#[tokio::test]
async fn a_job_names_only_the_objects_it_sent() {
    use crate::executor::{ExecutorName, Host};
    let app = TestApp::with_workers(0).await;
    // Two network runs handed to worker jobs the way an executor does it.
    let mut jobs = Vec::new();
    for _ in 0..2 {
        let spec = domain::wire::RunSpec {
            experiment: experiment::Experiment::Net(experiment::NetSpec::fashion_mlp()),
            ..domain::wire::RunSpec::toy_default()
        };
        let id = app.runs.db().insert_run(&spec).await.expect("insert");
        assert!(app.runs.db().claim(id).await.expect("claim"));
        let stop = trainer::StopFlag::new();
        let token = Host::hand_to_worker(&*app.runs, id, ExecutorName::Process, &stop)
            .await
            .expect("handed");
        jobs.push((id, token));
    }
    let files: Files = vec![("model.bin".into(), vec![3; 500])];
    let object = object_id(&files);
    let put = |run: i64, token: String, body: Vec<u8>| {
        let (app, object) = (&app, object.clone());
        async move {
            app.worker(
                "PUT",
                &format!("/api/worker/runs/{run}/objects/{object}"),
                Some(&token),
                Body::from(body),
                "application/octet-stream",
            )
            .await
        }
    };
    let checkpoint = |run: i64, token: String| {
        let (app, object) = (&app, object.clone());
        async move {
            app.batch(run, &token, json!({"first": 0, "events": [{"kind": "checkpoint", "epoch": 1, "step": 10, "object": object}]}))
                .await
        }
    };
    let ((a, ta), (b, tb)) = (jobs[0].clone(), jobs[1].clone());
    assert_eq!(
        put(b, tb.clone(), pack(&files)).await.0,
        StatusCode::CREATED
    );
    // The other job's object, by name only: refused, nothing stored.
    let (code, body) = checkpoint(a, ta.clone()).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(
        app.runs
            .db()
            .checkpoint_at(a, 1)
            .await
            .expect("read")
            .is_none()
    );
    // Claiming it by uploading other bytes under its name: refused on the content.
    let (code, _) = put(
        a,
        ta.clone(),
        pack(&vec![("model.bin".into(), vec![4; 500])]),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(checkpoint(a, ta.clone()).await.0, StatusCode::CONFLICT);
    // Sending the same content itself: stored once, and now its own to name.
    assert_eq!(
        put(a, ta.clone(), pack(&files)).await.0,
        StatusCode::CREATED
    );
    let (code, body) = checkpoint(a, ta).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(checkpoint(b, tb).await.0, StatusCode::OK);
}

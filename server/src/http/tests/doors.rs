//! The two doors agree: every operation of the service, sent through the JSON API and through
//! its server function, answers with the same status and the same body.

use super::*;

/// How a request reaches one door.
enum Call {
    Get(String),
    /// A JSON body.
    Json(String, Value),
    /// A form-encoded body (server functions' default POST encoding).
    Form(String, String),
    /// A POST without a body (the REST actions).
    Post(String),
}

impl TestApp {
    async fn door(&self, call: &Call) -> (StatusCode, Value) {
        let req = match call {
            Call::Get(uri) => Request::get(uri).body(Body::empty()),
            Call::Json(uri, body) => Request::post(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            Call::Form(uri, body) => Request::post(uri)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.clone())),
            Call::Post(uri) => Request::post(uri).body(Body::empty()),
        };
        self.call(req.expect("request")).await
    }
}

/// Values that differ between two calls by nature (a new id, a new token) are blanked.
fn redact(mut v: Value, keys: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            if o.contains_key(*k) {
                o.insert((*k).to_owned(), json!("<redacted>"));
            }
        }
    }
    v
}

#[tokio::test]
async fn every_operation_answers_the_same_through_both_doors() {
    let app = TestApp::new().await;
    let run = app.finished_run().await;
    let (code, body) = app
        .post_json(
            "/api/sweeps",
            &json!({
                "name": "doors",
                "main": serde_json::from_str::<Value>(&toy_body(200, 50)).expect("json"),
                "branch_at": [100, 200],
                "after": {"kind": "constant", "lr": 0.005},
                "branch_length": 50
            })
            .to_string(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let sweep = body["id"].as_i64().expect("sweep id");
    let last = body["runs"][2].as_i64().expect("last branch");
    app.stream(&format!("/api/runs/{last}/events"), None, 100_000)
        .await;
    let (_, d2) = app.post_json("/api/runs", &toy2_body(200)).await;
    let d2 = d2["id"].as_i64().expect("id");
    app.stream(&format!("/api/runs/{d2}/events"), None, 100_000)
        .await;
    let (code, body) = app
        .post_json(
            "/api/landscapes",
            &landscape_req(json!({"kind": "run", "id": d2}), 5, json!({"kind": "pca"})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let landscape = body["id"].as_i64().expect("landscape id");
    app.landscape_events(landscape).await;
    let (code, share) = app
        .post_json(
            "/api/shares",
            &json!({"kind": "run", "id": run}).to_string(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{share}");
    let token = share["token"].as_str().expect("token").to_owned();
    let missing = 999_999;
    let run_spec: Value = serde_json::from_str(&toy_body(10, 5)).expect("json");
    let mut bad_spec = run_spec.clone();
    bad_spec["experiment"]["batch"] = json!(0);

    let get = |s: String| Call::Get(s);
    let f = |s: &str| format!("/api/fn/{s}");
    // (operation, REST call, server-function call, keys that differ by nature)
    let cases: Vec<(&str, Call, Call, &[&str])> = vec![
        (
            "create_run",
            Call::Json("/api/runs".into(), run_spec.clone()),
            Call::Json(f("create_run"), json!({"spec": run_spec})),
            &["id"],
        ),
        (
            "add_sweep_seeds repeated seed",
            Call::Json(format!("/api/sweeps/{sweep}/seeds"), json!({"seeds": [1]})),
            Call::Json(f("add_sweep_seeds"), json!({"id": sweep, "seeds": [1]})),
            &[],
        ),
        (
            "add_sweep_seeds missing",
            Call::Json(
                format!("/api/sweeps/{missing}/seeds"),
                json!({"seeds": [3]}),
            ),
            Call::Json(f("add_sweep_seeds"), json!({"id": missing, "seeds": [3]})),
            &[],
        ),
        (
            "create_run invalid",
            Call::Json("/api/runs".into(), bad_spec.clone()),
            Call::Json(f("create_run"), json!({"spec": bad_spec})),
            &[],
        ),
        (
            "get_run",
            get(format!("/api/runs/{run}")),
            get(f(&format!("get_run?id={run}"))),
            &[],
        ),
        (
            "get_run missing",
            get(format!("/api/runs/{missing}")),
            get(f(&format!("get_run?id={missing}"))),
            &[],
        ),
        (
            "cancel_run finished",
            Call::Post(format!("/api/runs/{run}/cancel")),
            Call::Form(f("cancel_run"), format!("id={run}")),
            &[],
        ),
        (
            "cancel_run missing",
            Call::Post(format!("/api/runs/{missing}/cancel")),
            Call::Form(f("cancel_run"), format!("id={missing}")),
            &[],
        ),
        (
            "resume_run not interrupted",
            Call::Post(format!("/api/runs/{run}/resume")),
            Call::Form(f("resume_run"), format!("id={run}")),
            &[],
        ),
        (
            "resume_run missing",
            Call::Post(format!("/api/runs/{missing}/resume")),
            Call::Form(f("resume_run"), format!("id={missing}")),
            &[],
        ),
        (
            "run_metrics",
            get(format!("/api/runs/{run}/metrics")),
            get(f(&format!("run_metrics?id={run}"))),
            &[],
        ),
        (
            "run_metrics missing",
            get(format!("/api/runs/{missing}/metrics")),
            get(f(&format!("run_metrics?id={missing}"))),
            &[],
        ),
        (
            "get_sweep",
            get(format!("/api/sweeps/{sweep}")),
            get(f(&format!("get_sweep?id={sweep}"))),
            &[],
        ),
        (
            "get_sweep missing",
            get(format!("/api/sweeps/{missing}")),
            get(f(&format!("get_sweep?id={missing}"))),
            &[],
        ),
        (
            "list_sweeps",
            get("/api/sweeps".into()),
            get(f("list_sweeps")),
            &[],
        ),
        (
            "sweep_metrics",
            get(format!("/api/sweeps/{sweep}/metrics")),
            get(f(&format!("sweep_metrics?id={sweep}"))),
            &[],
        ),
        (
            "sweep_summary",
            get(format!("/api/sweeps/{sweep}/summary")),
            get(f(&format!("sweep_summary?id={sweep}"))),
            &[],
        ),
        (
            "sweep_summary missing",
            get(format!("/api/sweeps/{missing}/summary")),
            get(f(&format!("sweep_summary?id={missing}"))),
            &[],
        ),
        (
            "sweep_prediction",
            get(format!("/api/sweeps/{sweep}/prediction")),
            get(f(&format!("sweep_prediction?id={sweep}"))),
            &[],
        ),
        (
            "sweep_prediction missing",
            get(format!("/api/sweeps/{missing}/prediction")),
            get(f(&format!("sweep_prediction?id={missing}"))),
            &[],
        ),
        (
            "sweep_reference",
            get(format!("/api/sweeps/{sweep}/reference")),
            get(f(&format!("sweep_reference?id={sweep}"))),
            &[],
        ),
        (
            "run_reference",
            get(format!("/api/runs/{run}/reference")),
            get(f(&format!("run_reference?id={run}"))),
            &[],
        ),
        (
            "run_reference missing",
            get(format!("/api/runs/{missing}/reference")),
            get(f(&format!("run_reference?id={missing}"))),
            &[],
        ),
        (
            "create_sweep invalid",
            Call::Json(
                "/api/sweeps".into(),
                json!({"main": run_spec, "branch_at": [], "after": {"kind": "constant", "lr": 0.01}, "branch_length": 5}),
            ),
            Call::Json(
                f("create_sweep"),
                json!({"spec": {"main": run_spec, "branch_at": [], "after": {"kind": "constant", "lr": 0.01}, "branch_length": 5}}),
            ),
            &[],
        ),
        (
            "create_share",
            Call::Json("/api/shares".into(), json!({"kind": "sweep", "id": sweep})),
            Call::Json(
                f("create_share"),
                json!({"req": {"kind": "sweep", "id": sweep}}),
            ),
            &["id", "token", "url"],
        ),
        (
            "create_share invalid",
            Call::Json("/api/shares".into(), json!({"kind": "run", "id": missing})),
            Call::Json(
                f("create_share"),
                json!({"req": {"kind": "run", "id": missing}}),
            ),
            &[],
        ),
        (
            "list_shares",
            get("/api/shares".into()),
            get(f("list_shares")),
            &[],
        ),
        (
            "open_share",
            get(format!("/s/{token}/export?format=json")),
            get(f(&format!("open_share?token={token}"))),
            &[],
        ),
        (
            "get_landscape",
            get(format!("/api/landscapes/{landscape}")),
            get(f(&format!("get_landscape?id={landscape}"))),
            &[],
        ),
        (
            "get_landscape missing",
            get(format!("/api/landscapes/{missing}")),
            get(f(&format!("get_landscape?id={missing}"))),
            &[],
        ),
        (
            "landscape_result",
            get(format!("/api/landscapes/{landscape}/result")),
            get(f(&format!("landscape_result?id={landscape}"))),
            &[],
        ),
        (
            "landscape_result missing",
            get(format!("/api/landscapes/{missing}/result")),
            get(f(&format!("landscape_result?id={missing}"))),
            &[],
        ),
        (
            "list_landscapes of a run",
            get(format!("/api/landscapes?run={d2}")),
            get(f(&format!("list_landscapes?run={d2}"))),
            &[],
        ),
        (
            "list_landscapes both ids",
            get(format!("/api/landscapes?run={d2}&sweep={sweep}")),
            get(f(&format!("list_landscapes?run={d2}&sweep={sweep}"))),
            &[],
        ),
        (
            "create_landscape invalid",
            Call::Json(
                "/api/landscapes".into(),
                json!({"source": {"kind": "run", "id": missing}, "spec": {"grid": 5, "margin": 0.25, "method": {"kind": "pca"}}}),
            ),
            Call::Json(
                f("create_landscape"),
                json!({"req": {"source": {"kind": "run", "id": missing}, "spec": {"grid": 5, "margin": 0.25, "method": {"kind": "pca"}}}}),
            ),
            &[],
        ),
        (
            "cancel_landscape finished",
            Call::Post(format!("/api/landscapes/{landscape}/cancel")),
            Call::Form(f("cancel_landscape"), format!("id={landscape}")),
            &[],
        ),
        (
            "cancel_landscape missing",
            Call::Post(format!("/api/landscapes/{missing}/cancel")),
            Call::Form(f("cancel_landscape"), format!("id={missing}")),
            &[],
        ),
        // Last: the runs they queue train while the list operations above are compared.
        (
            "create_replicates",
            Call::Json(
                "/api/runs/replicates".into(),
                json!({"spec": run_spec, "seeds": [4, 5]}),
            ),
            Call::Json(
                f("create_replicates"),
                json!({"req": {"spec": run_spec, "seeds": [4, 5]}}),
            ),
            &["runs"],
        ),
        (
            "create_replicates repeated seed",
            Call::Json(
                "/api/runs/replicates".into(),
                json!({"spec": run_spec, "seeds": [4, 4]}),
            ),
            Call::Json(
                f("create_replicates"),
                json!({"req": {"spec": run_spec, "seeds": [4, 4]}}),
            ),
            &[],
        ),
    ];
    for (name, rest, server_fn, differ) in &cases {
        let (rest_code, rest_body) = app.door(rest).await;
        let (fn_code, fn_body) = app.door(server_fn).await;
        assert_eq!(
            rest_code, fn_code,
            "{name}: status differs ({rest_body} vs {fn_body})"
        );
        assert_eq!(
            redact(rest_body.clone(), differ),
            redact(fn_body.clone(), differ),
            "{name}: body differs"
        );
        assert!(!rest_body.is_null(), "{name}: no JSON body");
    }
    // Lists are compared last: the cases above created runs through both doors. They are let
    // finish first, so that both doors list the same rows.
    for _ in 0..500 {
        let (_, runs) = app.get("/api/runs").await;
        let busy = runs.as_array().is_some_and(|rs| {
            rs.iter()
                .any(|r| matches!(r["status"].as_str(), Some("queued" | "running")))
        });
        if !busy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (rest, server_fn) in [
        ("/api/runs", f("list_runs")),
        ("/api/shares", f("list_shares")),
        ("/api/landscapes", f("list_landscapes")),
    ] {
        let (a, b) = (app.get(rest).await, app.get(&server_fn).await);
        assert_eq!(a, b, "{rest}");
    }
    // The revoke goes last, as it changes what the share cases read.
    let share_id = share["id"].as_i64().expect("share id");
    let (a, b) = (
        app.door(&Call::Post(format!("/api/shares/{share_id}/revoke")))
            .await,
        app.door(&Call::Form(f("revoke_share"), format!("id={share_id}")))
            .await,
    );
    assert_eq!(a.0, StatusCode::OK);
    assert_eq!(a.1["revoked"], json!(true));
    assert_eq!(
        b.0,
        StatusCode::CONFLICT,
        "already revoked by the first door"
    );
    let again = app
        .door(&Call::Post(format!("/api/shares/{share_id}/revoke")))
        .await;
    assert_eq!(again, b, "both doors refuse a second revoke alike");
    let (a, b) = (
        app.door(&Call::Post(format!("/api/shares/{missing}/revoke")))
            .await,
        app.door(&Call::Form(f("revoke_share"), format!("id={missing}")))
            .await,
    );
    assert_eq!((a.0, &a.1), (b.0, &b.1));
    assert_eq!(a.0, StatusCode::NOT_FOUND);
    app.runs.shutdown().await;
}

/// Malformed server-function calls are the caller's fault: 400 with a message, never a 500.
#[tokio::test]
async fn malformed_server_function_calls_get_400() {
    let app = TestApp::new().await;
    for (call, what) in [
        (
            Call::Get("/api/fn/get_run?id=abc".into()),
            "id not a number",
        ),
        (Call::Get("/api/fn/get_run".into()), "id missing"),
        (
            Call::Get("/api/fn/get_run?id=99999999999999999999999".into()),
            "id past i64",
        ),
        (
            Call::Form("/api/fn/cancel_run".into(), "id=abc".into()),
            "form id not a number",
        ),
        (
            Call::Form("/api/fn/cancel_run".into(), String::new()),
            "empty form",
        ),
        (
            Call::Json("/api/fn/create_run".into(), json!({"req": {}})),
            "wrong argument name",
        ),
        (
            Call::Json("/api/fn/create_run".into(), json!({})),
            "no argument",
        ),
    ] {
        let (code, body) = app.door(&call).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["status"], 400, "{what}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}"
        );
    }
    let truncated = Request::post("/api/fn/create_run")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"spec\": {"))
        .expect("request");
    let (code, _) = app.call(truncated).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "truncated JSON");
    app.runs.shutdown().await;
}

//! Landscape jobs over HTTP: computed, streamed, stored, shared, validated, re-queued after a crash.

use super::*;

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
    datasets::testgen::write_idx(&app.dir.path().join("tiny"), 2000, 1000, false, 3)
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
    let spec = experiment::landscape::LandscapeSpec {
        grid: 5,
        ..Default::default()
    };
    let db = app.runs.db();
    let id = db
        .insert_landscape(
            "crashed",
            domain::wire::LandscapeSource::Run { id: run },
            &spec,
        )
        .await
        .expect("insert");
    // What a killed process leaves behind: a job marked running that nobody computes.
    assert!(db.claim_next_landscape().await.expect("claim").is_some());
    assert_eq!(
        db.get_landscape(id).await.expect("read").map(|l| l.status),
        Some(domain::wire::RunStatus::Running)
    );
    let restarted = LandscapeService::start(app.runs.clone(), true)
        .await
        .expect("starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let l = db.get_landscape(id).await.expect("read").expect("exists");
        if l.status == domain::wire::RunStatus::Completed {
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

#[tokio::test]
async fn shutdown_ends_landscape_streams() {
    let app = TestApp::new().await;
    let (_, body) = app.post_json("/api/runs", &toy2_body(200)).await;
    let run = body["id"].as_i64().expect("id");
    app.stream(&format!("/api/runs/{run}/events"), None, 10_000)
        .await;
    // A long run holds the only compute slot, so the landscape waits in the queue.
    let (_, busy) = app
        .post_json("/api/runs", &toy_body(5_000_000, 100_000))
        .await;
    let busy = busy["id"].as_i64().expect("id");
    let (code, body) = app
        .post_json(
            "/api/landscapes",
            &landscape_req(json!({"kind": "run", "id": run}), 5, json!({"kind": "pca"})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let viewer = {
        let router = app.router.clone();
        tokio::spawn(async move {
            let req = Request::get(format!("/api/landscapes/{id}/events"))
                .body(Body::empty())
                .expect("request");
            let res = router.oneshot(req).await.expect("answers");
            res.into_body().collect().await.map(|b| b.to_bytes())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.landscapes.shutdown().await;
    let body = tokio::time::timeout(Duration::from_secs(5), viewer)
        .await
        .expect("the stream ends with the shutdown")
        .expect("task")
        .expect("body");
    assert!(String::from_utf8_lossy(&body).contains("\"queued\""));
    let (code, _) = app.post_json(&format!("/api/runs/{busy}/cancel"), "").await;
    assert_eq!(code, StatusCode::OK);
    app.runs.shutdown().await;
}

//! Decay sweeps over HTTP: a sweep runs its branches and exports its verdict.

use super::*;

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

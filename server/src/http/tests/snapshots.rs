//! The wire shape of every resource, as JSON snapshots (insta): a renamed, added or retyped
//! field shows up as a reviewed diff of `snapshots/*.snap` instead of passing unnoticed.
//! What differs between machines and runs is redacted before the comparison: timestamps,
//! durations and speeds, tokens, and every non-integer number (losses differ in their last
//! bits between CPUs), inside text too. Keys, types, integers (ids, steps, counts) and the
//! rest of the text stay.

use super::*;

/// Keys whose values depend on the clock or the machine.
const VOLATILE: &[&str] = &["token", "url", "device"];

fn volatile(key: &str) -> bool {
    VOLATILE.contains(&key)
        || key.ends_with("_ms")
        || key.ends_with("_at")
        || key.contains("seconds")
        || key.contains("per_sec")
}

/// Decimal numbers inside text, such as a verdict's "0.0123", become `<x>`.
fn redact_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let decimal =
            i > start && i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit();
        if decimal {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || "eE-".contains(chars[i])) {
                i += 1;
            }
            out.push_str("<x>");
        } else if i > start {
            out.extend(&chars[start..i]);
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The shape of a response: see the module's doc.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if volatile(k) && !v.is_null() {
                        json!(format!("<{k}>"))
                    } else {
                        shape(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => {
            // Long series: their first three items show the shape.
            let mut items: Vec<Value> = a.iter().take(3).map(shape).collect();
            if a.len() > 3 {
                items.push(json!(format!("<{} more>", a.len() - 3)));
            }
            Value::Array(items)
        }
        Value::Number(n) if n.is_f64() => json!("<f64>"),
        Value::String(s) => json!(redact_text(s)),
        other => other.clone(),
    }
}

impl TestApp {
    async fn ok(&self, uri: &str) -> Value {
        let (code, body) = self.get(uri).await;
        assert_eq!(code, StatusCode::OK, "{uri}: {body}");
        shape(&body)
    }
}

#[test]
fn redaction_keeps_the_shape_and_hides_what_varies() {
    let v = json!({"id": 3, "created_at_ms": 17, "train_loss": 0.25, "text": "0.0123 vs 2 of 0.5e-3",
                   "series": [1, 2, 3, 4, 5]});
    assert_eq!(
        shape(&v),
        json!({"id": 3, "created_at_ms": "<created_at_ms>", "train_loss": "<f64>",
               "text": "<x> vs 2 of <x>", "series": [1, 2, 3, "<2 more>"]})
    );
}

#[tokio::test]
async fn runs_and_their_errors_keep_their_wire_shape() {
    let app = TestApp::new().await;
    let run = app.finished_run().await;
    insta::assert_json_snapshot!("run", app.ok(&format!("/api/runs/{run}")).await);
    insta::assert_json_snapshot!("runs", app.ok("/api/runs").await);
    insta::assert_json_snapshot!(
        "run_metrics",
        app.ok(&format!("/api/runs/{run}/metrics")).await
    );
    let (code, invalid) = app.post_json("/api/runs", &toy_body(0, 0)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_json_snapshot!("error_invalid", shape(&invalid));
    let (code, missing) = app.get("/api/runs/999999").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("error_not_found", shape(&missing));
    let (code, created) = app
        .post_json(
            "/api/shares",
            &json!({"kind": "run", "id": run}).to_string(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    insta::assert_json_snapshot!("share_created", shape(&created));
    insta::assert_json_snapshot!("shares", app.ok("/api/shares").await);
    app.runs.shutdown().await;
}

#[tokio::test]
async fn sweeps_and_landscapes_keep_their_wire_shape() {
    let app = TestApp::new().await;
    let sweep = json!({
        "name": "shape",
        "main": serde_json::from_str::<Value>(&toy2_body(600)).expect("json"),
        "branch_at": [200, 400],
        "after": {"kind": "constant", "lr": 0.005},
        "branch_length": 200
    });
    let (code, created) = app.post_json("/api/sweeps", &sweep.to_string()).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    insta::assert_json_snapshot!("sweep_created", shape(&created));
    let id = created["id"].as_i64().expect("id");
    for run in created["runs"].as_array().expect("runs") {
        let run = run.as_i64().expect("run id");
        app.stream(&format!("/api/runs/{run}/events"), None, 100_000)
            .await;
    }
    insta::assert_json_snapshot!("sweep", app.ok(&format!("/api/sweeps/{id}")).await);
    insta::assert_json_snapshot!("sweeps", app.ok("/api/sweeps").await);
    insta::assert_json_snapshot!(
        "sweep_summary",
        app.ok(&format!("/api/sweeps/{id}/summary")).await
    );
    let (code, landscape) = app
        .post_json(
            "/api/landscapes",
            &landscape_req(
                json!({"kind": "sweep", "id": id}),
                5,
                json!({"kind": "pca"}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{landscape}");
    insta::assert_json_snapshot!("landscape_created", shape(&landscape));
    let lid = landscape["id"].as_i64().expect("id");
    app.landscape_events(lid).await;
    insta::assert_json_snapshot!("landscape", app.ok(&format!("/api/landscapes/{lid}")).await);
    insta::assert_json_snapshot!(
        "landscape_result",
        app.ok(&format!("/api/landscapes/{lid}/result")).await
    );
    app.runs.shutdown().await;
}

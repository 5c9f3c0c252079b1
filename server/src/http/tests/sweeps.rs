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
    app.assert_completes(last, 100_000).await;
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

impl TestApp {
    /// Waits until each run's stream reports `done`, and returns the final statuses.
    pub(super) async fn finish_all(&self, runs: &[i64]) -> Vec<Value> {
        let mut out = Vec::new();
        for id in runs {
            let events = self
                .stream(&format!("/api/runs/{id}/events"), None, 100_000)
                .await;
            out.push(
                events
                    .last()
                    .map_or(Value::Null, |e| e.data["status"].clone()),
            );
        }
        out
    }
}

pub(super) fn ids(body: &Value) -> Vec<i64> {
    body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(Value::as_i64)
        .collect()
}

#[tokio::test]
async fn replicated_sweeps_pair_seeds_and_take_more_later() {
    let app = TestApp::new().await;
    let sweep = json!({
        "name": "reps",
        "main": serde_json::from_str::<Value>(&toy_body(2000, 100)).expect("json"),
        "branch_at": [300, 1000, 2000],
        "after": {"kind": "constant", "lr": 0.005},
        "branch_length": 400,
        "seeds": [1, 7, 9]
    });
    let (code, body) = app.post_json("/api/sweeps", &sweep.to_string()).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let runs = ids(&body);
    assert_eq!(runs.len(), 12, "3 seeds × (main + 3 branches)");
    let statuses = app.finish_all(&runs).await;
    assert!(statuses.iter().all(|s| s == "completed"), "{statuses:?}");

    // Replicates share the data (the main run's seed draws it) and differ in their seed.
    let (_, s) = app.get(&format!("/api/sweeps/{id}")).await;
    let by_seed = |seed: u64| -> Vec<&Value> {
        s["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .filter(|r| r["seed"] == seed)
            .collect()
    };
    assert_eq!(by_seed(7).len(), 4);
    let b7 = by_seed(7)[2];
    assert_eq!(b7["run"]["spec"]["data_seed"], 1, "{b7}");
    assert_eq!(b7["run"]["spec"]["seed"], 7);
    assert!(
        b7["run"]["name"]
            .as_str()
            .is_some_and(|n| n.contains("seed 7"))
    );
    assert!(by_seed(1)[0]["run"]["spec"].get("data_seed").is_none());

    let (code, summary) = app.get(&format!("/api/sweeps/{id}/summary")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(summary["seeds"], json!([1, 7, 9]));
    let first = &summary["branches"][0];
    assert_eq!(
        (first["k"].clone(), first["n"].clone()),
        (json!(300), json!(3))
    );
    let stat = &first["stats"]["test_loss"];
    let values: Vec<f64> = stat["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(values.len(), 3);
    assert!(
        values[0] != values[1],
        "seeds train differently: {values:?}"
    );
    let mean = values.iter().sum::<f64>() / 3.0;
    assert!((stat["mean"].as_f64().unwrap_or(0.0) - mean).abs() < 1e-12);
    let ci = stat["ci95"].as_array().expect("an interval with 3 seeds");
    assert!(ci[0].as_f64() < Some(mean) && ci[1].as_f64() > Some(mean));
    let effect = &summary["effect"]["test_loss"];
    assert_eq!(
        (
            effect["from_k"].clone(),
            effect["to_k"].clone(),
            effect["n"].clone()
        ),
        (json!(300), json!(2000), json!(3))
    );
    assert!(
        effect["distinguishable"].is_boolean() && effect["ci95"].is_array(),
        "{effect}"
    );
    assert_eq!(summary["per_seed"].as_array().map(Vec::len), Some(9));
    assert_eq!(
        summary["pearson"]["per_seed"].as_array().map(Vec::len),
        Some(3)
    );
    let text = summary["conclusion"].as_str().unwrap_or_default();
    assert!(
        text.contains("95% CI") && text.contains("3 seeds"),
        "{text}"
    );
    assert!(!text.contains("no uncertainty"), "{text}");

    // The CSV holds the per-seed rows, four aggregate rows per decay point and the effect.
    let (_, _, csv) = app
        .get_text(&format!("/api/sweeps/{id}/summary?format=csv"))
        .await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "row,seed,k,vs_k,n,length,seconds,test_loss,test_acc,train_loss,dist_mn"
    );
    assert_eq!(lines.len(), 1 + 9 + 3 * 4 + 3, "{csv}");
    assert!(
        lines.iter().any(|l| l.starts_with("ci95_lo,,300,,3,")),
        "{csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("effect_mean,,2000,300,3,")),
        "{csv}"
    );

    // More seeds later: the old runs stay, the new ones join the summary.
    let (code, body) = app
        .post_json(&format!("/api/sweeps/{id}/seeds"), r#"{"seeds": [11]}"#)
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let more = ids(&body);
    assert_eq!(more.len(), 4);
    assert!(more.iter().all(|r| !runs.contains(r)));
    assert!(app.finish_all(&more).await.iter().all(|s| s == "completed"));
    let (_, summary) = app.get(&format!("/api/sweeps/{id}/summary")).await;
    assert_eq!(summary["seeds"], json!([1, 7, 9, 11]));
    assert_eq!(summary["branches"][2]["n"], 4);
    let (_, again) = app.get(&format!("/api/sweeps/{id}")).await;
    assert_eq!(again["runs"].as_array().map(Vec::len), Some(16));
    assert_eq!(again["spec"]["seeds"], json!([1, 7, 9, 11]));

    // Refusals name the field; an unknown sweep is a 404.
    let (code, body) = app
        .post_json(&format!("/api/sweeps/{id}/seeds"), r#"{"seeds": [7]}"#)
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "seeds");
    assert!(
        body["fields"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("seed 7 is given twice"))
    );
    let (code, _) = app
        .post_json(&format!("/api/sweeps/{id}/seeds"), r#"{"seeds": []}"#)
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, _) = app
        .post_json("/api/sweeps/999999/seeds", r#"{"seeds": [2]}"#)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = app
        .post_json(&format!("/api/sweeps/{id}/seeds"), r#"{"seeds": [-1]}"#)
        .await;
    assert!(code.is_client_error(), "{code}");
    let too_many: Vec<u64> = (100..113).collect();
    let (code, body) = app
        .post_json(
            &format!("/api/sweeps/{id}/seeds"),
            &json!({ "seeds": too_many }).to_string(),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["fields"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 16")),
        "{body}"
    );
}

#[tokio::test]
async fn a_one_seed_sweep_says_it_has_no_uncertainty() {
    let app = TestApp::new().await;
    let sweep = json!({
        "name": "one",
        "main": serde_json::from_str::<Value>(&toy_body(1000, 100)).expect("json"),
        "branch_at": [200, 1000],
        "after": {"kind": "constant", "lr": 0.005},
        "branch_length": 200
    });
    let (code, body) = app.post_json("/api/sweeps", &sweep.to_string()).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    app.finish_all(&ids(&body)).await;
    let (_, summary) = app.get(&format!("/api/sweeps/{id}/summary")).await;
    assert_eq!(summary["seeds"], json!([1]));
    assert!(summary["branches"][0]["stats"]["test_loss"]["ci95"].is_null());
    assert_eq!(summary["effect"]["test_loss"]["distinguishable"], false);
    let text = summary["conclusion"].as_str().unwrap_or_default();
    assert!(
        text.contains("no uncertainty can be given") && text.contains("add seeds"),
        "{text}"
    );
}

#[tokio::test]
async fn a_sweep_predicts_its_branches_from_two_of_them() {
    let app = TestApp::new().await;
    let sweep = json!({
        "name": "law",
        "main": serde_json::from_str::<Value>(&toy_body(3000, 100)).expect("json"),
        "branch_at": [500, 1500, 3000],
        "after": {"kind": "constant", "lr": 0.005},
        "branch_length": 500
    });
    let (code, body) = app.post_json("/api/sweeps", &sweep.to_string()).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let runs = ids(&body);
    // Nothing has finished yet (or only some): the answer says why there is no fit.
    let (code, early) = app.get(&format!("/api/sweeps/{id}/prediction")).await;
    if code == StatusCode::CONFLICT {
        assert!(
            early["error"]
                .as_str()
                .is_some_and(|e| e.contains("constant LR")),
            "{early}"
        );
    }
    assert!(app.finish_all(&runs).await.iter().all(|s| s == "completed"));
    let (code, p) = app.get(&format!("/api/sweeps/{id}/prediction")).await;
    assert_eq!(code, StatusCode::OK, "{p}");
    let (_, summary) = app.get(&format!("/api/sweeps/{id}/summary")).await;
    let laws = p["laws"].as_array().expect("laws");
    assert_eq!(
        laws.iter()
            .map(|l| l["law"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        vec!["tissue", "multi_power"]
    );
    for l in laws {
        assert_eq!(
            l["fitted_on"],
            json!([runs[0], runs[1]]),
            "main and k = 500"
        );
        if l["error"].is_string() {
            continue;
        }
        assert!(
            l["params"].as_object().is_some_and(|p| !p.is_empty()),
            "{l}"
        );
        let bs = l["branches"].as_array().expect("branches");
        assert_eq!(
            bs.iter().map(|b| b["k"].as_u64()).collect::<Vec<_>>(),
            vec![Some(1500), Some(3000)]
        );
        for (b, s) in bs
            .iter()
            .zip(&summary["branches"].as_array().expect("summary")[1..])
        {
            let (pred, actual) = (
                b["predicted_final_test_loss"].as_f64().expect("predicted"),
                b["actual_final_test_loss"].as_f64().expect("actual"),
            );
            assert_eq!(Some(actual), s["test_loss"].as_f64(), "the measured mean");
            let rel = b["rel_error"].as_f64().expect("rel");
            assert!((rel - (pred - actual) / actual).abs() < 1e-12);
            assert!(b["curve"].as_array().is_some_and(|c| c.len() > 10));
        }
        let mean: f64 = bs
            .iter()
            .filter_map(|b| b["rel_error"].as_f64())
            .map(f64::abs)
            .sum::<f64>()
            / 2.0;
        assert!((l["mean_abs_rel_error"].as_f64().expect("mean") - mean).abs() < 1e-12);
        assert!(
            l["assessment"].as_str().is_some_and(|a| a.contains('%')),
            "{l}"
        );
    }
    let (code, r) = app.get(&format!("/api/sweeps/{id}/reference")).await;
    assert_eq!(code, StatusCode::OK, "{r}");
    assert_eq!(r["total_steps"], 3500);
    assert_eq!(
        app.get("/api/sweeps/999999/prediction").await.0,
        StatusCode::NOT_FOUND
    );
    // A branch is a run that decays: it can be a reference by itself.
    let (code, r) = app.get(&format!("/api/runs/{}/reference", runs[2])).await;
    assert_eq!(code, StatusCode::OK, "{r}");
    assert!(r["fits"].as_array().is_some_and(|f| f.len() == 2), "{r}");
}

#[tokio::test]
async fn a_network_sweep_trains_a_schedule_free_baseline_beside_its_branches() {
    let app = TestApp::new().await;
    datasets::testgen::write_idx(&app.dir.path().join("tiny"), 400, 200, false, 5)
        .expect("IDX files");
    let main = json!({
        "experiment": {"kind": "net", "dataset": "fashion_mnist", "data_dir": "tiny",
                       "model": {"kind": "mlp", "hidden": [8]}, "loss": "cross_entropy",
                       "optimizer": {"kind": "sgd", "momentum": 0.9, "weight_decay": 1e-4},
                       "batch": 50, "epochs": 3},
        "schedule": {"kind": "constant", "lr": 0.05},
        "seed": 2
    });
    let sweep = json!({"name": "sf", "main": main, "branch_at": [1, 2],
                       "after": {"kind": "constant", "lr": 0.005}, "branch_length": 2,
                       "seeds": [2, 3], "schedule_free_baseline": true});
    let (code, body) = app.post_json("/api/sweeps", &sweep.to_string()).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    let runs = ids(&body);
    assert_eq!(runs.len(), 8, "per seed: main, 2 branches, the baseline");
    assert!(app.finish_all(&runs).await.iter().all(|s| s == "completed"));
    let (_, s) = app.get(&format!("/api/sweeps/{id}")).await;
    let baselines: Vec<&Value> = s["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["baseline"] == true)
        .collect();
    assert_eq!(baselines.len(), 2);
    for b in &baselines {
        assert_eq!(b["branch_at"], Value::Null);
        let spec = &b["run"]["spec"]["experiment"];
        assert_eq!(spec["optimizer"]["kind"], "schedule_free_sgd");
        assert_eq!(spec["optimizer"]["momentum"], 0.9);
        assert_eq!(spec["optimizer"]["weight_decay"], 1e-4);
        assert_eq!(spec["epochs"], 4, "as long as the longest branch (2 + 2)");
        assert!(
            b["run"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("schedule-free"))
        );
    }
    let (code, summary) = app.get(&format!("/api/sweeps/{id}/summary")).await;
    assert_eq!(code, StatusCode::OK, "{summary}");
    // The branches' aggregates do not include the baseline.
    assert_eq!(summary["branches"].as_array().map(Vec::len), Some(2));
    let b = &summary["baseline"];
    assert_eq!(b["n"], 2);
    assert_eq!(b["length"], 4);
    let losses: Vec<f64> = b["per_seed"]
        .as_array()
        .expect("per seed")
        .iter()
        .filter_map(|r| r["test_loss"].as_f64())
        .collect();
    assert_eq!(losses.len(), 2);
    let mean = (losses[0] + losses[1]) / 2.0;
    assert!((b["stats"]["test_loss"]["mean"].as_f64().expect("mean") - mean).abs() < 1e-12);
    // Paired against the best decay point, seed by seed.
    let best_k = b["best_k"].as_u64().expect("best k");
    let e = &b["vs_best"]["test_loss"];
    assert_eq!(e["n"], 2);
    let per_seed = summary["per_seed"].as_array().expect("per seed");
    for (d, r) in e["values"]
        .as_array()
        .expect("values")
        .iter()
        .zip(b["per_seed"].as_array().expect("rows"))
    {
        let branch = per_seed
            .iter()
            .find(|p| p["seed"] == r["seed"] && p["k"] == best_k)
            .expect("the best branch of this seed");
        let want = r["test_loss"].as_f64().expect("b") - branch["test_loss"].as_f64().expect("k");
        assert!((d.as_f64().expect("d") - want).abs() < 1e-12);
    }
    assert!(
        summary["conclusion"]
            .as_str()
            .is_some_and(|c| c.contains("schedule-free baseline") && c.contains("95% CI")),
        "{summary}"
    );
    // The baseline is neither a main path nor a branch for the prediction.
    let (code, p) = app.get(&format!("/api/sweeps/{id}/prediction")).await;
    assert_eq!(code, StatusCode::OK, "{p}");
    assert!(
        !p["laws"][0]["fitted_on"]
            .as_array()
            .expect("ids")
            .iter()
            .any(|i| baselines.iter().any(|b| b["run"]["id"] == *i))
    );

    // Refused on the toy model, by field.
    let toy = json!({"name": "t", "main": serde_json::from_str::<Value>(&toy_body(300, 100)).expect("json"),
                     "branch_at": [100], "after": {"kind": "constant", "lr": 0.005}, "branch_length": 50,
                     "schedule_free_baseline": true});
    let (code, body) = app.post_json("/api/sweeps", &toy.to_string()).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["fields"][0]["field"], "schedule_free_baseline",
        "{body}"
    );
}

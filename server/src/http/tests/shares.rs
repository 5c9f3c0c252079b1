//! Share links: frozen pages, guessing, expiry, validation, and that a token mutates nothing.

use super::*;

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
    app.assert_completes(run, 10_000).await;
    let (code, _, _) = app.get_text(&format!("/s/{share_token}")).await;
    assert_eq!(code, StatusCode::OK, "the link itself still reads");
    app.runs.shutdown().await;
}

#[tokio::test]
async fn a_shared_replicated_sweep_shows_bands_and_its_uncertainty_without_javascript() {
    let app = TestApp::new().await;
    let sweep = json!({
        "name": "shared reps",
        "main": serde_json::from_str::<Value>(&toy_body(600, 100)).expect("json"),
        "branch_at": [200, 600],
        "after": {"kind": "constant", "lr": 0.005},
        "branch_length": 200,
        "seeds": [1, 2, 3]
    });
    let (code, body) = app.post_json("/api/sweeps", &sweep.to_string()).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().expect("id");
    for run in body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(Value::as_i64)
    {
        app.stream(&format!("/api/runs/{run}/events"), None, 100_000)
            .await;
    }
    let (code, created) = app
        .post_json(
            "/api/shares",
            &json!({"kind": "sweep", "id": id}).to_string(),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().expect("token").to_owned();
    let (code, _, html) = app.get_text(&format!("/s/{token}")).await;
    assert_eq!(code, StatusCode::OK);
    // Rendered on the server: the verdict with its interval, the per-k table with intervals,
    // the bands under the mean curves and the error bars on the final metrics.
    assert!(
        html.contains("95% CI") && html.contains("3 seeds"),
        "{html}"
    );
    assert!(
        html.contains("branch-stats") && html.contains("share-seeds"),
        "{html}"
    );
    assert!(html.contains(r#"class="band""#), "mean curves carry a band");
    assert!(
        html.contains(r#"class="error-bar""#),
        "final metrics carry intervals"
    );
    assert!(html.contains("mean ± sd of 3"), "{html}");
    let (_, _, csv) = app
        .get_text(&format!("/s/{token}/export?format=csv&table=summary"))
        .await;
    assert!(csv.lines().any(|l| l.starts_with("effect_mean,")), "{csv}");
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("seed,")).count(),
        6,
        "{csv}"
    );
    let (_, _, rows) = app.get_text(&format!("/s/{token}/export?format=csv")).await;
    assert!(rows.contains("decay at 600 · seed 2"), "{rows}");
}

//! The admin token: on a shared server, mutations need it; reads do not.

use super::*;

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
    let lower = Request::post("/api/runs")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "bearer s3cret")
        .body(Body::from(toy_body(10, 1)))
        .expect("req");
    assert_eq!(
        app.call(lower).await.0,
        StatusCode::CREATED,
        "the scheme is case-insensitive"
    );
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

fn from(
    uri: &str,
    origin: Option<&str>,
    host: &str,
    content_type: &str,
    body: &str,
) -> Request<Body> {
    let mut req = Request::post(uri)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    req.body(Body::from(body.to_owned())).expect("request")
}

#[tokio::test]
async fn another_origin_can_change_nothing_even_on_loopback() {
    let app = TestApp::new().await;
    let (_, body) = app
        .post_json("/api/runs", &toy_body(5_000_000, 100_000))
        .await;
    let id = body["id"].as_i64().expect("id");
    let host = "127.0.0.1:3000";
    let evil = Some("http://evil.example");
    // What any web page can make the user's browser send, without a preflight.
    for (what, req) in [
        (
            "form post to the cancel function",
            from(
                "/api/fn/cancel_run",
                evil,
                host,
                "application/x-www-form-urlencoded",
                &format!("id={id}"),
            ),
        ),
        (
            "text/plain JSON to the create function",
            from(
                "/api/fn/create_run",
                evil,
                host,
                "text/plain",
                &format!("{{\"spec\": {}}}", toy_body(10, 5)),
            ),
        ),
        (
            "JSON API cancel",
            from(
                &format!("/api/runs/{id}/cancel"),
                evil,
                host,
                "application/json",
                "",
            ),
        ),
        (
            "opaque origin",
            from(
                &format!("/api/runs/{id}/cancel"),
                Some("null"),
                host,
                "application/json",
                "",
            ),
        ),
    ] {
        let (code, body) = app.call(req).await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{what}: {body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("cross-origin")),
            "{what}"
        );
    }
    let fetch = Request::post(format!("/api/runs/{id}/cancel"))
        .header(header::HOST, host)
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .expect("request");
    assert_eq!(app.call(fetch).await.0, StatusCode::FORBIDDEN);
    let (_, run) = app.get(&format!("/api/runs/{id}")).await;
    assert_ne!(run["status"], "cancelled", "nothing was cancelled");
    let (_, list) = app.get("/api/runs").await;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "nothing was created"
    );
    // The lab's own pages, and clients that send no Origin (curl, the CLI), still work.
    let own = from(
        &format!("/api/runs/{id}/cancel"),
        Some("http://127.0.0.1:3000"),
        host,
        "application/json",
        "",
    );
    let (code, body) = app.call(own).await;
    assert_eq!(
        (code, body["cancelled"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    app.runs.shutdown().await;
}

#[tokio::test]
async fn only_our_host_names_are_answered() {
    let app = TestApp::new().await;
    for host in [
        "127.0.0.1:3000",
        "localhost:3000",
        "[::1]:3000",
        "10.1.2.3",
        "LOCALHOST",
    ] {
        let req = Request::get("/api/runs")
            .header(header::HOST, host)
            .body(Body::empty())
            .expect("request");
        assert_eq!(app.call(req).await.0, StatusCode::OK, "{host}");
    }
    // A rebinding attack's page is served from a name of its own that resolves to us.
    for host in [
        "evil.example",
        "evil.example:3000",
        "localhost.evil.example",
    ] {
        let req = Request::get("/api/runs")
            .header(header::HOST, host)
            .body(Body::empty())
            .expect("request");
        let (code, body) = app.call(req).await;
        assert_eq!(code, StatusCode::MISDIRECTED_REQUEST, "{host}: {body}");
    }
    let hosts = crate::http::auth::Hosts::new(vec!["lab.example.org".into()]);
    assert!(hosts.allows("lab.example.org:443") && hosts.allows("LAB.example.org"));
    assert!(!hosts.allows("example.org"));
    app.runs.shutdown().await;
}

#[cfg(unix)]
#[test]
fn the_generated_admin_token_file_is_private_from_its_creation() {
    use std::os::unix::fs::PermissionsExt;
    let dir = crate::testing::TempDir::new("token");
    let addr: std::net::SocketAddr = ([0, 0, 0, 0], 3000).into();
    let token = crate::http::auth::token_for(addr, None, dir.path(), false)
        .expect("written")
        .expect("a token beyond loopback");
    let meta = std::fs::metadata(dir.path().join("admin-token")).expect("file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let again = crate::http::auth::token_for(addr, None, dir.path(), false).expect("read");
    assert_eq!(
        again.as_deref(),
        Some(token.as_str()),
        "the same token after a restart"
    );
}

#[tokio::test]
async fn a_private_server_shows_nothing_without_the_token_but_its_share_links() {
    let app = TestApp::new().await;
    let run = app.finished_run().await;
    let app = app.guard("s3cret", true);
    let authed =
        |req: axum::http::request::Builder| req.header(header::AUTHORIZATION, "Bearer s3cret");
    let (code, share) = app
        .call(
            authed(Request::post("/api/shares"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"kind": "run", "id": run}).to_string()))
                .expect("request"),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{share}");
    let token = share["token"].as_str().expect("token").to_owned();
    for path in [
        "/api/runs",
        &format!("/api/runs/{run}"),
        &format!("/api/runs/{run}/metrics"),
        "/api/sweeps",
        "/api/fn/list_runs",
    ] {
        let (code, body) = app.get(path).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("private")),
            "{body}"
        );
    }
    let (code, _, html) = app.get_text(&format!("/runs/{run}")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(html.contains("/login?token="), "{html}");
    assert!(!html.contains("test_loss"), "no data on the refusal page");
    // With the token, reads work; share pages and the health check never need it.
    let (code, _) = app
        .call(
            authed(Request::get("/api/runs"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(app.get_text(&format!("/s/{token}")).await.0, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/s/{token}/export?format=json")).await.0,
        StatusCode::OK
    );
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    // A server that is not private keeps its reads open.
    let open = TestApp::with_token("s3cret").await;
    assert_eq!(open.get("/api/runs").await.0, StatusCode::OK);
}

#[test]
fn a_private_server_wants_a_token_on_loopback_too() {
    let dir = crate::testing::TempDir::new("private-token");
    let lo: std::net::SocketAddr = ([127, 0, 0, 1], 3000).into();
    assert_eq!(
        crate::http::auth::token_for(lo, None, dir.path(), false).expect("ok"),
        None
    );
    assert!(
        crate::http::auth::token_for(lo, None, dir.path(), true)
            .expect("ok")
            .is_some()
    );
}

#[tokio::test]
async fn every_host_header_is_checked_and_one_is_required() {
    let app = TestApp::new().await;
    // The router as a network client meets it, without the tests' default Host.
    let raw = router(AppState {
        lab: app.lab.clone(),
        leptos: leptos_options(),
        admin_token: None,
        private: false,
        hosts: Default::default(),
    });
    let send = |hosts: &[&str]| {
        let mut req = Request::get("/api/runs");
        for h in hosts {
            req = req.header(header::HOST, *h);
        }
        let raw = raw.clone();
        let req = req.body(Body::empty()).expect("req");
        async move { raw.oneshot(req).await.expect("answers").status() }
    };
    assert_eq!(send(&[]).await, StatusCode::BAD_REQUEST, "no Host");
    assert_eq!(
        send(&["localhost", "evil.example"]).await,
        StatusCode::BAD_REQUEST,
        "a second Host naming another site"
    );
    assert_eq!(
        send(&["evil.example"]).await,
        StatusCode::MISDIRECTED_REQUEST
    );
    assert_eq!(send(&["127.0.0.1:3000"]).await, StatusCode::OK);
    app.runs.shutdown().await;
}

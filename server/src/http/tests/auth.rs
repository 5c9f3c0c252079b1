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

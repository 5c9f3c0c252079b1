//! Admin token for mutating requests when the server listens beyond loopback. Reads stay
//! open; anything that can start, stop or change a run needs the token, given as
//! `Authorization: Bearer <token>` or as the cookie that `GET /login?token=…` sets.

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{ApiError, AppState};

pub const COOKIE: &str = "anneal_admin";

/// Whether `given` equals `expected`, in time independent of where they differ.
fn same(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_owned)
        })
}

pub async fn require_admin(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = s.admin_token.as_deref() else {
        return next.run(req).await;
    };
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    match presented(req.headers()) {
        Some(t) if same(&t, expected) => next.run(req).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "admin token required"})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginQuery {
    token: String,
}

/// Sets the admin cookie for browsers, so the lab's forms work on a shared server.
pub async fn login(
    State(s): State<AppState>,
    Query(q): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    match s.admin_token.as_deref() {
        Some(expected) if same(&q.token, expected) => {
            let cookie = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", q.token);
            let mut res = Redirect::to("/").into_response();
            let value = HeaderValue::from_str(&cookie)
                .map_err(|_| ApiError(domain::Failure::bad_request("bad token")))?;
            res.headers_mut().insert(header::SET_COOKIE, value);
            Ok(res)
        }
        Some(_) => Ok((StatusCode::UNAUTHORIZED, "wrong token").into_response()),
        None => Ok(Redirect::to("/").into_response()),
    }
}

/// The token to require on `addr`: none on loopback; else `ANNEAL_ADMIN_TOKEN`, or one
/// generated once into `<data dir>/admin-token` (mode 0600).
pub fn token_for(
    addr: std::net::SocketAddr,
    from_env: Option<String>,
    data_dir: &std::path::Path,
) -> std::io::Result<Option<String>> {
    if addr.ip().is_loopback() {
        return Ok(None);
    }
    if let Some(t) = from_env {
        return Ok(Some(t));
    }
    let path = data_dir.join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&path)
        && !t.trim().is_empty()
    {
        return Ok(Some(t.trim().to_owned()));
    }
    let token = crate::shares::new_token();
    std::fs::write(&path, &token)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(Some(token))
}

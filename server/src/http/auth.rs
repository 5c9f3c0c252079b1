//! Who may ask: the host names requests may name (against DNS rebinding), same-origin
//! mutations only (against cross-site form posts), and the admin token for mutating requests
//! when the server listens beyond loopback, given as `Authorization: Bearer <token>` or as the
//! cookie that `GET /login?token=…` sets. Reads stay open.

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

/// The `Authorization: Bearer` token of a request, if it has that header.
pub(super) fn bearer(headers: &HeaderMap) -> Option<Option<String>> {
    let v = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    // The scheme is case-insensitive (RFC 9110 §11.1).
    Some(v.trim().split_once(' ').and_then(|(scheme, token)| {
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    }))
}

fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(token) = bearer(headers) {
        return token;
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

/// The host names a request's `Host` may carry: `localhost`, any IP address (a rebinding attack
/// needs a name of its own), and the configured ones.
#[derive(Clone, Debug, Default)]
pub struct Hosts {
    names: Vec<String>,
}

impl Hosts {
    pub fn new(names: Vec<String>) -> Self {
        Self { names }
    }

    /// Whether `host` (a `Host` header or an origin's authority, with or without a port) is ours.
    pub fn allows(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        name == "localhost"
            || name.ends_with(".localhost")
            || name
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok()
            || self.names.contains(&name)
    }
}

/// The name part of `host[:port]` or `[v6]:port`.
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

fn refuse(code: StatusCode, why: &str) -> Response {
    ApiError(domain::Failure::new(code.as_u16(), why)).into_response()
}

/// Refuses requests that name a host we do not serve, and mutations that a page from another
/// origin sent from the user's browser (forms and `text/plain` bodies need no preflight).
pub async fn same_origin(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    // Every Host a request carries is checked (a second one could name another site), and a
    // request must carry one: HTTP/1.1 requires it, and HTTP/2 carries it as the authority.
    let mut named = headers.get_all(header::HOST).iter();
    let host = match (named.next(), named.next()) {
        (Some(h), None) => h.to_str().ok(),
        (None, _) => req.uri().authority().map(|a| a.as_str()),
        (Some(_), Some(_)) => {
            return refuse(StatusCode::BAD_REQUEST, "a request names its host once");
        }
    };
    let Some(host) = host else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "a request must name its host (the Host header)",
        );
    };
    if !s.hosts.allows(host) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "this server does not answer to that host name (see ANNEAL_ALLOWED_HOSTS)",
        );
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let cross_site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let foreign = origin.is_some_and(|o| {
            let authority = o.split("://").nth(1).unwrap_or("");
            // Same origin: the page was served by the host this request is addressed to.
            o == "null" || !authority.eq_ignore_ascii_case(host)
        });
        if cross_site || foreign {
            return refuse(
                StatusCode::FORBIDDEN,
                "cross-origin requests may not change anything",
            );
        }
    }
    next.run(req).await
}

/// What anyone may read in private mode: share pages (and their exports), the files they load,
/// the health check and the login.
fn public_in_private_mode(path: &str) -> bool {
    path == "/healthz"
        || path == "/login"
        || path.starts_with("/s/")
        || path.starts_with("/pkg/")
        || path == "/plotly.min.js"
        || path == "/favicon.ico"
}

pub async fn require_admin(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = s.admin_token.as_deref() else {
        return next.run(req).await;
    };
    // Workers carry their job's own token, checked by the ingest; an admin token is not one.
    if req.uri().path().starts_with("/api/worker/") {
        return next.run(req).await;
    }
    let read = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if read && (!s.private || public_in_private_mode(req.uri().path())) {
        return next.run(req).await;
    }
    match presented(req.headers()) {
        Some(t) if same(&t, expected) => next.run(req).await,
        // A page a browser asked for: say how to get in, as a page.
        _ if read && !req.uri().path().starts_with("/api/") => (
            StatusCode::UNAUTHORIZED,
            axum::response::Html(
                "<!DOCTYPE html><title>Anneal · private</title><h1>This Anneal is private</h1>\
                 <p>Open <code>/login?token=…</code> with the admin token (ANNEAL_ADMIN_TOKEN, or \
                 the admin-token file in the server's data directory). Share links work without it.</p>",
            ),
        )
            .into_response(),
        _ => (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({
                "status": 401,
                "error": if read { "admin token required: this server is private" } else { "admin token required" },
            })),
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

/// The token to require on `addr`: none on loopback unless private; else `ANNEAL_ADMIN_TOKEN`, or one
/// generated once into `<data dir>/admin-token` (mode 0600).
pub fn token_for(
    addr: std::net::SocketAddr,
    from_env: Option<String>,
    data_dir: &std::path::Path,
    private: bool,
) -> std::io::Result<Option<String>> {
    // A private server guards its reads on loopback too (another user of the machine).
    if addr.ip().is_loopback() && !private {
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
    let token = crate::tokens::new_token();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    // Created readable by its owner only: never, even for a moment, by anyone else.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    std::io::Write::write_all(&mut file, token.as_bytes())?;
    Ok(Some(token))
}

//! One error type for the JSON API. It never leaks paths or internals: those go to the log.

use app::wire::FieldError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug)]
pub enum ApiError {
    NotFound(&'static str),
    /// The request parsed but some fields are wrong: 422 with one message per field.
    Invalid(Vec<FieldError>),
    /// The request could not be read at all (bad JSON, wrong content type): 400.
    BadRequest(String),
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, msg, fields) = match &self {
            Self::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found"), None),
            Self::Invalid(f) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid request".to_owned(),
                Some(f.as_slice()),
            ),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone(), None),
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                    None,
                )
            }
        };
        (
            code,
            Json(Body {
                error: &msg,
                fields,
            }),
        )
            .into_response()
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        Self::Internal(e.to_string())
    }
}

//! Exports as spreadsheets: the `?format=` query, and CSV bodies with quoted text cells.

use axum::response::{IntoResponse, Response};
use domain::Failure;

use super::ApiError;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// Which table a CSV holds where a page has more than one (`summary` on a shared sweep).
    pub table: Option<String>,
}

pub enum Format {
    Json,
    Csv,
}

pub fn format_of(q: &ExportQuery) -> Result<Format, ApiError> {
    match q.format.as_deref() {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(_) => Err(ApiError(Failure::field("format", "must be json or csv"))),
    }
}

/// A CSV cell: numbers as they are, text quoted when it needs to be.
fn cell(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

pub fn response(name: &str, header: &[String], rows: Vec<Vec<String>>) -> Response {
    let mut out = header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        out,
    )
        .into_response()
}

/// A number cell; empty when the value is absent.
pub fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| x.to_string())
}

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

/// A CSV cell: numbers as they are, text quoted when it needs to be. Text that a spreadsheet
/// would run as a formula (it begins with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
/// leading `'`, as OWASP's CSV-injection guidance says; a number never does, so `-0.5` stays one.
fn cell(v: &str) -> String {
    let formula = v.starts_with(['=', '+', '-', '@', '\t', '\r']) && v.parse::<f64>().is_err();
    let v = if formula {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
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

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_are_neutralised_and_numbers_are_not() {
        assert_eq!(
            cell("=HYPERLINK(\"http://evil.example\",\"x\")"),
            "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""
        );
        for evil in ["+1+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(
                cell(evil).trim_start_matches('"').starts_with('\''),
                "{evil:?}"
            );
        }
        for number in ["-0.5", "+3", "-1e-7", "12", "NaN"] {
            assert_eq!(cell(number), number);
        }
        assert_eq!(cell("train_loss"), "train_loss");
    }
}

//! Exports as spreadsheets: the `?format=` query, CSV bodies with quoted text cells (formulas
//! neutralised), and a sweep's summary in long form.

use axum::response::{IntoResponse, Response};
use domain::Failure;
use domain::Metric;
use domain::analysis::FINAL_METRICS;
use domain::stats::{Effect, Stat};
use domain::wire::SweepReport;

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

/// One row of the summary: its kind, seed, k, vs_k, n, length and seconds, then each final
/// metric.
fn summary_row(head: [String; 7], metric: impl Fn(domain::Metric) -> Option<f64>) -> Vec<String> {
    let mut row = head.to_vec();
    row.extend(FINAL_METRICS.iter().map(|&m| num(metric(m))));
    row
}

type StatPick = fn(&Stat) -> Option<f64>;
type EffectPick = fn(&Effect) -> Option<f64>;

/// The aggregate rows of each decay point (and of the baseline): mean, sd, interval.
const STAT_ROWS: [(&str, StatPick); 4] = [
    ("mean", |s| Some(s.mean)),
    ("sd", |s| s.sd),
    ("ci95_lo", |s| s.ci95.map(|c| c[0])),
    ("ci95_hi", |s| s.ci95.map(|c| c[1])),
];

/// The rows of a paired difference: its mean and interval.
const EFFECT_ROWS: [(&str, EffectPick); 3] = [
    ("mean", |e| Some(e.mean)),
    ("ci95_lo", |e| e.ci95.map(|c| c[0])),
    ("ci95_hi", |e| e.ci95.map(|c| c[1])),
];

/// A sweep's summary in long form: one `seed` row per finished (seed, k), aggregate rows per k,
/// the paired `effect_*` rows, and the schedule-free baseline's rows.
pub fn summary(filename: &str, report: &SweepReport) -> Response {
    let mut header: Vec<String> = ["row", "seed", "k", "vs_k", "n", "length", "seconds"]
        .map(str::to_owned)
        .to_vec();
    header.extend(FINAL_METRICS.iter().map(|m| m.key().to_owned()));
    let mut body = seed_rows(report);
    body.extend(effect_rows(report));
    body.extend(baseline_rows(report));
    response(filename, &header, body)
}

fn seed_rows(report: &SweepReport) -> Vec<Vec<String>> {
    let mut body = Vec::new();
    for r in &report.per_seed {
        let head = [
            "seed".into(),
            r.seed.to_string(),
            r.k.to_string(),
            String::new(),
            "1".into(),
            r.length.to_string(),
            num(r.seconds),
        ];
        body.push(summary_row(head, |m| r.get(m)));
    }
    for b in &report.branches {
        for (name, pick) in STAT_ROWS {
            let seconds = if name == "mean" {
                num(b.seconds)
            } else {
                String::new()
            };
            let head = [
                name.into(),
                String::new(),
                b.k.to_string(),
                String::new(),
                b.n.to_string(),
                b.length.to_string(),
                seconds,
            ];
            body.push(summary_row(head, |m| b.stat(m).and_then(pick)));
        }
    }
    body
}

/// The paired difference between the decay points (`k` the better, `vs_k` the other).
fn effect_rows(report: &SweepReport) -> Vec<Vec<String>> {
    let Some(first) = report.effect.values().next() else {
        return Vec::new();
    };
    let n = report
        .effect
        .get(Metric::TestLoss.key())
        .map_or(first.n, |e| e.n);
    EFFECT_ROWS
        .iter()
        .map(|&(name, pick)| {
            let head = [
                format!("effect_{name}"),
                String::new(),
                first.to_k.to_string(),
                first.from_k.to_string(),
                n.to_string(),
                String::new(),
                String::new(),
            ];
            summary_row(head, |m| report.effect.get(m.key()).and_then(pick))
        })
        .collect()
}

/// The schedule-free baseline: its own seed rows and aggregates, `k` empty (it never decays),
/// and its paired difference from the best decay point (`vs_k`).
fn baseline_rows(report: &SweepReport) -> Vec<Vec<String>> {
    let Some(b) = &report.baseline else {
        return Vec::new();
    };
    let mut body = Vec::new();
    for r in &b.per_seed {
        let head = [
            "baseline_seed".into(),
            r.seed.to_string(),
            String::new(),
            String::new(),
            "1".into(),
            r.length.to_string(),
            num(r.seconds),
        ];
        body.push(summary_row(head, |m| r.get(m)));
    }
    for (name, pick) in STAT_ROWS {
        let head = [
            format!("baseline_{name}"),
            String::new(),
            String::new(),
            String::new(),
            b.n.to_string(),
            b.length.to_string(),
            String::new(),
        ];
        body.push(summary_row(head, |m| b.stats.get(m.key()).and_then(pick)));
    }
    if let Some(e) = b.vs_best.get(Metric::TestLoss.key()) {
        for (name, pick) in EFFECT_ROWS {
            let head = [
                format!("baseline_vs_best_{name}"),
                String::new(),
                String::new(),
                e.from_k.to_string(),
                e.n.to_string(),
                b.length.to_string(),
                String::new(),
            ];
            body.push(summary_row(head, |m| b.vs_best.get(m.key()).and_then(pick)));
        }
    }
    body
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

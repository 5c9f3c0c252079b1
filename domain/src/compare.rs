//! The compare view's settings and numbers: which runs, which metric against which axis, log
//! scales, smoothing and a readout point, all carried in the URL so a view can be bookmarked.
//! Pure functions, tested here; the page only draws what they give.

use std::collections::BTreeMap;

use crate::analysis::ema_debiased;
use crate::metric::Metric;
use crate::wire::MetricRow;

/// What the x axis shows: the step, the epoch, or any metric (loss against LR, test against
/// train loss).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Step,
    Epoch,
    Metric(Metric),
}

impl Axis {
    pub fn key(self) -> &'static str {
        match self {
            Self::Step => "step",
            Self::Epoch => "epoch",
            Self::Metric(m) => m.key(),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "step" => Some(Self::Step),
            "epoch" => Some(Self::Epoch),
            other => Metric::parse(other).map(Self::Metric),
        }
    }

    fn of(self, r: &MetricRow) -> Option<f64> {
        match self {
            Self::Step => Some(r.step as f64),
            Self::Epoch => Some(r.epoch),
            Self::Metric(m) => crate::metric::get(&r.values, m),
        }
    }
}

/// Where the readout is taken: the last row at or before this step, or this epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum At {
    Step(u64),
    Epoch(f64),
}

/// Everything a compare view shows, as its URL carries it.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareView {
    pub runs: Vec<i64>,
    pub y: Metric,
    pub x: Axis,
    pub log_x: bool,
    pub log_y: bool,
    /// Debiased EMA factor β in [0, 0.999]; 0 draws the raw rows. Never applied to the LR.
    pub smoothing: f64,
    pub at: Option<At>,
}

impl Default for CompareView {
    fn default() -> Self {
        Self {
            runs: Vec::new(),
            y: Metric::TestLoss,
            x: Axis::Step,
            log_x: false,
            log_y: true,
            smoothing: 0.0,
            at: None,
        }
    }
}

/// At most this many runs in one view.
pub const MAX_COMPARE: usize = 24;

impl CompareView {
    /// Reads the URL's query parameters; what is missing or unreadable keeps its default.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Self {
        let d = Self::default();
        let flag = |k: &str, dflt: bool| get(k).map_or(dflt, |v| v == "1" || v == "true");
        let mut runs: Vec<i64> = get("runs")
            .unwrap_or_default()
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .filter(|&id| id > 0)
            .collect();
        runs.dedup();
        runs.truncate(MAX_COMPARE);
        let at = match (
            get("at").and_then(|v| v.parse::<f64>().ok()),
            get("at_unit").as_deref(),
        ) {
            (Some(v), Some("epoch")) if v.is_finite() && v >= 0.0 => Some(At::Epoch(v)),
            (Some(v), _) if v.is_finite() && v >= 0.0 => Some(At::Step(v as u64)),
            _ => None,
        };
        Self {
            runs,
            y: get("y").and_then(|v| Metric::parse(&v)).unwrap_or(d.y),
            x: get("x").and_then(|v| Axis::parse(&v)).unwrap_or(d.x),
            log_x: flag("logx", d.log_x),
            log_y: flag("logy", d.log_y),
            smoothing: get("smooth")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .map_or(0.0, |v| v.clamp(0.0, 0.999)),
            at,
        }
    }

    /// The query string (without `?`) that `from_query` reads back to this view.
    pub fn to_query(&self) -> String {
        let runs = self
            .runs
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut q = format!(
            "runs={runs}&y={}&x={}&logx={}&logy={}&smooth={}",
            self.y.key(),
            self.x.key(),
            u8::from(self.log_x),
            u8::from(self.log_y),
            self.smoothing
        );
        match self.at {
            Some(At::Step(s)) => q.push_str(&format!("&at={s}&at_unit=step")),
            Some(At::Epoch(e)) => q.push_str(&format!("&at={e}&at_unit=epoch")),
            None => {}
        }
        q
    }

    /// Whether the smoothing applies to the y metric (never to the LR).
    pub fn smooths(&self) -> bool {
        self.smoothing > 0.0 && self.y != Metric::Lr
    }
}

/// One run's curve: the raw (x, y) points in step order, and the smoothed y beside them when
/// the view smooths (smoothing runs along the steps, whatever the x axis shows).
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    pub xs: Vec<f64>,
    pub raw: Vec<f64>,
    pub smooth: Option<Vec<f64>>,
}

pub fn curve(rows: &[MetricRow], view: &CompareView) -> Curve {
    let (xs, raw): (Vec<f64>, Vec<f64>) = rows
        .iter()
        .filter_map(|r| Some((view.x.of(r)?, crate::metric::get(&r.values, view.y)?)))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .unzip();
    let smooth = view.smooths().then(|| ema_debiased(&raw, view.smoothing));
    Curve { xs, raw, smooth }
}

/// The row a readout shows: the last at or before the point (the last row when none is set).
pub fn readout(rows: &[MetricRow], at: Option<At>) -> Option<&MetricRow> {
    match at {
        None => rows.last(),
        Some(At::Step(s)) => rows.iter().rev().find(|r| r.step <= s),
        Some(At::Epoch(e)) => rows.iter().rev().find(|r| r.epoch <= e + 1e-9),
    }
}

/// The metric keys any of these runs recorded, for the axis pickers.
pub fn keys<'a>(runs: impl IntoIterator<Item = &'a [MetricRow]>) -> Vec<Metric> {
    let mut seen: BTreeMap<&'static str, Metric> = BTreeMap::new();
    for rows in runs {
        for r in rows {
            for k in r.values.keys() {
                if let Some(m) = Metric::parse(k) {
                    seen.insert(m.key(), m);
                }
            }
        }
    }
    Metric::ALL
        .into_iter()
        .filter(|m| seen.contains_key(m.key()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64, loss: f64, lr: f64) -> MetricRow {
        MetricRow {
            seq: step as i64,
            step,
            epoch: step as f64 / 10.0,
            values: BTreeMap::from([("test_loss".to_owned(), loss), ("lr".to_owned(), lr)]),
        }
    }

    #[test]
    fn the_url_round_trips_and_bad_parts_fall_back() {
        let v = CompareView {
            runs: vec![3, 5, 8],
            y: Metric::TrainLoss,
            x: Axis::Metric(Metric::Lr),
            log_x: true,
            log_y: false,
            smoothing: 0.6,
            at: Some(At::Epoch(2.5)),
        };
        let q = v.to_query();
        let map: BTreeMap<String, String> = q
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(CompareView::from_query(|k| map.get(k).cloned()), v);
        let bad = CompareView::from_query(|k| match k {
            "runs" => Some("1,x,-4,2".into()),
            "y" => Some("bogus".into()),
            "smooth" => Some("7".into()),
            "at" => Some("NaN".into()),
            _ => None,
        });
        assert_eq!(bad.runs, vec![1, 2]);
        assert_eq!(
            (bad.y, bad.smoothing, bad.at),
            (Metric::TestLoss, 0.999, None)
        );
    }

    #[test]
    fn smoothing_keeps_the_raw_curve_and_spares_the_lr() {
        let rows: Vec<MetricRow> = (0..5)
            .map(|i| row(i * 10, [1.0, 3.0, 1.0, 3.0, 1.0][i as usize], 0.1))
            .collect();
        let mut v = CompareView {
            smoothing: 0.5,
            ..CompareView::default()
        };
        let c = curve(&rows, &v);
        assert_eq!(c.raw, vec![1.0, 3.0, 1.0, 3.0, 1.0]);
        assert!(c.smooth.as_ref().is_some_and(|s| s[1] < 3.0 && s[1] > 1.0));
        v.y = Metric::Lr;
        assert!(
            curve(&rows, &v).smooth.is_none(),
            "the LR is never smoothed"
        );
        v.x = Axis::Metric(Metric::Lr);
        v.y = Metric::TestLoss;
        assert_eq!(curve(&rows, &v).xs, vec![0.1; 5]);
    }

    #[test]
    fn readouts_take_the_last_row_at_or_before_the_point() {
        let rows: Vec<MetricRow> = (0..5).map(|i| row(i * 10, i as f64, 0.1)).collect();
        assert_eq!(readout(&rows, Some(At::Step(25))).map(|r| r.step), Some(20));
        assert_eq!(
            readout(&rows, Some(At::Epoch(3.0))).map(|r| r.step),
            Some(30)
        );
        assert_eq!(readout(&rows, None).map(|r| r.step), Some(40));
        assert!(readout(&rows[1..], Some(At::Step(5))).is_none());
        assert_eq!(keys([&rows[..]]), vec![Metric::TestLoss, Metric::Lr]);
    }
}

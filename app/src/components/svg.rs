//! Server-rendered SVG line charts, so a shared page shows its curves to readers (and link
//! previews) without JavaScript. Plain views: the same markup on the server and in the browser.

use leptos::prelude::*;

use super::palette::colour;
use domain::analysis::downsample;

/// One curve: a legend name and (x, y) points in drawing order, with an optional band of
/// (x, low, high): a shaded area under a curve, or error bars on a chart with markers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
}

impl Line {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            band: Vec::new(),
        }
    }
}

const W: f64 = 420.0;
const H: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 36.0;
/// Points kept per curve: enough for the shape, small enough for a page that must load fast.
const MAX_POINTS: usize = 400;

/// A compact tick label.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The drawable range of `vs` (padded when flat), or None without finite values.
fn range(vs: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = vs
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    Some(if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    })
}

/// Where a chart's data lands on the canvas: the ranges drawn, and whether y is log10.
#[derive(Clone, Copy)]
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    log: bool,
}

impl Frame {
    /// The y value as drawn (log10 on a log chart).
    fn ty(self, y: f64) -> f64 {
        if self.log { y.log10() } else { y }
    }

    fn sx(self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (W - LEFT - RIGHT)
    }

    /// The canvas y of an already transformed value.
    fn sy(self, y: f64) -> f64 {
        TOP + (1.0 - (y - self.y.0) / (self.y.1 - self.y.0)) * (H - TOP - BOTTOM)
    }

    /// A data point as "x,y" canvas coordinates.
    fn point(self, x: f64, y: f64) -> String {
        format!("{:.1},{:.1}", self.sx(x), self.sy(self.ty(y)))
    }
}

/// Each line cut to at most `MAX_POINTS` points (min, max and last of each bucket kept), its
/// band thinned to match.
fn thinned(lines: Vec<Line>) -> Vec<Line> {
    lines
        .into_iter()
        .map(|l| {
            let xs: Vec<f64> = l.points.iter().map(|p| p.0).collect();
            let ys: Vec<f64> = l.points.iter().map(|p| p.1).collect();
            let (xs, ys) = downsample(&xs, &ys, MAX_POINTS);
            let stride = l.band.len().div_ceil(MAX_POINTS).max(1);
            Line {
                name: l.name,
                points: xs.into_iter().zip(ys).collect(),
                band: l.band.into_iter().step_by(stride).collect(),
            }
        })
        .collect()
}

/// The frame that holds every point and band of `lines`, or None with nothing finite to draw.
fn frame(lines: &[Line], log: bool) -> Option<Frame> {
    let ty = |y: f64| if log { y.log10() } else { y };
    let x = range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)))?;
    let y = range(lines.iter().flat_map(|l| {
        l.points
            .iter()
            .map(|p| ty(p.1))
            .chain(l.band.iter().flat_map(|b| [ty(b.1), ty(b.2)]))
    }))?;
    Some(Frame { x, y, log })
}

/// Five ticks on each axis, the y ones with a faint grid line.
fn axis_ticks(f: Frame) -> impl IntoView {
    let ticks = |lo: f64, hi: f64| (0..5).map(move |i| lo + (hi - lo) * f64::from(i) / 4.0);
    let x_ticks = ticks(f.x.0, f.x.1)
        .map(|x| {
            view! {
                <line x1=f.sx(x) x2=f.sx(x) y1=H - BOTTOM y2=H - BOTTOM + 4.0 stroke="#888"/>
                <text x=f.sx(x) y=H - BOTTOM + 16.0 text-anchor="middle" font-size="11">{tick(x)}</text>
            }
        })
        .collect_view();
    let y_ticks = ticks(f.y.0, f.y.1)
        .map(|y| {
            let label = if f.log { tick(10f64.powf(y)) } else { tick(y) };
            view! {
                <line x1=LEFT x2=W - RIGHT y1=f.sy(y) y2=f.sy(y) stroke="#eee"/>
                <text x=LEFT - 6.0 y=f.sy(y) + 4.0 text-anchor="end" font-size="11">{label}</text>
            }
        })
        .collect_view();
    view! { {y_ticks} {x_ticks} }
}

/// One line: its band (error bars on a chart with markers, a shaded area on a curve), the
/// polyline, and its markers.
fn curve(f: Frame, l: &Line, colour: &'static str, markers: bool) -> impl IntoView {
    let pts = l
        .points
        .iter()
        .filter(|p| p.0.is_finite() && f.ty(p.1).is_finite())
        .map(|p| f.point(p.0, p.1))
        .collect::<Vec<_>>();
    let dots = markers.then(|| {
        pts.iter()
            .filter_map(|p| p.split_once(','))
            .map(|(x, y)| view! { <circle cx=x.to_owned() cy=y.to_owned() r="3" fill=colour/> })
            .collect_view()
    });
    let ok =
        |b: &&(f64, f64, f64)| b.0.is_finite() && f.ty(b.1).is_finite() && f.ty(b.2).is_finite();
    let band = if markers {
        l.band
            .iter()
            .filter(ok)
            .map(|b| view! {
                <line class="error-bar" x1=f.sx(b.0) x2=f.sx(b.0) y1=f.sy(f.ty(b.1)) y2=f.sy(f.ty(b.2)) stroke=colour stroke-width="1.2"/>
            })
            .collect_view()
            .into_any()
    } else {
        let upper = l.band.iter().filter(ok).map(|b| f.point(b.0, b.2));
        let lower: Vec<String> = l
            .band
            .iter()
            .filter(ok)
            .map(|b| f.point(b.0, b.1))
            .collect();
        let poly: Vec<String> = upper.chain(lower.into_iter().rev()).collect();
        (!poly.is_empty())
            .then(|| view! { <polygon class="band" points=poly.join(" ") fill=colour fill-opacity="0.18" stroke="none"/> })
            .into_any()
    };
    view! {
        {band}
        <polyline points=pts.join(" ") fill="none" stroke=colour stroke-width="1.5"/>
        {dots}
    }
}

/// A line chart with axes, five ticks a side and a legend. `log_y` draws log10(y) when every
/// y is positive, and falls back to linear otherwise.
#[component]
pub fn SvgChart(
    lines: Vec<Line>,
    #[prop(into)] x_label: String,
    #[prop(default = false)] log_y: bool,
    #[prop(default = false)] markers: bool,
) -> impl IntoView {
    let log = log_y
        && lines
            .iter()
            .flat_map(|l| &l.points)
            .all(|p| p.1 > 0.0 || !p.1.is_finite());
    let lines = thinned(lines);
    let Some(f) = frame(&lines, log) else {
        return view! { <p class="meta">"No data to draw."</p> }.into_any();
    };
    let curves = lines
        .iter()
        .enumerate()
        .map(|(i, l)| curve(f, l, colour(i), markers))
        .collect_view();
    let legend = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            view! {
                <span class="legend-item">
                    <span class="swatch" style=format!("background:{}", colour(i))></span>
                    {l.name.clone()}
                </span>
            }
        })
        .collect_view();
    view! {
        <figure class="svg-chart">
            <svg viewBox=format!("0 0 {W} {H}") width="100%" role="img">
                <line x1=LEFT x2=LEFT y1=TOP y2=H - BOTTOM stroke="#888"/>
                <line x1=LEFT x2=W - RIGHT y1=H - BOTTOM y2=H - BOTTOM stroke="#888"/>
                {axis_ticks(f)}
                {curves}
                <text x=(LEFT + W - RIGHT) / 2.0 y=H - 4.0 text-anchor="middle" font-size="12">{x_label}</text>
            </svg>
            <figcaption class="legend">{legend}{log.then_some(" (log y)")}</figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_compact() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(0.01234), "0.012");
        assert_eq!(tick(2.5), "2.50");
        assert_eq!(tick(40000.0), "40000");
        assert_eq!(tick(2.0e-5), "2.0e-5");
    }

    #[test]
    fn ranges_skip_non_finite_and_pad_flat_data() {
        assert_eq!(range([1.0, f64::NAN, 3.0].into_iter()), Some((1.0, 3.0)));
        assert_eq!(range([2.0, 2.0].into_iter()), Some((1.5, 2.5)));
        assert_eq!(range([f64::NAN].into_iter()), None);
    }
}

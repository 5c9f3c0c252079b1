//! A shared result: the read-only page behind `/s/<token>`, rendered whole on the server so it
//! reads without JavaScript and in link previews (its charts drawn as SVG until Plotly takes
//! over), with the data it shows for download.

use domain::Metric;
use experiment::Experiment;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;

use crate::api::{found, open_share};
use crate::components::branch_stats::BranchStats;
use crate::components::chart::{ChartDef, ChartOptions};
use crate::components::format::format_ms;
use crate::components::landscape::{LandscapeMaps, reading};
use crate::components::run_charts::charts_for;
use crate::components::run_config::config_list;
use crate::components::svg::{Line, SvgChart};
use domain::analysis::{Spread, mean_band, pearson_line, run_conclusion, sweep_report};
use domain::wire::{MetricPoint, RunMetrics, RunSummary, SharedBody, SharedPage, SweepSummary};

#[component]
pub fn SharePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let page = Resource::new(token, |t| async move { found(open_share(t).await) });
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(Some(p)) => view! { <SharedView page=p token=token()/> }.into_any(),
                    Ok(None) => view! {
                        <p class="notfound">"This link does not exist, has expired or was revoked."</p>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// (x, y) pairs of `key` over a run's rows, x in steps.
fn series(points: &[MetricPoint], key: Metric, from_step: u64) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter(|p| p.step >= from_step)
        .filter_map(|p| p.get(key).map(|v| (p.step as f64, v)))
        .collect()
}

#[component]
fn SharedView(page: SharedPage, token: String) -> impl IntoView {
    let (summary, body) = match &page.body {
        SharedBody::Run { run, points } => (
            run_conclusion(&run.spec, points),
            view! { <SharedRun run=run.clone() points=points.clone()/> }.into_any(),
        ),
        SharedBody::Sweep { sweep, metrics } => (
            sweep_report(sweep, metrics).conclusion,
            view! { <SharedSweep sweep=sweep.clone() metrics=metrics.clone()/> }.into_any(),
        ),
        SharedBody::Landscape { landscape, result } => (
            {
                let _ = landscape;
                reading(result)
            },
            view! { <LandscapeMaps landscape=result.clone()/> }.into_any(),
        ),
    };
    let is_sweep = matches!(page.body, SharedBody::Sweep { .. });
    let export = format!("/s/{token}/export");
    view! {
        <Title text=format!("{} · Anneal", page.title)/>
        <Meta name="description" content=summary.clone()/>
        <Meta name="robots" content="noindex"/>
        <Meta property="og:type" content="article"/>
        <Meta property="og:site_name" content="Anneal"/>
        <Meta property="og:title" content=page.title.clone()/>
        <Meta property="og:description" content=summary.clone()/>
        // Without JavaScript the Plotly placeholders stay empty: give their room to the SVGs.
        <noscript><style>".chart-card .chart, .map-card .chart { display: none; }"</style></noscript>
        <section class="card shared">
            <p class="meta shared-banner">
                {format!("Read-only snapshot taken {}", format_ms(page.taken_at_ms))}
                {page.expires_at_ms.map(|e| format!(" · link expires {}", format_ms(e)))}
            </p>
            <h1 id="share-title">{page.title.clone()}</h1>
            <p class="conclusion" id="share-conclusion">{summary}</p>
            <p class="exports">
                "Download the data shown: "
                <a id="share-csv" href=format!("{export}?format=csv") download>"CSV"</a>
                " · "
                <a id="share-json" href=format!("{export}?format=json") download>"JSON"</a>
                {is_sweep.then(|| view! {
                    " · "
                    <a id="share-summary-csv" href=format!("{export}?format=csv&table=summary") download>"summary CSV"</a>
                })}
            </p>
        </section>
        {body}
    }
}

/// Hides the server-drawn SVGs once Plotly has drawn the interactive charts.
fn interactive_flag() -> RwSignal<bool> {
    let on = RwSignal::new(false);
    Effect::new(move |_| on.set(true));
    on
}

#[component]
fn SharedRun(run: RunSummary, points: Vec<MetricPoint>) -> impl IntoView {
    let charts: &'static [ChartDef] = charts_for(&run.spec.experiment);
    let interactive = interactive_flag();
    {
        let points = points.clone();
        Effect::new(move |_| crate::components::chart::draw_static(charts, &points));
    }
    // A table a reader can scan: at most ~25 rows, always including the last.
    let stride = points.len().div_ceil(25).max(1);
    let rows: Vec<&MetricPoint> = points
        .iter()
        .enumerate()
        .filter(|(i, _)| i % stride == 0 || *i + 1 == points.len())
        .map(|(_, p)| p)
        .collect();
    let keys: Vec<Metric> = charts
        .iter()
        .flat_map(|c| c.series.iter().map(|s| s.0))
        .collect();
    view! {
        <section class="card">
            <p class="meta">
                {format!("status {} · backend {} on {}", run.status.as_str(),
                    run.backend.clone().unwrap_or_else(|| "—".into()),
                    run.device.clone().unwrap_or_else(|| "—".into()))}
            </p>
            <dl class="config">
                {config_list(&run)}
            </dl>
        </section>
        <section class="charts">
            {charts.iter().map(|c| {
                let lines = c.series.iter().map(|(k, label)| Line::new(*label, series(&points, *k, 0))).collect();
                view! {
                    <div class="card chart-card">
                        <h2>{c.title}</h2>
                        <div class="chart" id=c.div></div>
                        <div class="static-chart" class:hidden=move || interactive.get()>
                            <SvgChart lines x_label="step" log_y=c.log_y/>
                        </div>
                    </div>
                }
            }).collect_view()}
        </section>
        <section class="card">
            <h2>"Metrics (every " {stride} " evaluation" {(stride > 1).then_some("s")} ", and the last)"</h2>
            <table class="runs" id="share-data">
                <thead><tr><th>"step"</th><th>"epoch"</th>{keys.iter().map(|k| view! { <th>{k.key()}</th> }).collect_view()}</tr></thead>
                <tbody>
                    {rows.into_iter().map(|p| view! {
                        <tr>
                            <td>{p.step}</td>
                            <td>{format!("{:.2}", p.epoch)}</td>
                            {keys.iter().map(|k| view! { <td>{p.get(*k).map_or("—".into(), |v| format!("{v:.4}"))}</td> }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// The static overlay of one metric: a line per run with one seed; per role (main, each decay
/// point) the mean over seeds with a ±1 sd band with several.
fn role_lines(sweep: &SweepSummary, metrics: &[RunMetrics], key: Metric) -> Vec<Line> {
    let curve = |run_id: i64| -> Vec<(u64, f64, f64)> {
        let from = sweep.branch_from_step(run_id);
        metrics
            .iter()
            .find(|m| m.run_id == run_id)
            .map(|m| {
                m.points
                    .iter()
                    .filter(|p| p.step >= from)
                    .filter_map(|p| p.get(key).map(|v| (p.step, p.step as f64, v)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let several = sweep.seeds().len() >= 2;
    let name = SweepSummary::role_label;
    sweep
        .roles()
        .into_iter()
        .flat_map(|role| {
            let curves: Vec<Vec<(u64, f64, f64)>> = sweep
                .runs
                .iter()
                .filter(|r| r.plays(role))
                .map(|r| curve(r.run.id))
                .collect();
            if !several {
                return curves
                    .into_iter()
                    .map(|c| Line::new(name(role), c.iter().map(|p| (p.1, p.2)).collect()))
                    .collect::<Vec<_>>();
            }
            let band = mean_band(&curves, Spread::Sd);
            vec![Line {
                name: format!("{} (mean ± sd of {})", name(role), curves.len()),
                points: band.iter().map(|b| (b.x, b.mean)).collect(),
                band: band.iter().map(|b| (b.x, b.lo, b.hi)).collect(),
            }]
        })
        .collect()
}

/// A mean with its 95% interval as a line with error bars.
fn interval_line(
    name: &str,
    pts: impl Iterator<Item = (f64, Option<domain::stats::Stat>)>,
) -> Line {
    let mut line = Line::new(name, Vec::new());
    for (x, s) in pts {
        if let Some(s) = s {
            line.points.push((x, s.mean));
            if let Some([lo, hi]) = s.ci95 {
                line.band.push((x, lo, hi));
            }
        }
    }
    line
}

#[component]
fn SharedSweep(sweep: SweepSummary, metrics: Vec<RunMetrics>) -> impl IntoView {
    let report = sweep_report(&sweep, &metrics);
    let toy = matches!(sweep.spec.main.experiment, Experiment::Toy(_));
    let unit = sweep.unit();
    let interactive = interactive_flag();
    {
        let (sweep, metrics, report) = (sweep.clone(), metrics.clone(), report.clone());
        let opts = ChartOptions::default();
        Effect::new(move |_| {
            crate::components::sweep_chart::draw_sweep(&sweep, &metrics, &report, opts, None)
        });
    }
    let overlay = |key: Metric| role_lines(&sweep, &metrics, key);
    let bs = &report.branches;
    let base = bs.iter().map(|r| r.length).min().unwrap_or(1).max(1) as f64;
    let several = report.seeds_finished() >= 2;
    let mean = if several { "mean " } else { "" };
    let final_line = vec![interval_line(
        &format!(
            "{mean}final test loss{}",
            if several { " (95% CI)" } else { "" }
        ),
        bs.iter()
            .map(|b| (b.k as f64, b.stat(Metric::TestLoss).cloned())),
    )];
    let compute_metric = if toy {
        Metric::TestLoss
    } else {
        Metric::TestAcc
    };
    let compute_line = vec![interval_line(
        &format!(
            "{mean}final {}",
            if toy { "test loss" } else { "test accuracy" }
        ),
        bs.iter()
            .map(|b| (b.length as f64 / base, b.stat(compute_metric).cloned())),
    )];
    let static_card = move |title: String, id: &'static str, chart: AnyView| {
        view! {
            <div class="card chart-card">
                <h2>{title}</h2>
                <div class="chart" id=id></div>
                <div class="static-chart" class:hidden=move || interactive.get()>{chart}</div>
            </div>
        }
    };
    view! {
        <section class="card">
            <p class="meta" id="share-pearson">
                {pearson_line(&report.pearson, unit)}
            </p>
            <p class="meta method">{format!("How: {}.", report.method)}</p>
            <dl class="config">
                {config_list(&RunSummary { spec: sweep.spec.main.clone(), ..sweep.runs[0].run.clone() })}
                <dt>"branches"</dt>
                <dd>{format!("decay at {unit}s {:?}, then {} for {} {unit}s",
                    sweep.spec.branch_at, sweep.spec.after.describe(), sweep.spec.branch_length)}</dd>
            </dl>
            <div id="share-data">
                <BranchStats report=report.clone()/>
            </div>
            <table class="runs" id="share-seeds">
                <thead><tr>
                    <th>"seed"</th><th>{format!("decay {unit} k")}</th><th>{format!("length ({unit}s)")}</th>
                    <th>"compute ×"</th><th>"final test loss"</th>
                    <th>{if toy { "‖α − α_mn‖" } else { "final test acc" }}</th>
                </tr></thead>
                <tbody>
                    {report.per_seed.iter().map(|r| view! {
                        <tr>
                            <td>{r.seed}</td>
                            <td>{r.k}</td>
                            <td>{r.length}</td>
                            <td>{format!("{:.2}", r.length as f64 / base)}</td>
                            <td>{format!("{:.4}", r.test_loss)}</td>
                            <td>{if toy { r.dist_mn.map_or("—".into(), |d| format!("{d:.3}")) }
                                 else { r.test_acc.map_or("—".into(), |a| format!("{:.2}%", 100.0 * a)) }}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="charts">
            {static_card(format!("final test loss vs decay {unit}"), "sweep-final-vs-k",
                view! { <SvgChart lines=final_line x_label=format!("decay {unit} k") markers=true/> }.into_any())}
            {static_card("final metric vs compute".into(), "sweep-compute",
                view! { <SvgChart lines=compute_line x_label="compute (× the earliest decay's run)" markers=true/> }.into_any())}
            {static_card("test loss, all runs".into(), "sweep-test-loss",
                view! { <SvgChart lines=overlay(Metric::TestLoss) x_label="step" log_y=true/> }.into_any())}
            {static_card("learning rate".into(), "sweep-lr",
                view! { <SvgChart lines=overlay(Metric::Lr) x_label="step" log_y=true/> }.into_any())}
            {static_card(if toy { "‖α − α_mn‖".into() } else { "‖w‖".into() }, "sweep-norm",
                view! { <SvgChart lines=overlay(if toy { Metric::DistMn } else { Metric::WNorm }) x_label="step"/> }.into_any())}
            {static_card("train loss, all runs".into(), "sweep-train-loss",
                view! { <SvgChart lines=overlay(Metric::TrainLoss) x_label="step" log_y=true/> }.into_any())}
            {(!toy).then(|| static_card("test accuracy, all runs".into(), "sweep-test-acc",
                view! { <SvgChart lines=overlay(Metric::TestAcc) x_label="step"/> }.into_any()))}
        </section>
    }
}

//! Every page rendered on the server as a browser would first receive it, with stored data: a
//! finished toy sweep (a main path and two branches), a network run on its own, a finished
//! and a running loss landscape, and share links to each. A stand-in `Lab` answers the server
//! functions from that data, and each test checks what a reader sees: titles, table cells,
//! chart containers, the verdict text.
#![cfg(feature = "ssr")]
// Rendering the whole app lays out its deeply nested view types here too (see the crate's own).
#![recursion_limit = "256"]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::body::Body;
use axum::http::Request;
use domain::analysis::{run_conclusion, sweep_report};
use domain::prediction::{ReferenceLaw, SweepPrediction};
use domain::wire::PathProjection;
use domain::wire::{
    AddSeeds, Cancelled, Created, DatasetDeleted, DatasetInfo, Landscape, LandscapeFilter,
    LandscapeMethod, LandscapeProgress, LandscapeRequest, LandscapeSource, LandscapeSpec,
    LandscapeSummary, Lineage, MetricPoint, MetricRow, ReplicateRequest, Resumed, Revoked,
    RunMetrics, RunSpec, RunStatus, RunSummary, RunsCreated, ShareCreated, ShareInfo, ShareKind,
    ShareRequest, SharedBody, SharedPage, SweepCreated, SweepItem, SweepReport, SweepRun,
    SweepSummary,
};
use domain::{Answer, Failure, Lab};
use experiment::{Experiment, SweepSpec};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;

/// 2026-11-29 00:50:25 UTC.
const T0: i64 = 1_795_913_425_000;

/// What the stand-in lab has stored.
struct Stored {
    runs: Vec<RunSummary>,
    metrics: BTreeMap<i64, Vec<MetricPoint>>,
    sweep: SweepSummary,
    landscapes: Vec<(LandscapeSummary, Option<Landscape>)>,
    shares: Vec<ShareInfo>,
    datasets: Vec<DatasetInfo>,
}

/// The registry: Fashion-MNIST (built in, installed) and a registered colour image folder.
fn datasets() -> Vec<DatasetInfo> {
    let fashion = DatasetInfo {
        name: "fashion_mnist".into(),
        version: 1,
        hash: None,
        builtin: true,
        available: true,
        kind: "images".into(),
        shape: [1, 28, 28],
        class_names: (0..10).map(|i| format!("class {i}")).collect(),
        train_per_class: vec![6000; 10],
        test_per_class: vec![1000; 10],
        mean: vec![],
        std: vec![],
        source: "official files".into(),
        bytes: 0,
        created_at_ms: 0,
    };
    let flowers = DatasetInfo {
        name: "flowers".into(),
        version: 2,
        hash: Some(format!("3f9a1c0b7d2e{}", "0".repeat(52))),
        builtin: false,
        available: true,
        kind: "images".into(),
        shape: [3, 32, 32],
        class_names: vec!["daisy".into(), "rose".into(), "tulip".into()],
        train_per_class: vec![400, 360, 120],
        test_per_class: vec![100, 90, 30],
        mean: vec![0.4512, 0.4021, 0.3333],
        std: vec![0.2511, 0.2302, 0.2299],
        source: "zip".into(),
        bytes: 2_345_678,
        created_at_ms: T0,
    };
    vec![fashion, flowers]
}

fn point(step: u64, values: &[(&str, f64)]) -> MetricPoint {
    MetricPoint {
        step,
        epoch: step as f64 / 10.0,
        values: values.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
    }
}

fn run(id: i64, name: &str, spec: RunSpec, lineage: Lineage) -> RunSummary {
    RunSummary {
        id,
        name: name.into(),
        status: RunStatus::Completed,
        message: None,
        spec,
        backend: Some("flex".into()),
        device: Some("cpu (2 threads)".into()),
        created_at_ms: T0 + id * 60_000,
        finished_at_ms: Some(T0 + id * 60_000 + 30_000),
        last_step: None,
        lineage,
        executor: Some("local".into()),
        executor_job_id: None,
        executor_node: None,
    }
}

/// A toy curve: the test loss falls with the steps, and a decay at `k` drops it further, the
/// later the more (the paper's regime, where a late decay wins).
fn toy_rows(from: u64, to: u64, k: Option<u64>) -> Vec<MetricPoint> {
    (from / 50..=to / 50)
        .map(|i| {
            let t = i * 50;
            let base = 0.5 + 1.0 / (1.0 + t as f64 / 100.0);
            let drop = k.filter(|k| t > *k).map_or(0.0, |k| {
                (k as f64 / 2000.0) * (1.0 - (-((t - k) as f64) / 50.0).exp())
            });
            let lr = if k.is_some_and(|k| t > k) {
                0.005
            } else {
                0.05
            };
            point(
                t,
                &[
                    ("train_loss", base - 0.4 - drop),
                    ("test_loss", base - drop),
                    ("lr", lr),
                    ("w_norm", 1.0 + t as f64 / 1000.0),
                    ("dist_mn", 2.0 - t as f64 / 600.0 - drop),
                ],
            )
        })
        .collect()
}

fn net_rows() -> Vec<MetricPoint> {
    (1..=6u32)
        .map(|e| {
            let e = f64::from(e);
            MetricPoint {
                step: (e * 80.0) as u64,
                epoch: e,
                values: [
                    ("train_loss", 0.09 / e),
                    ("test_loss", 0.05 + 0.03 / e),
                    ("train_acc", 1.0 - 0.1 / e),
                    ("test_acc", 0.8 + 0.01 * e),
                    ("lr", 0.1),
                    ("w_norm", 20.0 + e),
                    ("dist_init", e),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            }
        })
        .collect()
}

fn landscape() -> Landscape {
    let grid = |shift: f64| {
        (0..3)
            .map(|iy| {
                (0..3)
                    .map(|ix| Some(shift + f64::from(ix * ix + iy) / 10.0 + 0.05))
                    .collect()
            })
            .collect()
    };
    Landscape {
        method: LandscapeMethod::Pca,
        num_params: 1234,
        num_checkpoints: 6,
        explained_variance: vec![0.72, 0.18],
        x_label: "PC1".into(),
        y_label: "PC2".into(),
        xs: vec![-1.0, 0.0, 1.0],
        ys: vec![-1.0, 0.0, 1.0],
        train_loss: grid(0.0),
        test_loss: grid(0.1),
        train_acc: None,
        test_acc: None,
        paths: vec![PathProjection {
            label: "main".into(),
            run_id: None,
            epochs: vec![1.0, 3.0, 6.0],
            x: vec![1.0, 0.5, -1.0],
            y: vec![1.0, 0.0, -1.0],
            dist_to_plane: vec![0.0, 0.01, 0.0],
        }],
        max_rel_projection_error: 0.05,
        manifold: vec![],
        w_mn: None,
        elapsed_secs: 2.5,
        batch_norm: None,
    }
}

impl Stored {
    fn new() -> Self {
        // A toy model with d = 2, where a landscape is exact: the run and sweep pages offer one.
        let mut spec = SweepSpec::toy_paper();
        if let Experiment::Toy(t) = &mut spec.main.experiment {
            t.d = 2;
            t.n = 1;
            t.steps = 600;
        }
        spec.name = "toy: late decay".into();
        spec.branch_at = vec![200, 400];
        spec.branch_length = 200;
        let main = run(
            1,
            "toy: late decay · main",
            spec.main.clone(),
            Lineage {
                sweep_id: Some(1),
                ..Lineage::default()
            },
        );
        let branch = |id: i64, k: u64| {
            run(
                id,
                &format!("toy: late decay · decay @ {k}"),
                spec.main.clone(),
                Lineage {
                    sweep_id: Some(1),
                    parent_id: Some(1),
                    branch_at: Some(k),
                },
            )
        };
        let (b200, b400) = (branch(2, 200), branch(3, 400));
        let net = run(
            4,
            "fashion mlp",
            SweepSpec::fashion_cpu().main,
            Lineage::default(),
        );
        let sweep = SweepSummary {
            id: 1,
            name: spec.name.clone(),
            spec,
            created_at_ms: T0,
            runs: vec![
                SweepRun {
                    branch_at: None,
                    seed: 0,
                    baseline: false,
                    run: main.clone(),
                },
                SweepRun {
                    branch_at: Some(200),
                    seed: 0,
                    baseline: false,
                    run: b200.clone(),
                },
                SweepRun {
                    branch_at: Some(400),
                    seed: 0,
                    baseline: false,
                    run: b400.clone(),
                },
            ],
        };
        let metrics = BTreeMap::from([
            (1, toy_rows(0, 600, None)),
            (2, toy_rows(200, 400, Some(200))),
            (3, toy_rows(400, 600, Some(400))),
            (4, net_rows()),
        ]);
        let summary =
            |id: i64, status: RunStatus, progress: Option<LandscapeProgress>| LandscapeSummary {
                id,
                name: format!("landscape {id} of run 4"),
                source: LandscapeSource::Run { id: 4 },
                spec: LandscapeSpec::default(),
                status,
                progress,
                message: None,
                created_at_ms: T0 + id * 1000,
                finished_at_ms: None,
            };
        let landscapes = vec![
            (summary(1, RunStatus::Completed, None), Some(landscape())),
            (
                summary(
                    2,
                    RunStatus::Running,
                    Some(LandscapeProgress {
                        phase: "grid".into(),
                        done: 5,
                        total: 20,
                    }),
                ),
                None,
            ),
        ];
        let share = |id: i64,
                     kind: ShareKind,
                     target_id: i64,
                     expires: Option<i64>,
                     revoked: Option<i64>| {
            ShareInfo {
                id,
                kind,
                target_id,
                title: format!("shared {target_id}"),
                created_at_ms: T0,
                expires_at_ms: expires,
                revoked_at_ms: revoked,
            }
        };
        let shares = vec![
            share(3, ShareKind::Landscape, 1, Some(T0 + 1000), None),
            share(2, ShareKind::Sweep, 1, None, Some(T0 + 5000)),
            share(1, ShareKind::Run, 4, None, None),
        ];
        Self {
            runs: vec![main, b200, b400, net],
            metrics,
            sweep,
            landscapes,
            shares,
            datasets: datasets(),
        }
    }

    fn run(&self, id: i64) -> Result<RunSummary, Failure> {
        self.runs
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or_else(|| Failure::not_found("run"))
    }

    fn points(&self, id: i64) -> Vec<MetricPoint> {
        self.metrics.get(&id).cloned().unwrap_or_default()
    }

    fn sweep_metrics(&self) -> Vec<RunMetrics> {
        self.sweep
            .runs
            .iter()
            .map(|r| RunMetrics {
                run_id: r.run.id,
                points: self.points(r.run.id),
            })
            .collect()
    }

    fn sweep(&self, id: i64) -> Result<SweepSummary, Failure> {
        (id == self.sweep.id)
            .then(|| self.sweep.clone())
            .ok_or_else(|| Failure::not_found("sweep"))
    }

    fn landscape(&self, id: i64) -> Result<&(LandscapeSummary, Option<Landscape>), Failure> {
        self.landscapes
            .iter()
            .find(|l| l.0.id == id)
            .ok_or_else(|| Failure::not_found("landscape"))
    }
}

fn answer<'a, T: Send + 'a>(r: Result<T, Failure>) -> Answer<'a, T> {
    Box::pin(std::future::ready(r))
}

/// Rendering never creates or changes anything.
fn refused<'a, T: Send + 'a>() -> Answer<'a, T> {
    answer(Err(Failure::new(405, "read-only test data")))
}

impl Lab for Stored {
    fn create_replicates(&self, _: ReplicateRequest) -> Answer<'_, RunsCreated> {
        refused()
    }
    fn create_run(&self, _: RunSpec) -> Answer<'_, Created> {
        refused()
    }
    fn list_runs(&self) -> Answer<'_, Vec<RunSummary>> {
        answer(Ok(self.runs.iter().rev().cloned().collect()))
    }
    fn get_run(&self, id: i64) -> Answer<'_, RunSummary> {
        answer(self.run(id))
    }
    fn cancel_run(&self, _: i64) -> Answer<'_, Cancelled> {
        refused()
    }
    fn resume_run(&self, _: i64) -> Answer<'_, Resumed> {
        refused()
    }
    fn run_metrics(&self, id: i64) -> Answer<'_, Vec<MetricRow>> {
        answer(self.run(id).map(|_| {
            self.points(id)
                .into_iter()
                .enumerate()
                .map(|(i, p)| MetricRow {
                    seq: i as i64 + 1,
                    step: p.step,
                    epoch: p.epoch,
                    values: p.values,
                })
                .collect()
        }))
    }
    fn create_sweep(&self, _: SweepSpec) -> Answer<'_, SweepCreated> {
        refused()
    }
    fn add_sweep_seeds(&self, _: i64, _: AddSeeds) -> Answer<'_, SweepCreated> {
        refused()
    }
    fn list_sweeps(&self) -> Answer<'_, Vec<SweepItem>> {
        let s = &self.sweep;
        answer(Ok(vec![SweepItem {
            id: s.id,
            name: s.name.clone(),
            created_at_ms: s.created_at_ms,
        }]))
    }
    fn get_sweep(&self, id: i64) -> Answer<'_, SweepSummary> {
        answer(self.sweep(id))
    }
    fn sweep_metrics(&self, id: i64) -> Answer<'_, Vec<RunMetrics>> {
        answer(self.sweep(id).map(|_| self.sweep_metrics()))
    }
    fn sweep_summary(&self, id: i64) -> Answer<'_, SweepReport> {
        answer(
            self.sweep(id)
                .map(|s| sweep_report(&s, &self.sweep_metrics())),
        )
    }
    fn sweep_prediction(&self, id: i64) -> Answer<'_, SweepPrediction> {
        answer(self.sweep(id).and_then(|s| {
            domain::prediction::sweep_prediction(&s, &self.sweep_metrics())
                .map_err(|e| Failure::new(409, e))
        }))
    }
    fn sweep_reference(&self, _: i64) -> Answer<'_, ReferenceLaw> {
        refused()
    }
    fn run_reference(&self, _: i64) -> Answer<'_, ReferenceLaw> {
        refused()
    }
    fn create_share(&self, _: ShareRequest) -> Answer<'_, ShareCreated> {
        refused()
    }
    fn list_shares(&self) -> Answer<'_, Vec<ShareInfo>> {
        answer(Ok(self.shares.clone()))
    }
    fn revoke_share(&self, _: i64) -> Answer<'_, Revoked> {
        refused()
    }
    fn open_share(&self, token: String) -> Answer<'_, SharedPage> {
        let body = match token.as_str() {
            "run-token" => Some(SharedBody::Run {
                run: self.runs[3].clone(),
                points: self.points(4),
            }),
            "sweep-token" => Some(SharedBody::Sweep {
                sweep: self.sweep.clone(),
                metrics: self.sweep_metrics(),
            }),
            "landscape-token" => Some(SharedBody::Landscape {
                landscape: self.landscapes[0].0.clone(),
                result: landscape(),
            }),
            _ => None,
        };
        answer(
            body.map(|body| SharedPage {
                title: format!("Shared {token}"),
                taken_at_ms: T0,
                expires_at_ms: None,
                body,
            })
            .ok_or_else(|| Failure::not_found("share")),
        )
    }
    fn create_landscape(&self, _: LandscapeRequest) -> Answer<'_, Created> {
        refused()
    }
    fn list_landscapes(&self, filter: LandscapeFilter) -> Answer<'_, Vec<LandscapeSummary>> {
        let of = |l: &LandscapeSummary| match (filter, l.source) {
            (LandscapeFilter { run: Some(r), .. }, LandscapeSource::Run { id }) => r == id,
            (LandscapeFilter { sweep: Some(s), .. }, LandscapeSource::Sweep { id }) => s == id,
            (
                LandscapeFilter {
                    run: None,
                    sweep: None,
                },
                _,
            ) => true,
            _ => false,
        };
        answer(Ok(self
            .landscapes
            .iter()
            .map(|l| l.0.clone())
            .filter(of)
            .collect()))
    }
    fn get_landscape(&self, id: i64) -> Answer<'_, LandscapeSummary> {
        answer(self.landscape(id).map(|l| l.0.clone()))
    }
    fn landscape_result(&self, id: i64) -> Answer<'_, Landscape> {
        answer(self.landscape(id).and_then(|l| {
            l.1.clone()
                .ok_or_else(|| Failure::not_found("landscape result"))
        }))
    }
    fn cancel_landscape(&self, _: i64) -> Answer<'_, Cancelled> {
        refused()
    }
    fn list_datasets(&self) -> Answer<'_, Vec<DatasetInfo>> {
        answer(Ok(self.datasets.clone()))
    }
    fn get_dataset(&self, name: String) -> Answer<'_, DatasetInfo> {
        answer(
            self.datasets
                .iter()
                .find(|d| d.name == name)
                .cloned()
                .ok_or_else(|| Failure::not_found("dataset")),
        )
    }
    fn delete_dataset(&self, _: String) -> Answer<'_, DatasetDeleted> {
        refused()
    }
}

/// The page at `path`, rendered on one runtime for every test (as the server has one) and one
/// page at a time: renders on separate test runtimes at once were seen to stall each other.
fn served(path: &str) -> String {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    });
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    runtime.block_on(render(path))
}

/// The page at `path` as the server sends it, every resource resolved, with hydration
/// markers taken out so text reads as it shows.
async fn render(path: &str) -> String {
    // Starts the executor the server's resources run on.
    let _ = leptos_axum::generate_route_list(app::App);
    let lab: Arc<dyn Lab> = Arc::new(Stored::new());
    let options = LeptosOptions::builder().output_name("anneal").build();
    let handler = leptos_axum::render_app_async_with_context(
        move || provide_context(lab.clone()),
        move || app::shell(options.clone()),
    );
    let request = Request::builder()
        .uri(path)
        .body(Body::empty())
        .expect("a request");
    let response = handler(request).await;
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the page");
    readable(std::str::from_utf8(&body).expect("UTF-8"))
}

/// `html` without the comments Leptos places between text nodes for hydration.
fn readable(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find("<!") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = if tail.starts_with("<!--") {
            tail.find("-->").map(|e| e + 3)
        } else if tail.starts_with("<!>") {
            Some(3)
        } else {
            // <!DOCTYPE html>
            tail.find('>').map(|e| e + 1)
        };
        let Some(end) = end else { break };
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[track_caller]
fn has(page: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(page.contains(w), "missing {w:?} in:\n{page}");
    }
}

/// The text content of the element whose opening tag contains `id="<id>"`, tags stripped.
fn text_of(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in:\n{page}"));
    let open_end = start + page[start..].find('>').expect("a tag");
    let tag_start = page[..start].rfind('<').expect("a tag");
    let name: String = page[tag_start + 1..]
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect();
    let close = format!("</{name}>");
    let body = &page[open_end + 1..];
    let inner = &body[..body.find(&close).expect("a closing tag")];
    let mut text = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[test]
fn home_lists_the_runs_and_sweeps_and_offers_both_launchers() {
    let page = served("/");
    has(
        &page,
        &[
            "<title>Anneal</title>",
            r#"<form id="launch-form""#,
            r#"id="schedule-editor""#,
            r#"id="after-schedule-editor""#,
            r#"id="start-sweep""#,
            r#"id="preset-toy""#,
            r#"<table id="runs" class="runs">"#,
            r#"<a href="/runs/4">"#,
            r#"<a href="/sweeps/1">sweep 1 · toy: late decay</a> · 2026-11-29 00:50:25 UTC"#,
            // The what-if picker offers the finished sweep and runs as references.
            r#"<option value="sweep:1">sweep 1 · toy: late decay</option>"#,
            r#"<option value="run:4">run 4 · fashion mlp</option>"#,
        ],
    );
}

#[test]
fn a_runs_page_shows_its_config_lineage_and_chart_slots() {
    let page = served("/runs/2");
    has(
        &page,
        &[
            "Run 2 · toy model</h1>",
            r#"<span id="run-status" class="status completed">completed</span>"#,
            r#"<span id="run-backend">flex</span>"#,
            r#"<span id="run-device">cpu (2 threads)</span>"#,
            r#"<span id="run-executor">local</span>"#,
            "<dt>d</dt><dd>2</dd>",
            "<dt>schedule</dt>",
            r#"<a id="export-csv" href="/api/runs/2/metrics?format=csv""#,
            r#"id="share""#,
            // A toy run with d = 2 can be drawn as a landscape.
            r#"id="ls-start""#,
            r#"<div id="chart-loss" class="chart"></div>"#,
            r#"<div id="chart-norms" class="chart"></div>"#,
        ],
    );
    assert!(
        !page.contains(r#"id="chart-acc""#),
        "a toy run has no accuracy chart"
    );
    let lineage = text_of(&page, "lineage");
    assert!(
        lineage.starts_with(
            "Part of sweep 1 · toy: late decay (seed 0) · branch of run 1, decayed at step 200"
        ),
        "{lineage}"
    );
    has(
        &page,
        &[
            r#"<a href="/runs/1" class="sibling">main</a>"#,
            r#"<a href="/runs/3" class="sibling">decay @ 400</a>"#,
            r#"<a id="lineage-compare" href="/compare?runs=1,2,3">"#,
        ],
    );
}

#[test]
fn a_network_runs_page_has_accuracy_and_lists_its_landscapes() {
    let page = served("/runs/4");
    has(
        &page,
        &[
            "Run 4 · Fashion-MNIST</h1>",
            "<dt>dataset</dt><dd>Fashion-MNIST</dd>",
            "<dt>train images</dt><dd>200 per class</dd>",
            r#"<div id="chart-acc" class="chart"></div>"#,
            // The launcher lists this run's landscapes, the finished and the running one.
            r#"<a href="/landscapes/1">landscape 1 of run 4</a>"#,
            r#"<a href="/landscapes/2">landscape 2 of run 4</a>"#,
            r#"<span class="status running">running</span>"#,
        ],
    );
    assert!(
        !page.contains(r#"id="lineage""#),
        "a run outside a sweep has no lineage"
    );
    let missing = served("/runs/99");
    has(&missing, &[r#"<p class="notfound">No such run.</p>"#]);
}

#[test]
fn a_sweeps_page_gives_the_verdict_statistics_and_every_chart() {
    let page = served("/sweeps/1");
    let stored = Stored::new();
    let report = sweep_report(&stored.sweep, &stored.sweep_metrics());
    assert!(!report.conclusion.is_empty());
    assert_eq!(text_of(&page, "sweep-conclusion"), report.conclusion);
    has(
        &page,
        &[
            "Sweep 1 · toy: late decay</h1>",
            "3 of 3 runs finished · seed 0 · created 2026-11-29 00:50:25 UTC",
            r#"id="sweep-pearson""#,
            r#"id="sweep-method""#,
            r#"<table id="branch-stats" class="runs">"#,
            "<th>decay step k</th>",
            // Per decay point: k and the number of seeds.
            "<tr><td>200</td><td>1</td>",
            "<tr><td>400</td><td>1</td>",
            "<td>└ branch: decay at step 200</td>",
            r#"<span class="status completed">completed</span>"#,
            r#"<input id="ctl-log" type="checkbox""#,
            r#"id="add-seeds""#,
            r#"id="share""#,
            r#"id="ls-start""#,
        ],
    );
    for div in [
        "sweep-final-vs-k",
        "sweep-compute",
        "sweep-test-loss",
        "sweep-lr",
        "sweep-norm",
        "sweep-train-loss",
    ] {
        has(
            &page,
            &[&format!(r#"<div class="chart" id="{div}"></div>"#)],
        );
    }
    assert!(
        !page.contains("sweep-test-acc"),
        "a toy sweep has no accuracy chart"
    );
    // Two paths of the seed have finished: each loss law is fitted and assessed.
    let prediction = domain::prediction::sweep_prediction(&stored.sweep, &stored.sweep_metrics())
        .expect("the main path and a branch have finished");
    has(&page, &[r#"<div id="prediction" class="prediction">"#]);
    for law in &prediction.laws {
        has(
            &page,
            &[&format!(r#"<div id="law-{}" class="law">"#, law.law.key())],
        );
    }
    assert_eq!(
        text_of(&page, "prediction-method"),
        format!("How: {}", prediction.method)
    );
    let missing = served("/sweeps/7");
    has(&missing, &[r#"<p class="notfound">No such sweep.</p>"#]);
}

#[test]
fn the_compare_page_reads_out_the_picked_runs() {
    let page = served("/compare?runs=1,4&y=test_loss");
    has(
        &page,
        &[
            "<title>Compare runs · Anneal</title>",
            r#"<div class="chart" id="compare-chart"></div>"#,
            r#"<table id="cmp-readout" class="runs">"#,
            r#"<a href="/runs/1">1 · toy: late decay · main</a>"#,
            r#"<a href="/runs/4">4 · fashion mlp</a>"#,
            "Readout: each run's last row.",
            r#"<input type="checkbox" data-run="4" class="cmp-run""#,
        ],
    );
    // The readout row of run 4: its last step, epoch and test loss.
    has(&page, &["<td>480</td><td>6.00</td><td>0.055000</td>"]);
    assert!(!page.contains(r#"id="cmp-empty""#));
    let empty = served("/compare");
    has(
        &empty,
        &[r#"<p id="cmp-empty" class="meta">No run picked yet.</p>"#],
    );
}

#[test]
fn the_landscape_pages_show_the_maps_or_the_progress() {
    let list = served("/landscapes");
    has(
        &list,
        &[
            "<title>Loss landscapes · Anneal</title>",
            r#"<a href="/landscapes/1">landscape 1 of run 4</a>"#,
            "<td>21×21</td>",
        ],
    );
    let done = served("/landscapes/1");
    has(
        &done,
        &[
            "<title>landscape 1 of run 4 · Anneal</title>",
            r#"<h1 id="landscape-title">landscape 1 of run 4</h1>"#,
            r#"<a href="/runs/4">run 4</a>"#,
            " · 21×21 grid · margin 0.25",
            r#"<div id="landscape-train" class="chart map"></div>"#,
            r#"<div id="landscape-test" class="chart map"></div>"#,
            r#"<figure class="svg-landscape">"#,
            "<td>PC1</td><td>72.0%</td>",
            "1234 parameters · 6 checkpoints · computed in 2.5 s",
        ],
    );
    assert_eq!(
        text_of(&done, "landscape-reading"),
        app::components::landscape::reading(&landscape())
    );
    let running = served("/landscapes/2");
    has(
        &running,
        &[
            r#"<span id="landscape-status" class="status running">running</span>"#,
            r#"<div id="landscape-progress" class="progress">"#,
            " grid: 5 / 20",
            r#"id="landscape-cancel""#,
        ],
    );
    assert!(
        !running.contains("landscape-reading"),
        "no maps before the job ends"
    );
}

#[test]
fn the_share_list_tells_active_revoked_and_expired_links_apart() {
    let page = served("/shares");
    has(
        &page,
        &[
            "<title>Share links · Anneal</title>",
            r#"<tr data-share="1"><td>#1</td><td><a href="/runs/4">shared 4</a></td>"#,
            r#"<td class="share-state">active</td>"#,
            r#"<td class="share-state">revoked</td>"#,
            r#"<td class="share-state">expired</td>"#,
            r#"<a href="/landscapes/1">shared 1</a>"#,
        ],
    );
    // Only the active link can be revoked.
    assert_eq!(page.matches("class=\"secondary revoke\"").count(), 1);
}

#[test]
fn a_shared_run_reads_without_javascript() {
    let page = served("/s/run-token");
    let stored = Stored::new();
    has(
        &page,
        &[
            "<title>Shared run-token · Anneal</title>",
            r#"<meta property="og:title" content="Shared run-token">"#,
            r#"<h1 id="share-title">Shared run-token</h1>"#,
            "Read-only snapshot taken 2026-11-29 00:50:25 UTC",
            r#"<a id="share-csv" href="/s/run-token/export?format=csv" download>"#,
            "<dt>dataset</dt><dd>Fashion-MNIST</dd>",
            r#"<figure class="svg-chart">"#,
            r#"<table id="share-data" class="runs">"#,
            "<th>test_acc</th>",
            // The last row, always in the table.
            "<td>480</td><td>6.00</td>",
        ],
    );
    assert_eq!(
        text_of(&page, "share-conclusion"),
        run_conclusion(&stored.runs[3].spec, &stored.points(4))
    );
    assert!(
        !page.contains("share-summary-csv"),
        "a run has no summary table"
    );
    let dead = served("/s/nothing");
    has(
        &dead,
        &["This link does not exist, has expired or was revoked."],
    );
}

#[test]
fn a_shared_sweep_carries_its_verdict_tables_and_static_charts() {
    let page = served("/s/sweep-token");
    let stored = Stored::new();
    let report = sweep_report(&stored.sweep, &stored.sweep_metrics());
    assert_eq!(text_of(&page, "share-conclusion"), report.conclusion);
    has(
        &page,
        &[
            r#"id="share-pearson""#,
            r#"<a id="share-summary-csv" href="/s/sweep-token/export?format=csv&amp;table=summary" download>"#,
            r#"<table id="branch-stats" class="runs">"#,
            r#"<table id="share-seeds" class="runs">"#,
            "<dt>branches</dt>",
            "<dt>d</dt><dd>2</dd>",
            r#"<div id="sweep-final-vs-k" class="chart"></div>"#,
            "‖α − α_mn‖",
        ],
    );
    // The overlay and the two final-metric charts are drawn on the server.
    assert!(page.matches(r#"<figure class="svg-chart">"#).count() >= 6);
}

#[test]
fn a_shared_landscape_shows_its_reading_and_maps() {
    let page = served("/s/landscape-token");
    let reading = app::components::landscape::reading(&landscape());
    assert_eq!(text_of(&page, "share-conclusion"), reading);
    assert_eq!(text_of(&page, "landscape-reading"), reading);
    has(
        &page,
        &[
            r#"<meta name="description" content=""#,
            r#"<figure class="svg-landscape">"#,
            r#"id="landscape-variance""#,
        ],
    );
}

#[test]
fn the_datasets_page_lists_each_dataset_and_offers_the_upload() {
    let page = served("/datasets");
    has(
        &page,
        &[
            "<title>Datasets · Anneal</title>",
            r#"<div id="datasets" class="dataset-grid">"#,
            // The built-in one by its usual name, not linked; the registered one linked.
            "<h3>Fashion-MNIST</h3>",
            r#"<h3><a href="/datasets/flowers">flowers</a></h3>"#,
            "registered · v2",
            "<dt>shape (C×H×W)</dt><dd>3×32×32</dd>",
            "<dt>classes</dt><dd>3</dd>",
            "<dt>train</dt><dd>880</dd>",
            "<dt>test</dt><dd>220</dd>",
            "<dt>train</dt><dd>60\u{202f}000</dd>",
            "<dt>source</dt><dd>zip · 2.3 MB</dd>",
            r#"<a href="/?dataset=flowers">Train a network on it →</a>"#,
            // The upload panel: its inputs, the drop zone over a file input, the button.
            r#"<form id="upload-form""#,
            r#"<input id="f-name" name="name""#,
            r#"<input id="f-held_out" name="held_out""#,
            r#"<input id="f-resize" name="resize""#,
            r#"<input id="f-label_column" name="label_column""#,
            r#"<label for="f-file" id="dropzone" class="dropzone">"#,
            r#"<input id="f-file" name="file" type="file" accept=".zip,.tar,.tgz,.tar.gz,.npz,.npy,.csv""#,
            r#"<button type="submit" id="upload-start">Upload</button>"#,
        ],
    );
    // The top bar links here, marked as the current page.
    has(
        &page,
        &[r#"<a href="/datasets" aria-current="page" class="nav">datasets</a>"#],
    );
}

#[test]
fn a_datasets_page_shows_its_classes_normalisation_and_samples() {
    let page = served("/datasets/flowers");
    has(
        &page,
        &[
            "<title>flowers · datasets · Anneal</title>",
            r#"<h1 id="dataset-title">flowers</h1>"#,
            r#"<dd id="dataset-size">32×32 pixels</dd>"#,
            r#"<dd id="dataset-channels">3 (RGB)</dd>"#,
            r#"<dd id="dataset-train">880</dd>"#,
            r#"<dd id="dataset-test">220</dd>"#,
            // The hash, short, and whole on hover.
            &format!(
                r#"<code id="dataset-hash" title="3f9a1c0b7d2e{}">3f9a1c0b7d2e…</code>"#,
                "0".repeat(52)
            ),
            // A row per class with both splits' counts, bars on the largest count's scale.
            r#"<div data-class="daisy" class="class-row">"#,
            "<span class=\"class-count\">400 / 100</span>",
            "<span class=\"class-count\">120 / 30</span>",
            r#"<span title="400 train" class="bar train" style="width: 100.0%;">"#,
            r#"<span title="30 test" class="bar test" style="width: 7.5%;">"#,
            // Normalisation per channel, and what it was computed on.
            "<tr><td>R</td><td>0.4512</td><td>0.2511</td></tr>",
            "<tr><td>B</td><td>0.3333</td><td>0.2299</td></tr>",
            "Computed on the training split, pixels scaled to [0, 1].",
            // The samples, rows in class order beside their names.
            r#"<img src="/api/datasets/flowers/samples.png""#,
            r#"<li title="daisy">daisy</li><li title="rose">rose</li><li title="tulip">tulip</li>"#,
            r#"id="delete-dataset""#,
            r#"<a href="/?dataset=flowers" id="train-on-it">"#,
        ],
    );
    let builtin = served("/datasets/fashion_mnist");
    has(
        &builtin,
        &[
            r#"<h1 id="dataset-title">Fashion-MNIST</h1>"#,
            "1 (grayscale)",
        ],
    );
    assert!(
        !builtin.contains("samples.png"),
        "no thumbnails of a built-in dataset"
    );
    assert!(
        !builtin.contains("delete-dataset"),
        "a built-in dataset stays"
    );
    has(&served("/datasets/nothing"), &["No such dataset."]);
}

#[test]
fn the_run_form_offers_every_dataset_and_opens_on_a_linked_one() {
    let page = served("/?dataset=flowers");
    has(
        &page,
        &[
            r#"<select id="f-experiment-dataset" name="experiment.dataset""#,
            r#"<option value="fashion_mnist">Fashion-MNIST</option>"#,
            r#"<option value="flowers" selected>flowers · v2 · 3×32×32 · 3 classes</option>"#,
            // The form opened on a network, the chosen dataset's facts beneath the select.
            r#"<option value="net" selected>network on images</option>"#,
            "3 classes · 880 train · 220 test · 3×32×32",
        ],
    );
    // Without a link the form opens on the toy model; a network on Fashion-MNIST by default.
    let net = served("/?experiment=net");
    has(
        &net,
        &[r#"<option value="fashion_mnist" selected>Fashion-MNIST</option>"#],
    );
}

//! What each subcommand does, kept out of `main` so that it only wires.

use std::io::Write;
use std::path::Path;

use domain::{Lab, Metric};
use schedule::Schedule;

use crate::db::Db;
use crate::http::{AppState, router};
use crate::runs::RunService;
use crate::settings::Settings;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// "what: problem" lines under a heading, for field errors on the terminal.
fn field_errors(heading: &str, errs: &[schedule::FieldError]) -> BoxError {
    let lines: Vec<String> = errs.iter().map(|e| format!("  {e}")).collect();
    format!("{heading}:\n{}", lines.join("\n")).into()
}

/// Opens the database under the data directory and starts the run service with `workers`.
async fn open_service(
    settings: &Settings,
    workers: usize,
) -> Result<std::sync::Arc<RunService>, BoxError> {
    let db = open_db(settings).await?;
    Ok(RunService::start(db, settings.data_dir.clone(), workers).await?)
}

/// Opens the database the settings name (creating the data directory).
async fn open_db(settings: &Settings) -> Result<Db, BoxError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
        format!(
            "cannot create data directory {}: {e}",
            settings.data_dir.display()
        )
    })?;
    let db = match &settings.database_url {
        Some(url) => Db::connect(url).await?,
        None => Db::open(&settings.db_path).await?,
    };
    Ok(db)
}

/// Reads a spec file as JSON or TOML, by extension.
pub fn read_spec<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, BoxError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if is_toml {
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
    } else {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
    }
}

pub fn schedule(spec: &Path, steps: u64, steps_per_epoch: Option<u64>) -> Result<(), BoxError> {
    let sched: Schedule = read_spec(spec)?;
    if let Err(errs) = sched.validate() {
        return Err(field_errors("invalid schedule", &errs));
    }
    if steps_per_epoch == Some(0) {
        return Err("--steps-per-epoch must be at least 1".into());
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for step in 0..steps {
        match steps_per_epoch {
            Some(spe) => writeln!(
                out,
                "{step} {} {}",
                schedule::steps_to_epochs(step, spe),
                sched.lr_at(step)
            )?,
            None => writeln!(out, "{}", sched.lr_at(step))?,
        }
    }
    out.flush()?;
    Ok(())
}

/// The service a headless command trains through: the run service without workers (this
/// process claims its own runs) and no landscape worker (a server may own the queued jobs).
async fn headless(
    settings: &Settings,
) -> Result<
    (
        std::sync::Arc<RunService>,
        std::sync::Arc<crate::service::Service>,
    ),
    BoxError,
> {
    let runs = open_service(settings, 0).await?;
    let landscapes = crate::landscapes::LandscapeService::start(runs.clone(), false).await?;
    Ok((
        runs.clone(),
        crate::service::Service::new(runs, landscapes, settings.dataset_limits.clone()),
    ))
}

/// A refusal as the terminal shows it: field errors one per line.
fn refused(what: &str, f: domain::Failure) -> BoxError {
    if f.field_errors().is_empty() {
        f.to_string().into()
    } else {
        field_errors(&format!("invalid {what}"), f.field_errors())
    }
}

/// Trains queued runs here one after another (a sweep's main path before its branches),
/// each with a progress bar; `rows` prints every metric row. Answers each run's end status.
async fn train_here(
    runs: &std::sync::Arc<RunService>,
    ids: &[i64],
    rows: bool,
) -> Result<Vec<(i64, Option<domain::wire::RunStatus>)>, BoxError> {
    use indicatif::{ProgressBar, ProgressStyle};
    use trainer::Event;

    let stop_runs = runs.clone();
    let ctrl_c = tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop_runs.shutdown().await;
    });
    let mut out = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} run {prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} steps  {msg}",
            )
            .map_err(|e| e.to_string())?,
        );
        bar.set_prefix(if ids.len() > 1 {
            format!("{id} ({}/{})", i + 1, ids.len())
        } else {
            id.to_string()
        });
        let b = bar.clone();
        let observer: crate::executor::Observer = Box::new(move |ev: &Event| match ev {
            Event::Started {
                backend,
                device,
                total_steps,
                ..
            } => {
                b.set_length(*total_steps);
                if rows {
                    b.println(format!("run {id}: training on {backend} ({device})"));
                }
            }
            Event::Progress { step, .. } => b.set_position(*step),
            Event::Metric(row) => {
                b.set_position(row.step);
                let pick = |m: Metric| {
                    domain::metric::get(&row.values, m)
                        .map_or(String::new(), |v| format!("{m} {v:.4}  "))
                };
                b.set_message(format!(
                    "{}{}{}",
                    pick(Metric::TrainLoss),
                    pick(Metric::TestLoss),
                    pick(Metric::TestAcc)
                ));
                if rows {
                    b.println(format!(
                        "epoch {:>8.2}  step {:>8}  {}",
                        row.epoch,
                        row.step,
                        row.values
                            .iter()
                            .map(|(k, v)| format!("{k}={v:.5}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                }
            }
            Event::Checkpoint { .. } => {}
        });
        let status = runs.clone().run_one(id, observer).await?;
        bar.finish_and_clear();
        let msg = runs
            .db()
            .get_run(id)
            .await?
            .and_then(|r| r.message)
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        match status {
            Some(s) => println!("run {id} {}{msg}", s.as_str()),
            None => println!("run {id} was taken by another process"),
        }
        out.push((id, status));
        if runs.is_stopping() {
            break;
        }
    }
    ctrl_c.abort();
    Ok(out)
}

/// Ok when every run completed; else the first that did not, as the error.
fn all_completed(
    ended: &[(i64, Option<domain::wire::RunStatus>)],
    wanted: usize,
) -> Result<(), BoxError> {
    for (id, s) in ended {
        match s {
            Some(domain::wire::RunStatus::Completed) => {}
            Some(s) => return Err(format!("run {id} {}", s.as_str()).into()),
            None => return Err(format!("run {id} was taken by another process").into()),
        }
    }
    if ended.len() < wanted {
        return Err("stopped before every run had trained".into());
    }
    Ok(())
}

/// Trains one run (or one per seed) in this process with a progress bar; the runs are stored
/// like served ones.
pub async fn run(
    settings: Settings,
    spec_path: &Path,
    seeds: Option<&str>,
) -> Result<(), BoxError> {
    let spec: domain::wire::RunSpec = read_spec(spec_path)?;
    let (runs, lab) = headless(&settings).await?;
    let ids = match seeds {
        None => vec![
            lab.create_run(spec)
                .await
                .map_err(|f| refused("run spec", f))?
                .id,
        ],
        Some(list) => {
            let seeds = experiment::parse_points(list).map_err(|e| format!("--seeds: {e}"))?;
            lab.create_replicates(domain::wire::ReplicateRequest { spec, seeds })
                .await
                .map_err(|f| refused("run spec", f))?
                .runs
        }
    };
    let ended = train_here(&runs, &ids, ids.len() == 1).await?;
    all_completed(&ended, ids.len())?;
    println!(
        "{} completed (database {})",
        if ids.len() == 1 {
            "the run"
        } else {
            "every run"
        },
        settings.db_label()
    );
    Ok(())
}

/// Queues a sweep (or more seeds of a stored one), trains every run here, and prints the
/// verdict with its uncertainty.
pub async fn sweep(
    settings: Settings,
    spec_path: Option<&Path>,
    seeds: Option<&str>,
    add_to: Option<i64>,
) -> Result<(), BoxError> {
    let seeds = seeds
        .map(|l| experiment::parse_points(l).map_err(|e| format!("--seeds: {e}")))
        .transpose()?;
    let (runs, lab) = headless(&settings).await?;
    let created = match (add_to, spec_path) {
        (Some(id), _) => {
            let seeds = seeds.ok_or("--add-to needs --seeds")?;
            lab.add_sweep_seeds(id, domain::wire::AddSeeds { seeds })
                .await
                .map_err(|f| refused("seeds", f))?
        }
        (None, Some(path)) => {
            let mut spec: experiment::SweepSpec = read_spec(path)?;
            if let Some(seeds) = seeds {
                spec.seeds = seeds;
            }
            lab.create_sweep(spec)
                .await
                .map_err(|f| refused("sweep spec", f))?
        }
        (None, None) => return Err("give a sweep spec file, or --add-to SWEEP_ID".into()),
    };
    println!(
        "sweep {}: {} runs queued; training them here",
        created.id,
        created.runs.len()
    );
    let ended = train_here(&runs, &created.runs, false).await?;
    let report = lab
        .sweep_summary(created.id)
        .await
        .map_err(|f| f.to_string())?;
    print_report(&report);
    match lab.sweep_prediction(created.id).await {
        Ok(p) => print_prediction(&p),
        Err(f) => println!("\nNo loss-law prediction: {}", f.error),
    }
    all_completed(&ended, created.runs.len())
}

/// Prints a stored sweep's loss-law prediction.
pub async fn predict(settings: Settings, sweep: i64) -> Result<(), BoxError> {
    let (_, lab) = headless(&settings).await?;
    let p = lab
        .sweep_prediction(sweep)
        .await
        .map_err(|f| f.to_string())?;
    print_prediction(&p);
    Ok(())
}

/// Per law: its fitted parameters, and per held-out branch the predicted and measured final
/// losses with their relative errors.
fn print_prediction(p: &domain::prediction::SweepPrediction) {
    let pct = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{:+.2}%", 100.0 * x));
    let abs = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{:.2}%", 100.0 * x));
    for l in &p.laws {
        println!("\n{} — {}", l.label, l.formula);
        if let Some(e) = &l.error {
            println!("  not fitted: {e}");
            continue;
        }
        let params = |m: &std::collections::BTreeMap<String, f64>| {
            m.iter()
                .map(|(k, v)| format!("{k} = {v:.4e}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "  fitted on runs {:?} (k = {} {}); test: {}",
            l.fitted_on,
            l.fitted_k,
            p.unit,
            params(&l.params)
        );
        println!("  train: {}", params(&l.train_params));
        println!(
            "  {:>8}  {:>5}  {:>10}  {:>10}  {:>8}  {:>8}  {:>10}  {:>10}  {:>8}",
            format!("k ({})", p.unit),
            "seeds",
            "test pred",
            "test real",
            "final",
            "curve",
            "train pred",
            "train real",
            "final"
        );
        for b in &l.branches {
            let f = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{x:.5}"));
            println!(
                "  {:>8}  {:>5}  {:>10.5}  {:>10.5}  {:>8}  {:>8}  {:>10}  {:>10}  {:>8}",
                b.k,
                b.n,
                b.predicted_final_test_loss,
                b.actual_final_test_loss,
                pct(Some(b.rel_error)),
                abs(Some(b.curve_rel_error)),
                f(b.predicted_final_train_loss),
                f(b.actual_final_train_loss),
                pct(b.train_rel_error)
            );
        }
        println!(
            "  mean |error|: test final {}, test curve {}, train final {}, train curve {}",
            abs(l.mean_abs_rel_error),
            abs(l.mean_curve_rel_error),
            abs(l.train_mean_abs_rel_error),
            abs(l.train_mean_curve_rel_error)
        );
        if let Some(r) = &l.recommendation {
            println!(
                "  for a budget of {} {}s it recommends {} (predicted test loss {:.5}); \
                 measured best k = {:?}, predicted best k = {:?}, Kendall τ = {:?}",
                r.budget,
                p.unit,
                if r.k >= r.budget {
                    "never decaying".to_owned()
                } else {
                    format!("decaying at {}", r.k)
                },
                r.predicted_final_test_loss,
                l.best_measured_k,
                l.best_predicted_k,
                l.kendall_tau.map(|t| (t * 100.0).round() / 100.0)
            );
        }
        println!("  {}", l.assessment);
    }
    println!("\nHow: {}", p.method);
}

/// The verdict and a table of the final metrics per decay point, with 95% intervals.
fn print_report(report: &domain::wire::SweepReport) {
    let cell = domain::stats::Stat::with_interval;

    println!(
        "\n{:>8}  {:>5}  {:<34}  {:<34}",
        format!("k ({})", report.unit),
        "seeds",
        "final test loss [95% CI]",
        "final test acc % [95% CI]"
    );
    for b in &report.branches {
        println!(
            "{:>8}  {:>5}  {:<34}  {:<34}",
            b.k,
            b.n,
            cell(b.stat(Metric::TestLoss), 1.0, 4),
            cell(b.stat(Metric::TestAcc), 100.0, 2)
        );
    }
    println!("\n{}\n\nHow: {}.", report.conclusion, report.method);
}

fn dataset_kind(name: &str) -> Result<datasets::DatasetKind, BoxError> {
    match name {
        "fashion_mnist" | "fashion-mnist" => Ok(datasets::DatasetKind::FashionMnist),
        "mnist" => Ok(datasets::DatasetKind::Mnist),
        "cifar10" | "cifar-10" => Ok(datasets::DatasetKind::Cifar10),
        other => {
            Err(format!("unknown dataset {other:?}: use fashion_mnist, mnist or cifar10").into())
        }
    }
}

/// The registry's subcommands: `data add`, `data list`, `data rm`.
pub async fn registry(settings: Settings, action: crate::cli::DataAction) -> Result<(), BoxError> {
    use crate::cli::DataAction;
    if matches!(action, DataAction::Fetch { .. } | DataAction::Check { .. }) {
        return data(&settings, action);
    }
    let (runs, lab) = headless(&settings).await?;
    match action {
        DataAction::Add {
            name,
            path,
            held_out,
            resize,
            label_column,
        } => {
            let resize = resize
                .map(|r| {
                    let (w, h) = r
                        .split_once(['x', 'X'])
                        .ok_or("--resize: use WIDTHxHEIGHT, e.g. 32x32")?;
                    Ok::<_, BoxError>((w.trim().parse::<u32>()?, h.trim().parse::<u32>()?))
                })
                .transpose()?;
            let options = crate::registry::RegisterOptions {
                held_out,
                resize,
                label_column,
            };
            let started = std::time::Instant::now();
            let got = runs
                .registry()
                .register(
                    &name,
                    &path,
                    options,
                    &settings.dataset_limits.import,
                    &path.display().to_string(),
                )
                .await?
                .map_err(|errs| {
                    field_errors(&format!("{} was not registered", path.display()), &errs)
                })?;
            let d = &got.info;
            let verb = if got.existed {
                "already registered"
            } else {
                "registered"
            };
            println!(
                "{} {verb} as version {} ({} classes, {} training and {} test examples of {}×{}×{}, {:.1} s)\nhash {}",
                d.name,
                d.version,
                d.class_names.len(),
                d.train_count(),
                d.test_count(),
                d.shape[0],
                d.shape[1],
                d.shape[2],
                started.elapsed().as_secs_f64(),
                d.hash.as_deref().unwrap_or_default()
            );
        }
        DataAction::List => {
            for d in lab.list_datasets().await? {
                println!(
                    "{:<24} v{:<3} {:<9} {}×{}×{} {:>3} classes {:>7} train {:>6} test  {}{}",
                    d.name,
                    d.version,
                    d.kind,
                    d.shape[0],
                    d.shape[1],
                    d.shape[2],
                    d.class_names.len(),
                    d.train_count(),
                    d.test_count(),
                    d.source,
                    if d.available { "" } else { " (not installed)" }
                );
            }
        }
        DataAction::Rm { name } => {
            let gone = lab.delete_dataset(name).await?;
            println!("deleted {} ({} version(s))", gone.name, gone.versions);
        }
        DataAction::Fetch { .. } | DataAction::Check { .. } => {}
    }
    Ok(())
}

pub fn data(settings: &Settings, action: crate::cli::DataAction) -> Result<(), BoxError> {
    use crate::cli::DataAction;
    match action {
        DataAction::Fetch { dataset, url } => {
            if dataset_kind(&dataset)? != datasets::DatasetKind::Cifar10 {
                return Err("only cifar10 is fetched; install Fashion-MNIST with `apt-get install dataset-fashion-mnist`".into());
            }
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{wide_bar} {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .map_err(|e| e.to_string())?,
            );
            let url = url.unwrap_or_else(|| datasets::CIFAR10_URL.to_owned());
            let dir = datasets::fetch_cifar10(&settings.data_dir, &url, |got, total| {
                if let Some(t) = total {
                    bar.set_length(t);
                }
                bar.set_position(got);
            })?;
            bar.finish_and_clear();
            println!(
                "CIFAR-10 verified (SHA-256 {}) and unpacked into {}",
                datasets::CIFAR10_SHA256,
                dir.display()
            );
            Ok(())
        }
        DataAction::Check { dataset, dir } => {
            let kind = dataset_kind(&dataset)?;
            let dir = dir.unwrap_or_else(|| datasets::default_dir(kind, &settings.data_dir));
            let split = datasets::load(kind, &dir)?;
            println!(
                "{}: {} training and {} test images of shape {:?} in {}",
                kind.display_name(),
                split.train.len(),
                split.test.len(),
                split.train.shape,
                dir.display()
            );
            Ok(())
        }
        DataAction::Add { .. } | DataAction::List | DataAction::Rm { .. } => {
            Err("the registry's subcommands run through `commands::registry`".into())
        }
    }
}

pub async fn serve(settings: Settings) -> Result<(), BoxError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
        format!(
            "cannot create data directory {}: {e}",
            settings.data_dir.display()
        )
    })?;
    // Before anything touches the database: a second server must not mark the first's runs.
    let _owner = crate::ownership::claim(&settings.data_dir)?;
    let sqlite = crate::ownership::sqlite_file(settings.database_url.as_deref(), &settings.db_path);
    let _db_file_owner = sqlite
        .as_deref()
        .map(crate::ownership::claim_database)
        .transpose()?;
    crate::ownership::make_private(&settings.data_dir, sqlite.as_deref())
        .map_err(|e| format!("cannot make the data directory private: {e}"))?;
    let db = open_db(&settings).await?;
    // The same for a Postgres database that several data directories might point at.
    let _db_owner = db.claim_ownership().await?;
    let runs = RunService::start_with(
        db,
        settings.data_dir.clone(),
        settings.max_concurrent,
        settings.executor.clone(),
    )
    .await?;
    tracing::info!(
        executor = settings.executor.name().as_str(),
        "runs train through this executor"
    );
    let admin_token = crate::http::auth::token_for(
        settings.addr,
        settings.admin_token.clone(),
        &settings.data_dir,
        settings.private,
    )
    .map_err(|e| format!("cannot create the admin token file: {e}"))?;
    if settings.private {
        tracing::warn!(
            "private mode: every read needs the admin token too; share links stay public"
        );
    } else if admin_token.is_some() {
        tracing::warn!(addr = %settings.addr, "listening beyond loopback: mutating requests need the admin token \
            (ANNEAL_ADMIN_TOKEN, or the admin-token file in the data directory); browsers: GET /login?token=...");
    }
    let landscapes = crate::landscapes::LandscapeService::start(runs.clone(), true).await?;
    let state = AppState {
        lab: crate::service::Service::new(
            runs.clone(),
            landscapes.clone(),
            settings.dataset_limits.clone(),
        ),
        leptos: settings.leptos_options(),
        admin_token: admin_token.map(Into::into),
        private: settings.private,
        hosts: crate::http::auth::Hosts::new(settings.allowed_hosts.clone()),
    };
    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    tracing::info!(addr = %settings.addr, db = %settings.db_label(), "listening");
    // The queues stop first: nothing new starts, running jobs end as interrupted, and the
    // streams that follow them close within seconds, so no viewer holds the shutdown up.
    let stop_jobs = {
        let (runs, landscapes) = (runs.clone(), landscapes.clone());
        async move {
            shutdown_signal().await;
            tracing::info!("shutting down: stopping runs and landscape jobs");
            tokio::join!(landscapes.shutdown(), runs.shutdown());
        }
    };
    crate::http::serve(listener, router(state), stop_jobs).await?;
    // Already stopped: these only make sure, should serving have ended on its own.
    landscapes.shutdown().await;
    runs.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

//! A run's settings as the pages list them under a title: every knob, as (name, value) rows.

use experiment::Experiment;
use leptos::prelude::*;

use domain::wire::RunSummary;

/// What the page lists under the title: every knob of the run, as (name, value).
pub fn config_rows(run: &RunSummary) -> Vec<(&'static str, String)> {
    let mut rows = match &run.spec.experiment {
        Experiment::Toy(t) => vec![
            ("model", "toy y = ‖w‖^γ·wᵀx".to_owned()),
            ("d", t.d.to_string()),
            ("n", t.n.to_string()),
            ("γ", t.gamma.to_string()),
            ("label noise σ", t.label_noise.to_string()),
            ("batch", t.batch.to_string()),
            ("steps", t.steps.to_string()),
        ],
        Experiment::Net(n) => vec![
            // A registered dataset with the version it trained on: its content hash, short.
            (
                "dataset",
                match n.dataset.registered_hash() {
                    Some(h) => format!("{} ({}…)", n.dataset.label(), h.get(..12).unwrap_or(h)),
                    None => n.dataset.label(),
                },
            ),
            (
                "train images",
                n.train_per_class
                    .map_or("all".into(), |k| format!("{k} per class")),
            ),
            ("model", n.model.describe()),
            ("loss", n.loss.describe().to_owned()),
            ("optimizer", n.optimizer.describe()),
            ("batch", n.batch.to_string()),
            ("epochs", n.epochs.to_string()),
        ],
    };
    rows.push(("seed", run.spec.seed.to_string()));
    if let Some(d) = run.spec.data_seed.filter(|&d| d != run.spec.seed) {
        rows.push((
            "data seed",
            format!("{d} (draws the data; shared by the replicates)"),
        ));
    }
    rows.push(("schedule", run.spec.schedule.describe()));
    rows
}

/// The rows of `config_rows` as `<dt>`/`<dd>` pairs, for a `<dl class="config">` (which may
/// list more after them).
pub fn config_list(run: &RunSummary) -> impl IntoView + use<> {
    config_rows(run)
        .into_iter()
        .map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> })
        .collect_view()
}

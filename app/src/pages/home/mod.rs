//! Home: the launch form for a toy-model or network run, the decay-sweep launcher, and the runs.

mod net;
mod presets;
mod sweep;
mod toy;

use domain::wire::FieldError;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use schedule::Schedule;

use crate::api::{CreateReplicates, CreateRun, Refusal, list_runs};
use crate::components::form::{ChoiceField, NumField, answered};
use crate::components::format::format_ms;
use crate::components::schedule_editor::ScheduleEditor;
use domain::wire::RunSummary;
use net::{NetFields, NetForm};
use sweep::SweepLauncher;
use toy::{ToyFields, ToyForm};

/// A count field's value for the schedule editors, or `default` while it is half-typed.
fn whole_or(v: RwSignal<String>, default: u64) -> u64 {
    v.with(|s| s.trim().parse::<u64>().unwrap_or(default))
}

/// The launch form, the sweep launcher that branches off it, and the runs so far.
/// `?experiment=net` opens the form on a network, `?dataset=NAME` on a network trained on that
/// dataset (a dataset's page links here).
#[component]
pub fn HomePage() -> impl IntoView {
    let (experiment, dataset) =
        use_query_map().with_untracked(|q| (q.get("experiment"), q.get("dataset")));
    let form = ToyForm::new();
    let starts_net = experiment.as_deref() == Some("net") || dataset.is_some();
    let net_form = NetForm::new(dataset);
    // "toy" or "net": which experiment the form (and the sweep below it) describes.
    let mode = RwSignal::new(if starts_net { "net" } else { "toy" }.to_owned());
    let is_net = Signal::derive(move || mode.with(|m| m == "net"));
    let net = move || is_net.get().then_some(net_form);
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let schedule = RwSignal::new(None::<Schedule>);
    let (steps_per_epoch, total_steps) = step_counts(form, net_form, is_net);
    let start = ServerAction::<CreateRun>::new();
    let start_many = ServerAction::<CreateReplicates>::new();
    // Empty: one run under the form's seed; a list: one run per seed, on the form seed's data.
    let replicate_seeds = RwSignal::new(String::new());
    // Shared with the sweep launcher: its server failures show under this form too.
    let failure = RwSignal::new(None::<String>);
    open_created(start, start_many, errors, failure);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        failure.set(None);
        let seeds = replicate_seeds.get_untracked();
        match form.to_spec(net(), schedule.get_untracked()) {
            Ok(spec) if seeds.trim().is_empty() => {
                errors.set(Vec::new());
                start.dispatch(CreateRun { spec });
            }
            Ok(spec) => match experiment::parse_points(&seeds) {
                Ok(seeds) => {
                    errors.set(Vec::new());
                    start_many.dispatch(CreateReplicates {
                        req: domain::wire::ReplicateRequest { spec, seeds },
                    });
                }
                Err(message) => errors.set(vec![FieldError {
                    field: "replicate_seeds".into(),
                    message,
                }]),
            },
            Err(es) => errors.set(es),
        }
    };
    let runs = Resource::new(
        move || (start.version().get(), start_many.version().get()),
        |_| list_runs(),
    );

    view! {
        <section class="card launch">
            <h1>"Launch a run · toy model y = ‖w‖" <sup>"γ"</sup> "·wᵀx, or a network"</h1>
            <p class="lede">
                "SGD with label noise drifts along the valley of interpolating solutions toward the "
                "minimum-norm one; a large LR held longer gets closer. Start a run and watch "
                "‖α − α" <sub>"mn"</sub> "‖ fall."
            </p>
            <form id="launch-form" on:submit=on_submit novalidate>
                <div class="grid">
                    <ChoiceField label="experiment" field="mode" value=mode
                        options=&[("toy", "toy model (paper)"), ("net", "network on images")]/>
                </div>
                <Show when=move || is_net.get()>
                    <NetFields net=net_form seed=form.seed errors/>
                </Show>
                <Show when=move || !is_net.get()>
                    <ToyFields form errors/>
                </Show>
                <h2>"Learning-rate schedule"</h2>
                <ScheduleEditor schedule errors total_steps steps_per_epoch whatif=true/>
                <div class="grid">
                    <NumField label="replicate over seeds (optional: a list or start:stop:step, 1–16)" field="replicate_seeds" value=replicate_seeds errors/>
                </div>
                <p class="hint">"With seeds, one run per seed is started on the same data (drawn from the seed above), and the compare view opens on them."</p>
                <button type="submit" id="start" disabled=move || start.pending().get() || start_many.pending().get()>
                    {move || if start.pending().get() { "Starting…" } else { "Start" }}
                </button>
                <Show when=move || failure.get().is_some()>
                    <p class="form-error">{move || failure.get()}</p>
                </Show>
            </form>
        </section>
        <SweepLauncher form net_form is_net schedule errors failure steps_per_epoch/>
        <section class="card">
            <h2>"Runs"</h2>
            <p class="meta"><a href="/compare" id="compare-link">"Compare runs →"</a></p>
            <RunList runs/>
        </section>
    }
}

/// The schedule editors' step scale: steps per epoch and the run's total steps, as the
/// form's fields describe them (half-typed counts read as their defaults).
fn step_counts(
    form: ToyForm,
    net_form: NetForm,
    is_net: Signal<bool>,
) -> (Signal<u64>, Signal<u64>) {
    let steps_per_epoch = Signal::derive(move || {
        if is_net.get() {
            // The count depends on these fields; `NetSpec` knows each dataset's size.
            net_form.dataset.track();
            net_form.catalogue.track();
            net_form.per_class.track();
            net_form.batch.track();
            net_form.to_net(&mut Vec::new()).steps_per_epoch()
        } else {
            whole_or(form.n, 1)
                .div_ceil(whole_or(form.batch, 1).max(1))
                .max(1)
        }
    });
    let total_steps = Signal::derive(move || {
        if is_net.get() {
            whole_or(net_form.epochs, 0) * steps_per_epoch.get()
        } else {
            whole_or(form.steps, 0)
        }
    });
    (steps_per_epoch, total_steps)
}

/// Opens what the launch form created: the run's page, or the compare view on the replicates.
/// Field errors go beside their inputs, any other refusal into `failure`.
fn open_created(
    start: ServerAction<CreateRun>,
    start_many: ServerAction<CreateReplicates>,
    errors: RwSignal<Vec<FieldError>>,
    failure: RwSignal<Option<String>>,
) {
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(result) = start.value().get()
            && let Some(created) = answered(result, |es| errors.set(es), failure)
        {
            navigate(&format!("/runs/{}", created.id), Default::default());
        }
    });
    let navigate_many = use_navigate();
    Effect::new(move |_| {
        if let Some(result) = start_many.value().get()
            && let Some(created) = answered(
                result,
                |es: Vec<FieldError>| errors.set(as_replicate_errors(es)),
                failure,
            )
        {
            let ids: Vec<String> = created.runs.iter().map(i64::to_string).collect();
            navigate_many(
                &format!("/compare?runs={}", ids.join(",")),
                Default::default(),
            );
        }
    });
}

/// The replicate request's field errors as this form names them: the server's seeds field is
/// `seeds`, which on this page is the sweep launcher's; this form's is its own.
fn as_replicate_errors(es: Vec<FieldError>) -> Vec<FieldError> {
    es.into_iter()
        .map(|mut e| {
            if e.field == "seeds" {
                e.field = "replicate_seeds".into();
            }
            e
        })
        .collect()
}

/// The runs so far, newest first, each linked to its page.
#[component]
fn RunList(runs: Resource<Result<Vec<RunSummary>, Refusal>>) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p>"Loading runs…"</p> }>
            {move || Suspend::new(async move {
                match runs.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No runs yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="runs" id="runs">
                            <thead><tr><th>"#"</th><th>"run"</th><th>"status"</th><th>"created"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|r| view! {
                                    <tr>
                                        <td>{r.id}</td>
                                        <td><a href=format!("/runs/{}", r.id)>{r.spec.schedule.describe()}</a></td>
                                        <td><span class=format!("status {}", r.status.as_str())>{r.status.as_str()}</span></td>
                                        <td>{format_ms(r.created_at_ms)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

//! The decay-sweep launcher: decay points, branch length, the branches' schedule, and launching.

use domain::wire::FieldError;
use experiment::{RunSpec, SweepSpec, parse_points};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use schedule::Schedule;

use super::net::NetForm;
use super::presets::Presets;
use super::toy::ToyForm;
use super::whole_or;
use crate::api::{CreateSweep, list_sweeps};
use crate::components::form::{NumField, answered};
use crate::components::format::format_ms;
use crate::components::schedule_editor::ScheduleEditor;

/// The sweep's own inputs (the main path is the launch form above).
#[derive(Clone, Copy)]
struct BranchFields {
    at: RwSignal<String>,
    len: RwSignal<String>,
    seeds: RwSignal<String>,
    sf_baseline: RwSignal<bool>,
}

impl BranchFields {
    /// The sweep the fields describe around `main` and the branches' schedule `after`, or
    /// every problem found, keyed as the server keys them. `main` is None when the launch form
    /// has problems of its own (shown there): then there is no sweep, and the sweep's own
    /// messages stay as they were unless its branches' schedule is unusable.
    fn to_spec(
        self,
        main: Option<RunSpec>,
        after: Option<Schedule>,
        is_net: bool,
    ) -> Result<Option<SweepSpec>, Vec<FieldError>> {
        let mut errs = Vec::new();
        let branch_at = parse_points(&self.at.get_untracked()).unwrap_or_else(|message| {
            errs.push(FieldError {
                field: experiment::fields::sweep::BRANCH_AT.into(),
                message,
            });
            Vec::new()
        });
        let branch_length: u64 = self.len.get_untracked().trim().parse().unwrap_or_else(|_| {
            errs.push(FieldError {
                field: "branch_length".into(),
                message: "must be a whole number of steps".into(),
            });
            0
        });
        let seeds = parse_points(&self.seeds.get_untracked()).unwrap_or_else(|message| {
            errs.push(FieldError {
                field: experiment::fields::SEEDS.into(),
                message,
            });
            Vec::new()
        });
        let Some(after) = after else {
            errs.push(FieldError {
                field: "after".into(),
                message: "fix the branches' schedule first".into(),
            });
            return Err(errs);
        };
        let Some(main) = main else {
            return Ok(None);
        };
        let spec = SweepSpec {
            name: if is_net {
                "network sweep".into()
            } else {
                "toy sweep".into()
            },
            main,
            branch_at,
            after,
            branch_length,
            seeds,
            schedule_free_baseline: is_net && self.sf_baseline.get_untracked(),
        };
        if let Err(es) = spec.validate() {
            errs.extend(es);
        }
        if errs.is_empty() {
            Ok(Some(spec))
        } else {
            Err(errs)
        }
    }
}

/// The sweep card. The launch form above is the main path, so its signals come in as props;
/// a refusal the branches' fields can't show goes to the form's `failure`.
#[component]
pub(super) fn SweepLauncher(
    form: ToyForm,
    net_form: NetForm,
    is_net: Signal<bool>,
    schedule: RwSignal<Option<Schedule>>,
    errors: RwSignal<Vec<FieldError>>,
    failure: RwSignal<Option<String>>,
    steps_per_epoch: Signal<u64>,
) -> impl IntoView {
    let net = move || is_net.get().then_some(net_form);
    let fields = BranchFields {
        at: RwSignal::new("1000, 5000, 20000, 40000".to_owned()),
        len: RwSignal::new("10000".to_owned()),
        seeds: RwSignal::new("0".to_owned()),
        sf_baseline: RwSignal::new(false),
    };
    // The seeds field as the presets use it; an unreadable field leaves a preset as it stands.
    let seeds_for_presets =
        Signal::derive(move || parse_points(&fields.seeds.get()).unwrap_or_default());
    // The schedule every branch follows from its decay point on (its clock starts at k).
    let after = RwSignal::new(None::<Schedule>);
    let after_errors = RwSignal::new(Vec::<FieldError>::new());
    let after_steps = Signal::derive(move || {
        let len = whole_or(fields.len, 0);
        if is_net.get() {
            len * steps_per_epoch.get()
        } else {
            len
        }
    });
    let sweep_errors = RwSignal::new(Vec::<FieldError>::new());
    unit_defaults(fields, is_net);
    let start_sweep = ServerAction::<CreateSweep>::new();
    let navigate_sweep = use_navigate();
    Effect::new(move |_| {
        let Some(result) = start_sweep.value().get() else {
            return;
        };
        let show = |es: Vec<FieldError>| {
            after_errors.set(es.clone());
            sweep_errors.set(es);
        };
        if let Some(created) = answered(result, show, failure) {
            navigate_sweep(&format!("/sweeps/{}", created.id), Default::default());
        }
    });
    let launch_sweep = move |_| {
        let main = form
            .to_spec(net(), schedule.get_untracked())
            .map_err(|es| errors.set(es))
            .ok();
        match fields.to_spec(main, after.get_untracked(), is_net.get_untracked()) {
            Ok(Some(spec)) => {
                sweep_errors.set(Vec::new());
                start_sweep.dispatch(CreateSweep { spec });
            }
            Ok(None) => {}
            Err(errs) => sweep_errors.set(errs),
        }
    };

    view! {
        <section class="card sweep-launch">
            <h2>"Decay sweep"</h2>
            <p class="lede">
                "The run above, at its constant LR, is the main path. Each branch follows it up to step k, "
                "then follows the branches' schedule below (its clock starts at k) for the branch length. The sweep page plots final test loss "
                "and ‖α − α" <sub>"mn"</sub> "‖ against k."
            </p>
            <BranchInputs fields errors=sweep_errors is_net/>
            <h2>"Branches' schedule after k"</h2>
            <ScheduleEditor schedule=after errors=after_errors total_steps=after_steps steps_per_epoch
                id_prefix="after-" error_key="after" preview_div="after-lr-preview" initial_lr="0.005"/>
            <Show when=move || sweep_errors.with(|es| es.iter().any(|e| ![experiment::fields::sweep::BRANCH_AT, experiment::fields::sweep::BRANCH_LENGTH, experiment::fields::SEEDS].contains(&e.field.as_str())))>
                <p class="form-error" id="sweep-errors">
                    {move || sweep_errors.get().iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")}
                </p>
            </Show>
            <button type="button" id="start-sweep" on:click=launch_sweep disabled=move || start_sweep.pending().get()>"Launch sweep"</button>
            " "
            <Presets start_sweep seeds=seeds_for_presets/>
            <SweepList/>
        </section>
    }
}

/// Decay points are steps for the toy model and epochs for networks: switching the form's
/// experiment puts sensible defaults for its unit in the decay points and branch length.
fn unit_defaults(fields: BranchFields, is_net: Signal<bool>) {
    Effect::new(move |prev: Option<bool>| {
        let net_now = is_net.get();
        if prev.is_some_and(|p| p != net_now) {
            let (at, len) = if net_now {
                ("5, 15, 30, 45, 60", "15")
            } else {
                ("1000, 5000, 20000, 40000", "10000")
            };
            fields.at.set(at.into());
            fields.len.set(len.into());
        }
        net_now
    });
}

/// The sweep's own inputs: decay points, branch length, seeds, and (networks) the
/// schedule-free baseline.
#[component]
fn BranchInputs(
    fields: BranchFields,
    errors: RwSignal<Vec<FieldError>>,
    is_net: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="grid">
            <NumField label="decay points k₁, k₂, … or start:stop:step (steps; epochs for networks)" field=experiment::fields::sweep::BRANCH_AT value=fields.at errors/>
            <NumField label="branch length (same unit)" field=experiment::fields::sweep::BRANCH_LENGTH value=fields.len errors/>
            <NumField label="training seeds (1–16: a list or start:stop:step)" field=experiment::fields::SEEDS value=fields.seeds errors/>
        </div>
        <Show when=move || is_net.get()>
            <label class="field inline" for="f-schedule_free_baseline">
                <span class="label">"add a schedule-free baseline"</span>
                <input id="f-schedule_free_baseline" type="checkbox" prop:checked=move || fields.sf_baseline.get()
                    on:change=move |ev| fields.sf_baseline.set(event_target_checked(&ev))/>
                <span class="hint">"Per seed, one more run that never decays: the main path's optimizer in its schedule-free form (Defazio et al. 2024), at the main LR, as long as the longest branch; evaluated at its averaged weights."</span>
            </label>
        </Show>
        <p class="hint" id="seeds-hint">
            "Each seed trains its own main path and branches, and sets the initialisation, the data order, "
            "augmentation, dropout and (toy model) the label noise. The data itself (the training subset; the toy "
            "model's samples) comes from the run's seed above, the same for every replicate, so replicates measure "
            "training noise. With two or more seeds the verdict compares decay points within each seed and gives "
            "95% intervals."
        </p>
    }
}

/// The sweeps so far, each linked to its page.
#[component]
fn SweepList() -> impl IntoView {
    let sweeps = Resource::new(|| (), |_| list_sweeps());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let list = sweeps.await.unwrap_or_default();
                (!list.is_empty()).then(|| view! {
                    <ul class="sweeps" id="sweeps">
                        {list.into_iter().map(|s| view! {
                            <li><a href=format!("/sweeps/{}", s.id)>{format!("sweep {} · {}", s.id, s.name)}</a>" · "{format_ms(s.created_at_ms)}</li>
                        }).collect_view()}
                    </ul>
                })
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::parse_points;

    #[test]
    fn decay_points_take_lists_and_ranges() {
        assert_eq!(parse_points("5, 15,30"), Ok(vec![5, 15, 30]));
        assert_eq!(parse_points("10:40:10, 55"), Ok(vec![10, 20, 30, 40, 55]));
        assert!(parse_points("1.5").is_err());
        assert!(parse_points("10:5:1").is_err());
        assert!(parse_points("1:2:0").is_err());
    }
}

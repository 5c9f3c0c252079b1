//! The toy model's half of the launch form, and the `RunSpec` the whole form describes.

use domain::wire::FieldError;
use experiment::{BackendChoice, Experiment, RunSpec, ToySpec};
use leptos::prelude::*;
use schedule::Schedule;

use super::net::NetForm;
use crate::components::form::NumField;

/// The toy model's inputs, plus the seed both experiments share.
#[derive(Clone, Copy)]
pub(super) struct ToyForm {
    d: RwSignal<String>,
    pub(super) n: RwSignal<String>,
    gamma: RwSignal<String>,
    noise: RwSignal<String>,
    pub(super) batch: RwSignal<String>,
    pub(super) steps: RwSignal<String>,
    pub(super) seed: RwSignal<String>,
}

impl ToyForm {
    pub(super) fn new() -> Self {
        let t = ToySpec::paper_default();
        let s = |v: String| RwSignal::new(v);
        Self {
            d: s(t.d.to_string()),
            n: s(t.n.to_string()),
            gamma: s(t.gamma.to_string()),
            noise: s(t.label_noise.to_string()),
            batch: s(t.batch.to_string()),
            steps: s(t.steps.to_string()),
            seed: s("0".into()),
        }
    }

    /// The spec the form describes, or the fields that don't parse or validate.
    pub(super) fn to_spec(
        self,
        net: Option<NetForm>,
        schedule: Option<Schedule>,
    ) -> Result<RunSpec, Vec<FieldError>> {
        let mut errs = Vec::new();
        fn num<T: std::str::FromStr + Default>(
            v: &RwSignal<String>,
            field: &str,
            errs: &mut Vec<FieldError>,
        ) -> T {
            v.get_untracked().trim().parse().unwrap_or_else(|_| {
                errs.push(FieldError {
                    field: field.into(),
                    message: "must be a number".into(),
                });
                T::default()
            })
        }
        let toy = ToySpec {
            d: num(&self.d, "experiment.d", &mut errs),
            n: num(&self.n, "experiment.n", &mut errs),
            gamma: num(&self.gamma, "experiment.gamma", &mut errs),
            label_noise: num(&self.noise, "experiment.label_noise", &mut errs),
            batch: num(&self.batch, "experiment.batch", &mut errs),
            steps: num(&self.steps, "experiment.steps", &mut errs),
            ..ToySpec::paper_default()
        };
        let seed: u64 = num(&self.seed, "seed", &mut errs);
        let Some(schedule) = schedule else {
            errs.push(FieldError {
                field: "schedule".into(),
                message: "fix the schedule first".into(),
            });
            return Err(errs);
        };
        let backend = net.map_or(BackendChoice::Cpu, NetForm::backend);
        let experiment = match net {
            Some(n) => Experiment::Net(n.to_net(&mut errs)),
            None => Experiment::Toy(toy),
        };
        let spec = RunSpec {
            name: String::new(),
            experiment,
            schedule,
            seed,
            data_seed: None,
            backend,
        };
        if let Err(more) = spec.validate() {
            // A field that didn't parse already has the clearer message.
            errs.extend(more.into_iter().filter(|e| !e.field.is_empty()));
        }
        let mut seen = std::collections::HashSet::new();
        errs.retain(|e| seen.insert(e.field.clone()));
        if errs.is_empty() { Ok(spec) } else { Err(errs) }
    }
}

/// The toy model's inputs.
#[component]
pub(super) fn ToyFields(form: ToyForm, errors: RwSignal<Vec<FieldError>>) -> impl IntoView {
    view! {
        <div class="grid">
            <NumField label="d (input dim)" field=experiment::fields::toy::D value=form.d errors/>
            <NumField label="n (samples, < d)" field=experiment::fields::toy::N value=form.n errors/>
            <NumField label="γ" field=experiment::fields::toy::GAMMA value=form.gamma errors/>
            <NumField label="label noise σ" field=experiment::fields::toy::LABEL_NOISE value=form.noise errors/>
            <NumField label="batch" field=experiment::fields::toy::BATCH value=form.batch errors/>
            <NumField label="steps" field=experiment::fields::toy::STEPS value=form.steps errors/>
            <NumField label="seed" field=experiment::fields::SEED value=form.seed errors/>
        </div>
    }
}

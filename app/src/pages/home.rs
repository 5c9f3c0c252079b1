//! Home: the launch form for a toy-model run, and the list of runs.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use schedule::Schedule;
use spec::{
    BackendChoice, DatasetChoice, Experiment, LossKind, ModelSpec, NetSpec, OptimizerSpec, RunSpec,
    SweepSpec, ToySpec, VggWidth,
};

use super::schedule_editor::ScheduleEditor;
use super::{FieldMessage, format_ms};
use crate::api::{StartRun, StartSweep, list_runs, list_sweeps};
use crate::wire::{FieldError, StartReply};

/// One numeric input, bound to a string signal so half-typed values survive.
#[component]
fn NumField(
    label: &'static str,
    field: &'static str,
    value: RwSignal<String>,
    errors: RwSignal<Vec<FieldError>>,
    #[prop(optional)] hint: &'static str,
) -> impl IntoView {
    let id = format!("f-{}", field.replace('.', "-"));
    let invalid = move || errors.with(|es| es.iter().any(|e| e.field == field));
    let label_for = id.clone();
    view! {
        <label class="field" for=label_for>
            <span class="label">{label}</span>
            <input
                id=id
                name=field
                type="text"
                inputmode="decimal"
                class:invalid=invalid
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            <span class="hint">{hint}</span>
            <FieldMessage errors field/>
        </label>
    }
}

/// A select whose options are (value, label) pairs, bound to a string signal.
#[component]
fn ChoiceField(
    label: &'static str,
    field: &'static str,
    value: RwSignal<String>,
    options: &'static [(&'static str, &'static str)],
) -> impl IntoView {
    let id = format!("f-{}", field.replace('.', "-"));
    let label_for = id.clone();
    view! {
        <label class="field" for=label_for>
            <span class="label">{label}</span>
            <select id=id name=field on:change=move |ev| value.set(event_target_value(&ev)) prop:value=move || value.get()>
                {options.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
            </select>
        </label>
    }
}

/// The network half of the launch form (dataset, model, loss, optimizer, batch, epochs).
#[derive(Clone, Copy)]
struct NetForm {
    dataset: RwSignal<String>,
    per_class: RwSignal<String>,
    model: RwSignal<String>,
    hidden: RwSignal<String>,
    loss: RwSignal<String>,
    optimizer: RwSignal<String>,
    momentum: RwSignal<String>,
    weight_decay: RwSignal<String>,
    batch: RwSignal<String>,
    epochs: RwSignal<String>,
}

impl NetForm {
    fn new() -> Self {
        let s = |v: &str| RwSignal::new(v.to_owned());
        // The Fashion-MNIST preset's settings: a subset small enough to interpolate on CPU.
        Self {
            dataset: s("fashion_mnist"),
            per_class: s("200"),
            model: s("mlp"),
            hidden: s("512, 512"),
            loss: s("mse"),
            optimizer: s("sgd"),
            momentum: s("0.9"),
            weight_decay: s("0.0001"),
            batch: s("25"),
            epochs: s("60"),
        }
    }

    fn to_net(self, errs: &mut Vec<FieldError>) -> NetSpec {
        let p = "experiment.";
        let dataset = match self.dataset.get_untracked().as_str() {
            "mnist" => DatasetChoice::Mnist,
            "cifar10" => DatasetChoice::Cifar10,
            _ => DatasetChoice::FashionMnist,
        };
        let per_class = self.per_class.get_untracked();
        let train_per_class = if per_class.trim().is_empty() {
            None
        } else {
            Some(per_class.trim().parse().unwrap_or_else(|_| {
                errs.push(FieldError {
                    field: format!("{p}train_per_class"),
                    message: "must be a whole number (or empty for all)".into(),
                });
                0
            }))
        };
        let hidden: Vec<u32> = self
            .hidden
            .get_untracked()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter_map(|s| {
                s.parse()
                    .map_err(|_| {
                        errs.push(FieldError {
                            field: format!("{p}model.hidden"),
                            message: "widths are whole numbers separated by commas".into(),
                        })
                    })
                    .ok()
            })
            .collect();
        let model = match self.model.get_untracked().as_str() {
            "small_cnn" => ModelSpec::SmallCnn,
            "vgg11_narrow" => ModelSpec::Vgg11 {
                width: VggWidth::Narrow,
                batch_norm: false,
            },
            "vgg11_standard_bn" => ModelSpec::Vgg11 {
                width: VggWidth::Standard,
                batch_norm: true,
            },
            _ => ModelSpec::Mlp { hidden },
        };
        let real = |v: RwSignal<String>, f: &str, errs: &mut Vec<FieldError>| -> f64 {
            v.get_untracked().trim().parse().unwrap_or_else(|_| {
                errs.push(FieldError {
                    field: format!("{p}{f}"),
                    message: "must be a number".into(),
                });
                0.0
            })
        };
        let weight_decay = real(self.weight_decay, "optimizer.weight_decay", errs);
        let optimizer = if self.optimizer.get_untracked() == "adam_w" {
            OptimizerSpec::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay,
            }
        } else {
            OptimizerSpec::Sgd {
                momentum: real(self.momentum, "optimizer.momentum", errs),
                nesterov: false,
                weight_decay,
            }
        };
        let whole = |v: RwSignal<String>, f: &str, errs: &mut Vec<FieldError>| -> u32 {
            v.get_untracked().trim().parse().unwrap_or_else(|_| {
                errs.push(FieldError {
                    field: format!("{p}{f}"),
                    message: "must be a whole number".into(),
                });
                0
            })
        };
        NetSpec {
            dataset,
            data_dir: None,
            train_per_class,
            test_limit: None,
            augment: dataset == DatasetChoice::Cifar10,
            model,
            loss: if self.loss.get_untracked() == "cross_entropy" {
                LossKind::CrossEntropy
            } else {
                LossKind::Mse
            },
            optimizer,
            batch: whole(self.batch, "batch", errs),
            epochs: whole(self.epochs, "epochs", errs),
            checkpoint_every: 1,
        }
    }
}

#[derive(Clone, Copy)]
struct ToyForm {
    d: RwSignal<String>,
    n: RwSignal<String>,
    gamma: RwSignal<String>,
    noise: RwSignal<String>,
    batch: RwSignal<String>,
    steps: RwSignal<String>,
    seed: RwSignal<String>,
}

impl ToyForm {
    fn new() -> Self {
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
    fn to_spec(
        &self,
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
        let experiment = match net {
            Some(n) => Experiment::Net(n.to_net(&mut errs)),
            None => Experiment::Toy(toy),
        };
        let spec = RunSpec {
            name: String::new(),
            experiment,
            schedule,
            seed,
            backend: BackendChoice::Cpu,
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

/// Decay points as a list ("5, 15, 30") and/or ranges ("10:60:10" = 10, 20, …, 60).
fn parse_points(text: &str) -> Result<Vec<u64>, String> {
    let bad = || "give whole numbers separated by commas, or a range start:stop:step".to_owned();
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let nums: Vec<u64> = part
            .split(':')
            .map(|n| n.trim().parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        match nums[..] {
            [k] => out.push(k),
            [a, b, step] if step > 0 && a <= b && (b - a) / step < 1000 => {
                out.extend((a..=b).step_by(step as usize))
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

#[component]
pub fn HomePage() -> impl IntoView {
    let form = ToyForm::new();
    let net_form = NetForm::new();
    // "toy" or "net": which experiment the form (and the sweep below it) describes.
    let mode = RwSignal::new("toy".to_owned());
    let is_net = move || mode.with(|m| m == "net");
    let net = move || is_net().then_some(net_form);
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let schedule = RwSignal::new(None::<Schedule>);
    let parse =
        |v: RwSignal<String>, default: u64| v.with(|s| s.trim().parse::<u64>().unwrap_or(default));
    let steps_per_epoch = Signal::derive(move || {
        if is_net() {
            let images = if net_form.per_class.with(|s| s.trim().is_empty()) {
                60_000
            } else {
                parse(net_form.per_class, 1) * 10
            };
            images.div_ceil(parse(net_form.batch, 1).max(1)).max(1)
        } else {
            parse(form.n, 1)
                .div_ceil(parse(form.batch, 1).max(1))
                .max(1)
        }
    });
    let total_steps = Signal::derive(move || {
        if is_net() {
            parse(net_form.epochs, 0) * steps_per_epoch.get()
        } else {
            parse(form.steps, 0)
        }
    });
    let start = ServerAction::<StartRun>::new();
    let failure = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(result) = start.value().get() {
            match result {
                Ok(StartReply::Created { id }) => {
                    navigate(&format!("/runs/{id}"), Default::default())
                }
                Ok(StartReply::Invalid { errors: es }) => errors.set(es),
                Err(e) => failure.set(Some(e.to_string())),
            }
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        failure.set(None);
        match form.to_spec(net(), schedule.get_untracked()) {
            Ok(spec) => {
                errors.set(Vec::new());
                start.dispatch(StartRun { spec });
            }
            Err(es) => errors.set(es),
        }
    };
    let runs = Resource::new(move || start.version().get(), |_| list_runs());
    let sweeps = Resource::new(|| (), |_| list_sweeps());

    // The decay sweep: the form above is the main path; branches decay at each k.
    let sweep_at = RwSignal::new("1000, 5000, 20000, 40000".to_owned());
    let sweep_len = RwSignal::new("10000".to_owned());
    // The schedule every branch follows from its decay point on (its clock starts at k).
    let after = RwSignal::new(None::<Schedule>);
    let after_errors = RwSignal::new(Vec::<FieldError>::new());
    let after_steps = Signal::derive(move || {
        let len = parse(sweep_len, 0);
        if is_net() {
            len * steps_per_epoch.get()
        } else {
            len
        }
    });
    let sweep_errors = RwSignal::new(Vec::<FieldError>::new());
    // Decay points are steps for the toy model and epochs for networks: sensible defaults for each.
    Effect::new(move |prev: Option<bool>| {
        let net_now = is_net();
        if prev.is_some_and(|p| p != net_now) {
            let (at, len) = if net_now {
                ("5, 15, 30, 45, 60", "15")
            } else {
                ("1000, 5000, 20000, 40000", "10000")
            };
            sweep_at.set(at.into());
            sweep_len.set(len.into());
        }
        net_now
    });
    let start_sweep = ServerAction::<StartSweep>::new();
    let navigate_sweep = use_navigate();
    Effect::new(move |_| {
        if let Some(result) = start_sweep.value().get() {
            match result {
                Ok(StartReply::Created { id }) => {
                    navigate_sweep(&format!("/sweeps/{id}"), Default::default())
                }
                Ok(StartReply::Invalid { errors: es }) => {
                    after_errors.set(es.clone());
                    sweep_errors.set(es);
                }
                Err(e) => failure.set(Some(e.to_string())),
            }
        }
    });
    let launch_sweep = move |_| {
        let mut errs = Vec::new();
        let main = match form.to_spec(net(), schedule.get_untracked()) {
            Ok(s) => Some(s),
            Err(es) => {
                errors.set(es);
                None
            }
        };
        let branch_at = parse_points(&sweep_at.get_untracked()).unwrap_or_else(|message| {
            errs.push(FieldError {
                field: "branch_at".into(),
                message,
            });
            Vec::new()
        });
        let branch_length: u64 = sweep_len
            .get_untracked()
            .trim()
            .parse()
            .unwrap_or_else(|_| {
                errs.push(FieldError {
                    field: "branch_length".into(),
                    message: "must be a whole number of steps".into(),
                });
                0
            });
        let Some(after_schedule) = after.get_untracked() else {
            errs.push(FieldError {
                field: "after".into(),
                message: "fix the branches' schedule first".into(),
            });
            return sweep_errors.set(errs);
        };
        let Some(main) = main else { return };
        let spec = SweepSpec {
            name: if is_net() {
                "network sweep".into()
            } else {
                "toy sweep".into()
            },
            main,
            branch_at,
            after: after_schedule,
            branch_length,
        };
        if let Err(es) = spec.validate() {
            errs.extend(es);
        }
        if errs.is_empty() {
            sweep_errors.set(Vec::new());
            start_sweep.dispatch(StartSweep { spec });
        } else {
            sweep_errors.set(errs);
        }
    };

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
                <Show when=is_net>
                    <div class="grid" id="net-fields">
                        <ChoiceField label="dataset" field="experiment.dataset" value=net_form.dataset
                            options=&[("fashion_mnist", "Fashion-MNIST"), ("mnist", "MNIST"), ("cifar10", "CIFAR-10")]/>
                        <NumField label="images per class (empty: all)" field="experiment.train_per_class" value=net_form.per_class errors/>
                        <ChoiceField label="model" field="experiment.model" value=net_form.model
                            options=&[("mlp", "MLP"), ("small_cnn", "small CNN"), ("vgg11_narrow", "VGG-11 narrow (paper)"), ("vgg11_standard_bn", "VGG-11 standard + BN")]/>
                        <NumField label="MLP hidden widths" field="experiment.model.hidden" value=net_form.hidden errors/>
                        <ChoiceField label="loss" field="experiment.loss" value=net_form.loss
                            options=&[("mse", "MSE on one-hot (paper)"), ("cross_entropy", "cross-entropy")]/>
                        <ChoiceField label="optimizer" field="experiment.optimizer" value=net_form.optimizer
                            options=&[("sgd", "SGD + momentum"), ("adam_w", "AdamW")]/>
                        <NumField label="momentum" field="experiment.optimizer.momentum" value=net_form.momentum errors/>
                        <NumField label="weight decay" field="experiment.optimizer.weight_decay" value=net_form.weight_decay errors/>
                        <NumField label="batch" field="experiment.batch" value=net_form.batch errors/>
                        <NumField label="epochs" field="experiment.epochs" value=net_form.epochs errors/>
                        <NumField label="seed" field="seed" value=form.seed errors/>
                    </div>
                    <Show when=move || errors.with(|es| es.iter().any(|e| e.field == "experiment.dataset" || e.field == "backend"))>
                        <p class="form-error" id="net-errors">
                            {move || errors.get().iter().filter(|e| e.field == "experiment.dataset" || e.field == "backend").map(|e| e.message.clone()).collect::<Vec<_>>().join(" ")}
                        </p>
                    </Show>
                </Show>
                <Show when=move || !is_net()>
                <div class="grid">
                    <NumField label="d (input dim)" field="experiment.d" value=form.d errors/>
                    <NumField label="n (samples, < d)" field="experiment.n" value=form.n errors/>
                    <NumField label="γ" field="experiment.gamma" value=form.gamma errors/>
                    <NumField label="label noise σ" field="experiment.label_noise" value=form.noise errors/>
                    <NumField label="batch" field="experiment.batch" value=form.batch errors/>
                    <NumField label="steps" field="experiment.steps" value=form.steps errors/>
                    <NumField label="seed" field="seed" value=form.seed errors/>
                </div>
                </Show>
                <h2>"Learning-rate schedule"</h2>
                <ScheduleEditor schedule errors total_steps steps_per_epoch/>
                <button type="submit" id="start" disabled=move || start.pending().get()>
                    {move || if start.pending().get() { "Starting…" } else { "Start" }}
                </button>
                <Show when=move || failure.get().is_some()>
                    <p class="form-error">{move || failure.get()}</p>
                </Show>
            </form>
        </section>
        <section class="card sweep-launch">
            <h2>"Decay sweep"</h2>
            <p class="lede">
                "The run above, at its constant LR, is the main path. Each branch follows it up to step k, "
                "then follows the branches' schedule below (its clock starts at k) for the branch length. The sweep page plots final test loss "
                "and ‖α − α" <sub>"mn"</sub> "‖ against k."
            </p>
            <div class="grid">
                <NumField label="decay points k₁, k₂, … or start:stop:step (steps; epochs for networks)" field="branch_at" value=sweep_at errors=sweep_errors/>
                <NumField label="branch length (same unit)" field="branch_length" value=sweep_len errors=sweep_errors/>
            </div>
            <h2>"Branches' schedule after k"</h2>
            <ScheduleEditor schedule=after errors=after_errors total_steps=after_steps steps_per_epoch
                id_prefix="after-" error_key="after" preview_div="after-lr-preview" initial_lr="0.005"/>
            <Show when=move || sweep_errors.with(|es| es.iter().any(|e| !["branch_at", "branch_length"].contains(&e.field.as_str())))>
                <p class="form-error" id="sweep-errors">
                    {move || sweep_errors.get().iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")}
                </p>
            </Show>
            <button type="button" id="start-sweep" on:click=launch_sweep disabled=move || start_sweep.pending().get()>"Launch sweep"</button>
            " "
            <button type="button" class="secondary" id="preset-toy"
                on:click=move |_| { start_sweep.dispatch(StartSweep { spec: SweepSpec::toy_paper() }); }>
                "Preset: paper's toy regime (4 branches)"
            </button>
            " "
            <button type="button" class="secondary" id="preset-fashion"
                on:click=move |_| { start_sweep.dispatch(StartSweep { spec: SweepSpec::fashion_cpu() }); }>
                "Preset: Fashion-MNIST on CPU (~2 min)"
            </button>
            " "
            <button type="button" class="secondary" id="preset-cifar"
                on:click=move |_| { start_sweep.dispatch(StartSweep { spec: SweepSpec::paper_cifar_gpu() }); }>
                "Preset: paper's VGG-11 / CIFAR-10 (GPU)"
            </button>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = sweeps.await.unwrap_or_default();
                    (!list.is_empty()).then(|| view! {
                        <ul class="sweeps" id="sweeps">
                            {list.into_iter().map(|(id, name, at)| view! {
                                <li><a href=format!("/sweeps/{id}")>{format!("sweep {id} · {name}")}</a>" · "{format_ms(at)}</li>
                            }).collect_view()}
                        </ul>
                    })
                })}
            </Suspense>
        </section>
        <section class="card">
            <h2>"Runs"</h2>
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
        </section>
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

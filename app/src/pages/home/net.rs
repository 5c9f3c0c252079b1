//! The network half of the launch form: its signals, the `NetSpec` they describe, and its fields.

use domain::wire::{DatasetInfo, FieldError};
use experiment::{
    BackendChoice, DatasetChoice, DatasetFacts, LossKind, ModelSpec, NetSpec, OptimizerSpec,
    VggWidth,
};
use leptos::prelude::*;

use crate::api::{Refusal, list_datasets};
use crate::components::dataset;
use crate::components::form::{ChoiceField, NumField, SelectField};
use crate::components::model_editor::{LayerDraft, ModelEditor};

/// The model select's value for a layer list from the editor.
const LAYERS: &str = "layers";

/// The built-in model a select value names (an MLP of `hidden` for anything else).
fn builtin_model(name: &str, hidden: Vec<u32>) -> ModelSpec {
    match name {
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
    }
}

/// Whether a run on `dataset` trains with random crops and horizontal flips. CIFAR-10 does, as
/// in the paper's recipe. A registered dataset does when it holds colour images (C = 3): the
/// natural photographs crops and flips suit. Grayscale images (digits, glyphs, scans, where a
/// mirror image can be another class) and feature vectors (which cannot be cropped) train on
/// the data as given, as the built-in MNIST and Fashion-MNIST do.
pub(super) fn augments(dataset: &DatasetChoice) -> bool {
    match dataset {
        DatasetChoice::Cifar10 => true,
        DatasetChoice::Registered(r) => r
            .facts
            .as_ref()
            .is_some_and(|f| f.images && f.shape[0] == 3),
        DatasetChoice::FashionMnist | DatasetChoice::Mnist => false,
    }
}

/// The fields that name the dataset but have no input of their own: their messages show
/// under the network's fields.
const DATASET_FIELDS: [&str; 5] = [
    experiment::fields::net::DATASET,
    experiment::fields::net::DATASET_NAME,
    experiment::fields::net::DATASET_HASH,
    experiment::fields::net::AUGMENT,
    "backend",
];

/// The network half of the launch form (dataset, model, loss, optimizer, batch, epochs).
#[derive(Clone, Copy)]
pub(super) struct NetForm {
    /// The chosen dataset's name: a built-in one's (`fashion_mnist`) or a registered one's.
    pub(super) dataset: RwSignal<String>,
    /// Every dataset the server lists; a registered choice takes its hash and facts from here.
    pub(super) catalogue: Resource<Result<Vec<DatasetInfo>, Refusal>>,
    pub(super) per_class: RwSignal<String>,
    model: RwSignal<String>,
    hidden: RwSignal<String>,
    /// The layer list the editor holds, submitted while the model select says `layers`.
    layers: LayerDraft,
    loss: RwSignal<String>,
    optimizer: RwSignal<String>,
    momentum: RwSignal<String>,
    weight_decay: RwSignal<String>,
    pub(super) batch: RwSignal<String>,
    pub(super) epochs: RwSignal<String>,
    /// Where it trains: `cpu`, `auto`, `cuda` or `wgpu` (the server refuses what it lacks).
    backend: RwSignal<String>,
}

impl NetForm {
    /// The form with the Fashion-MNIST preset's settings, on `dataset` when given (a link from
    /// a dataset's page) and Fashion-MNIST otherwise.
    pub(super) fn new(dataset: Option<String>) -> Self {
        let s = |v: &str| RwSignal::new(v.to_owned());
        // The Fashion-MNIST preset's settings: a subset small enough to interpolate on CPU.
        Self {
            dataset: RwSignal::new(dataset.unwrap_or_else(|| "fashion_mnist".into())),
            catalogue: Resource::new(|| (), |_| list_datasets()),
            per_class: s("200"),
            model: s("mlp"),
            hidden: s("512, 512"),
            layers: LayerDraft::new(builtin_model("mlp", vec![512, 512]).to_layers(10)),
            loss: s("mse"),
            optimizer: s("sgd"),
            momentum: s("0.9"),
            weight_decay: s("0.0001"),
            batch: s("25"),
            epochs: s("60"),
            backend: s("cpu"),
        }
    }

    /// The device the form asks for (an unknown value reads as the CPU).
    pub(super) fn backend(self) -> BackendChoice {
        self.backend.with_untracked(|b| {
            BackendChoice::ALL
                .into_iter()
                .find(|c| c.as_str() == b)
                .unwrap_or_default()
        })
    }

    /// The spec the fields describe; a field that doesn't parse is reported in `errs` and read
    /// as zero, so the step counts derived from a half-typed form still compute.
    pub(super) fn to_net(self, errs: &mut Vec<FieldError>) -> NetSpec {
        let p = "experiment.";
        let dataset = self.chosen();
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
            LAYERS => {
                errs.extend(self.layers.typos.get_untracked());
                ModelSpec::Layers {
                    layers: self.layers.layers.get_untracked(),
                }
            }
            name => builtin_model(name, hidden),
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
        // Schedule-free's averaging exponents keep the reference's defaults (r 0, power 2).
        let optimizer = match self.optimizer.get_untracked().as_str() {
            "adam_w" => OptimizerSpec::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay,
            },
            "schedule_free_sgd" => OptimizerSpec::ScheduleFreeSgd {
                momentum: real(self.momentum, "optimizer.momentum", errs),
                weight_decay,
                r: 0.0,
                weight_lr_power: 2.0,
            },
            "schedule_free_adam_w" => OptimizerSpec::ScheduleFreeAdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay,
                r: 0.0,
                weight_lr_power: 2.0,
            },
            _ => OptimizerSpec::Sgd {
                momentum: real(self.momentum, "optimizer.momentum", errs),
                nesterov: false,
                weight_decay,
            },
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
            data_dir: None,
            train_per_class,
            test_limit: None,
            augment: augments(&dataset),
            dataset,
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

    /// The chosen dataset's shape and classes, tracked (None while a registered one's are not
    /// listed yet).
    fn facts(self) -> Option<DatasetFacts> {
        self.dataset.track();
        self.catalogue.track();
        self.chosen().facts()
    }

    /// Opening the editor starts it from the built-in model chosen before (so VGG-11 or the
    /// small CNN can be edited layer by layer); its own preset select offers the ResNets.
    fn start_editor_from_builtin(self) {
        Effect::new(move |prev: Option<String>| {
            let now = self.model.get();
            if now == LAYERS
                && let Some(before) = prev.filter(|p| p != LAYERS)
            {
                let hidden = self
                    .hidden
                    .get_untracked()
                    .split(',')
                    .filter_map(|w| w.trim().parse().ok())
                    .collect();
                let classes = self
                    .chosen()
                    .facts()
                    .map_or(10, |f: DatasetFacts| f.classes);
                self.layers
                    .replace(builtin_model(&before, hidden).to_layers(classes));
            }
            now
        });
    }

    /// The dataset the form names, as the run spec takes it (facts included where listed).
    pub(super) fn chosen(self) -> DatasetChoice {
        let list = self
            .catalogue
            .get_untracked()
            .and_then(Result::ok)
            .unwrap_or_default();
        self.dataset
            .with_untracked(|name| dataset::choice_named(name, &list))
    }
}

/// The network's inputs; `seed` is the form's, shared with the toy model's fields.
#[component]
pub(super) fn NetFields(
    net: NetForm,
    seed: RwSignal<String>,
    errors: RwSignal<Vec<FieldError>>,
) -> impl IntoView {
    net.start_editor_from_builtin();
    let facts = Signal::derive(move || net.facts());
    let batch = Signal::derive(move || net.batch.with(|b| b.trim().parse().unwrap_or(0)));
    view! {
        <div class="grid" id="net-fields">
            <DatasetSelect net/>
            <NumField label="images per class (empty: all)" field=experiment::fields::net::TRAIN_PER_CLASS value=net.per_class errors/>
            <ChoiceField label="model" field=experiment::fields::net::MODEL value=net.model
                options=&[("mlp", "MLP"), ("small_cnn", "small CNN"), ("vgg11_narrow", "VGG-11 narrow (paper)"), ("vgg11_standard_bn", "VGG-11 standard + BN"), (LAYERS, "Layer list (editor)")]/>
            <NumField label="MLP hidden widths" field=experiment::fields::net::MODEL_HIDDEN value=net.hidden errors/>
            <ChoiceField label="loss" field=experiment::fields::net::LOSS value=net.loss
                options=&[("mse", "MSE on one-hot (paper)"), ("cross_entropy", "cross-entropy")]/>
            <ChoiceField label="optimizer" field=experiment::fields::net::OPTIMIZER value=net.optimizer
                options=&[("sgd", "SGD + momentum"), ("adam_w", "AdamW"), ("schedule_free_sgd", "Schedule-Free SGD"), ("schedule_free_adam_w", "Schedule-Free AdamW")]/>
            <NumField label="momentum" field=experiment::fields::net::optimizer::MOMENTUM value=net.momentum errors/>
            <NumField label="weight decay" field=experiment::fields::net::optimizer::WEIGHT_DECAY value=net.weight_decay errors/>
            <NumField label="batch" field=experiment::fields::net::BATCH value=net.batch errors/>
            <NumField label="epochs" field=experiment::fields::net::EPOCHS value=net.epochs errors/>
            <NumField label="seed" field=experiment::fields::SEED value=seed errors/>
            <ChoiceField label="device" field="backend" value=net.backend
                options=&[("cpu", "CPU"), ("auto", "auto: a CUDA GPU if the server has one"), ("cuda", "CUDA GPU"), ("wgpu", "wgpu (Vulkan / Metal)")]/>
        </div>
        <Show when=move || net.model.with(|m| m == LAYERS)>
            <ModelEditor draft=net.layers facts batch/>
        </Show>
        // The server's refusals of a dataset not fetched or a device it lacks have no input to sit under.
        <Show when=move || errors.with(|es| es.iter().any(|e| DATASET_FIELDS.contains(&e.field.as_str())))>
            <p class="form-error" id="net-errors">
                {move || errors.get().iter().filter(|e| DATASET_FIELDS.contains(&e.field.as_str())).map(|e| e.message.clone()).collect::<Vec<_>>().join(" ")}
            </p>
        </Show>
    }
}

/// The dataset select: the built-in datasets and every registered one (the built-ins alone
/// until the list arrives), the chosen one's classes, sizes and shape beneath it.
#[component]
fn DatasetSelect(net: NetForm) -> impl IntoView {
    let hint = Signal::derive(move || {
        net.dataset.track();
        net.catalogue.track();
        dataset::summary(&net.chosen())
    });
    let select = move |options: Vec<(String, String)>| {
        view! {
            <SelectField label="dataset" field=experiment::fields::net::DATASET value=net.dataset options hint/>
        }
    };
    view! {
        <Suspense fallback=move || select(dataset::options(&[]))>
            {move || Suspend::new(async move {
                let list = net.catalogue.await.unwrap_or_default();
                select(dataset::options(&list))
            })}
        </Suspense>
    }
}

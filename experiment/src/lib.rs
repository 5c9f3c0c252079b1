//! Run specifications: what a user asks Anneal to train, as serde data, with the
//! field-level validation that both the browser form and the server apply.

pub mod landscape;
pub mod memory;

use schedule::{FieldError, Schedule};
use serde::{Deserialize, Serialize};

/// Upper bounds that keep one request from occupying the machine forever.
pub mod limits {
    pub const MAX_TOY_DIM: u32 = 10_000;
    pub const MAX_TOY_SAMPLES: u32 = 100_000;
    pub const MAX_STEPS: u64 = 10_000_000;
    pub const MAX_BATCH: u32 = 65_536;
    pub const MAX_LR: f64 = 100.0;
    pub const MAX_METRIC_POINTS: u64 = 20_000;
    pub const MAX_NAME_LEN: usize = 200;
    pub const MAX_EPOCHS: u32 = 100_000;
    pub const MAX_HIDDEN_LAYERS: usize = 16;
    pub const MAX_WIDTH: u32 = 65_536;
    pub const MAX_PER_CLASS: u32 = 100_000;
}

/// Which compute device a run asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// Burn's pure-Rust `flex` CPU backend (always available).
    #[default]
    Cpu,
    /// burn-cuda; only in binaries built with `--features cuda`.
    Cuda,
}

/// One training run: the experiment, its LR schedule and its seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    #[serde(default)]
    pub name: String,
    pub experiment: Experiment,
    pub schedule: Schedule,
    /// Drives the initialisation, the data order, augmentation and dropout.
    #[serde(default)]
    pub seed: u64,
    /// Draws the data itself: the training subset of a network, the toy model's samples and
    /// label noise. Absent means `seed`, as runs before replicates had it; replicates of a
    /// sweep share their main run's, so that they differ only in training noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
    #[serde(default)]
    pub backend: BackendChoice,
}

/// What is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Experiment {
    /// The paper's nonlinear model y = ‖w‖^γ·wᵀx on Gaussian data.
    Toy(ToySpec),
    /// A network on an image dataset.
    Net(NetSpec),
}

/// Image datasets in their official on-disk formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetChoice {
    FashionMnist,
    Mnist,
    Cifar10,
}

impl DatasetChoice {
    /// Images in the full official training split.
    pub fn train_size(self) -> u32 {
        match self {
            Self::FashionMnist | Self::Mnist => 60_000,
            Self::Cifar10 => 50_000,
        }
    }
    pub fn test_size(self) -> u32 {
        10_000
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::FashionMnist => "Fashion-MNIST",
            Self::Mnist => "MNIST",
            Self::Cifar10 => "CIFAR-10",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VggWidth {
    /// The paper's code: convs 32-M-64-M-64-64-M-128-128-M-256-256-M, FC 256-128-128-10 with dropout.
    Narrow,
    /// Simonyan & Zisserman's VGG-11: 64-M-128-M-256-256-M-512-512-M-512-512-M.
    Standard,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSpec {
    /// Fully connected ReLU network with these hidden widths.
    Mlp { hidden: Vec<u32> },
    /// conv32-pool-conv64-pool-fc128.
    SmallCnn,
    Vgg11 {
        width: VggWidth,
        #[serde(default)]
        batch_norm: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    CrossEntropy,
    /// Mean squared error against one-hot targets, as in the paper's code.
    Mse,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerSpec {
    Sgd {
        #[serde(default)]
        momentum: f64,
        #[serde(default)]
        nesterov: bool,
        #[serde(default)]
        weight_decay: f64,
    },
    AdamW {
        #[serde(default = "default_beta1")]
        beta1: f64,
        #[serde(default = "default_beta2")]
        beta2: f64,
        #[serde(default = "default_eps")]
        eps: f64,
        #[serde(default)]
        weight_decay: f64,
    },
    /// Defazio et al.'s Schedule-Free SGD ("The Road Less Scheduled", 2024): the gradient is
    /// taken at y, an interpolation between the SGD iterate z and the running average x, which
    /// is what gets evaluated. The run's schedule supplies the per-step LR (warmup included).
    ScheduleFreeSgd {
        /// β: how far y sits towards x (the method needs 0 < β < 1).
        #[serde(default = "default_sf_momentum")]
        momentum: f64,
        /// L2 penalty added to the gradient, evaluated at y.
        #[serde(default)]
        weight_decay: f64,
        /// Polynomial weighting of the average: step k counts (k+1)^r.
        #[serde(default)]
        r: f64,
        /// Step k also counts (the largest LR so far)^weight_lr_power, so that warmup steps
        /// weigh less in x.
        #[serde(default = "default_weight_lr_power")]
        weight_lr_power: f64,
    },
    /// Schedule-Free AdamW: as `ScheduleFreeSgd`, with the z step preconditioned by Adam's
    /// second moment and β₁ as the interpolation weight.
    ScheduleFreeAdamW {
        #[serde(default = "default_beta1")]
        beta1: f64,
        #[serde(default = "default_beta2")]
        beta2: f64,
        #[serde(default = "default_eps")]
        eps: f64,
        #[serde(default)]
        weight_decay: f64,
        #[serde(default)]
        r: f64,
        #[serde(default = "default_weight_lr_power")]
        weight_lr_power: f64,
    },
}

impl ModelSpec {
    /// The model as a reader names it: "MLP 784 → 512 → 512 → 10" style, without the input.
    pub fn describe(&self) -> String {
        match self {
            Self::Mlp { hidden } if hidden.is_empty() => "linear (no hidden layer)".into(),
            Self::Mlp { hidden } => format!(
                "MLP, hidden layers {} (ReLU)",
                hidden
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" × ")
            ),
            Self::SmallCnn => "small CNN (conv 32, pool, conv 64, pool, fc 128)".into(),
            Self::Vgg11 { width, batch_norm } => format!(
                "VGG-11, {} width{}",
                match width {
                    VggWidth::Narrow => "the paper's narrow",
                    VggWidth::Standard => "standard",
                },
                if *batch_norm { ", batch norm" } else { "" }
            ),
        }
    }
}

impl LossKind {
    pub fn describe(self) -> &'static str {
        match self {
            Self::CrossEntropy => "cross-entropy",
            Self::Mse => "mean squared error on one-hot targets",
        }
    }
}

impl OptimizerSpec {
    /// "SGD, momentum 0.9, weight decay 0.0001" style.
    pub fn describe(&self) -> String {
        match self {
            Self::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                let mut s = "SGD".to_owned();
                if *momentum > 0.0 {
                    s.push_str(&format!(
                        ", {}momentum {momentum}",
                        if *nesterov { "Nesterov " } else { "" }
                    ));
                }
                if *weight_decay > 0.0 {
                    s.push_str(&format!(", weight decay {weight_decay}"));
                }
                s
            }
            Self::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => format!("AdamW, β₁ {beta1}, β₂ {beta2}, ε {eps:e}, weight decay {weight_decay}"),
            Self::ScheduleFreeSgd {
                momentum,
                weight_decay,
                r,
                weight_lr_power,
            } => {
                let mut s = format!("Schedule-Free SGD, momentum {momentum}");
                if *weight_decay > 0.0 {
                    s.push_str(&format!(", weight decay {weight_decay}"));
                }
                s + &averaging_words(*r, *weight_lr_power)
            }
            Self::ScheduleFreeAdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                r,
                weight_lr_power,
            } => {
                format!(
                    "Schedule-Free AdamW, β₁ {beta1}, β₂ {beta2}, ε {eps:e}, weight decay {weight_decay}"
                ) + &averaging_words(*r, *weight_lr_power)
            }
        }
    }

    /// Whether the run evaluates an averaged iterate x rather than the weights it steps.
    pub fn is_schedule_free(&self) -> bool {
        matches!(
            self,
            Self::ScheduleFreeSgd { .. } | Self::ScheduleFreeAdamW { .. }
        )
    }

    /// The schedule-free optimizer closest to this one, for a schedule-free baseline next to
    /// scheduled runs: SGD keeps its momentum (0.9, the method's default, when it has none,
    /// since schedule-free needs β > 0) and weight decay, dropping Nesterov, which has no
    /// schedule-free form; AdamW keeps its betas, ε and weight decay. The averaging weights are
    /// the reference's defaults. A schedule-free optimizer is its own counterpart.
    pub fn schedule_free_counterpart(&self) -> OptimizerSpec {
        match *self {
            Self::Sgd {
                momentum,
                weight_decay,
                ..
            } => Self::ScheduleFreeSgd {
                momentum: if momentum > 0.0 {
                    momentum
                } else {
                    default_sf_momentum()
                },
                weight_decay,
                r: 0.0,
                weight_lr_power: default_weight_lr_power(),
            },
            Self::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => Self::ScheduleFreeAdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                r: 0.0,
                weight_lr_power: default_weight_lr_power(),
            },
            Self::ScheduleFreeSgd { .. } | Self::ScheduleFreeAdamW { .. } => self.clone(),
        }
    }
}

/// The averaging weights in words, only where they differ from the reference's defaults.
fn averaging_words(r: f64, weight_lr_power: f64) -> String {
    let mut s = String::new();
    if r != 0.0 {
        s.push_str(&format!(", average weighted by (k+1)^{r}"));
    }
    if weight_lr_power != default_weight_lr_power() {
        s.push_str(&format!(", LR weighting power {weight_lr_power}"));
    }
    s
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}
fn default_sf_momentum() -> f64 {
    0.9
}
fn default_weight_lr_power() -> f64 {
    2.0
}
fn default_checkpoint_every() -> u32 {
    1
}

/// A network trained on an image dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetSpec {
    pub dataset: DatasetChoice,
    /// Folder holding the dataset files; the default is where the package or fetch puts them.
    /// The server only accepts folders inside its data directory.
    #[serde(default)]
    pub data_dir: Option<String>,
    /// Train on k images per class (chosen with the run's seed); all when absent.
    #[serde(default)]
    pub train_per_class: Option<u32>,
    /// Evaluate on the first this-many test images; all when absent.
    #[serde(default)]
    pub test_limit: Option<u32>,
    /// Random crop (padding 4) and horizontal flip; meant for CIFAR-10.
    #[serde(default)]
    pub augment: bool,
    pub model: ModelSpec,
    pub loss: LossKind,
    pub optimizer: OptimizerSpec,
    pub batch: u32,
    pub epochs: u32,
    /// Save a checkpoint every this many epochs (0 = never). Branching needs 1.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u32,
}

impl NetSpec {
    pub fn train_size(&self) -> u32 {
        match self.train_per_class {
            Some(k) => k.saturating_mul(10),
            None => self.dataset.train_size(),
        }
    }
    pub fn steps_per_epoch(&self) -> u64 {
        u64::from(self.train_size().div_ceil(self.batch.max(1)).max(1))
    }

    /// A 2-epoch Fashion-MNIST MLP: the quick real-data check.
    pub fn fashion_mlp() -> Self {
        Self {
            dataset: DatasetChoice::FashionMnist,
            data_dir: None,
            train_per_class: None,
            test_limit: None,
            augment: false,
            model: ModelSpec::Mlp {
                hidden: vec![512, 512],
            },
            loss: LossKind::CrossEntropy,
            optimizer: OptimizerSpec::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 0.0,
            },
            batch: 128,
            epochs: 2,
            checkpoint_every: 1,
        }
    }

    fn check(&self, errs: &mut Vec<FieldError>) {
        let p = "experiment.";
        if let Some(dir) = &self.data_dir {
            // Confined to the data directory: relative, and never climbing out of it.
            let escapes = dir.starts_with('/')
                || dir.starts_with('\\')
                || dir.contains(':')
                || dir.split(['/', '\\']).any(|part| part == "..");
            if dir.trim().is_empty() || dir.len() > 1024 || dir.contains('\0') {
                errs.push(field(
                    &format!("{p}data_dir"),
                    "must be a folder name".into(),
                ));
            } else if escapes {
                errs.push(field(
                    &format!("{p}data_dir"),
                    "must be a folder inside the data directory (relative, no `..`)".into(),
                ));
            }
        }
        if let Some(k) = self.train_per_class {
            let max = self.dataset.train_size() / 10;
            if k < 1 || k > max.min(limits::MAX_PER_CLASS) {
                errs.push(field(
                    &format!("{p}train_per_class"),
                    format!("must be between 1 and {max}"),
                ));
            }
        }
        if let Some(t) = self.test_limit
            && (t < 1 || t > self.dataset.test_size())
        {
            errs.push(field(
                &format!("{p}test_limit"),
                format!("must be between 1 and {}", self.dataset.test_size()),
            ));
        }
        match &self.model {
            ModelSpec::Mlp { hidden } => {
                if hidden.len() > limits::MAX_HIDDEN_LAYERS {
                    errs.push(field(
                        &format!("{p}model.hidden"),
                        format!("at most {} layers", limits::MAX_HIDDEN_LAYERS),
                    ));
                }
                if hidden
                    .iter()
                    .any(|&w| !(1..=limits::MAX_WIDTH).contains(&w))
                {
                    errs.push(field(
                        &format!("{p}model.hidden"),
                        format!("widths must be between 1 and {}", limits::MAX_WIDTH),
                    ));
                }
            }
            ModelSpec::SmallCnn | ModelSpec::Vgg11 { .. } => {}
        }
        if matches!(self.model, ModelSpec::Vgg11 { .. }) && self.dataset != DatasetChoice::Cifar10 {
            errs.push(field(
                &format!("{p}model"),
                "VGG-11 needs 32×32 colour images (CIFAR-10)".into(),
            ));
        }
        match &self.optimizer {
            OptimizerSpec::Sgd {
                momentum,
                weight_decay,
                nesterov,
            } => {
                finite_in(
                    errs,
                    &format!("{p}optimizer.momentum"),
                    *momentum,
                    0.0,
                    0.9999,
                );
                finite_in(
                    errs,
                    &format!("{p}optimizer.weight_decay"),
                    *weight_decay,
                    0.0,
                    1.0,
                );
                if *nesterov && *momentum == 0.0 {
                    errs.push(field(
                        &format!("{p}optimizer.nesterov"),
                        "needs momentum > 0".into(),
                    ));
                }
            }
            OptimizerSpec::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                finite_in(errs, &format!("{p}optimizer.beta1"), *beta1, 0.0, 0.9999);
                finite_in(errs, &format!("{p}optimizer.beta2"), *beta2, 0.0, 0.999_999);
                finite_in(errs, &format!("{p}optimizer.eps"), *eps, 1e-12, 1.0);
                finite_in(
                    errs,
                    &format!("{p}optimizer.weight_decay"),
                    *weight_decay,
                    0.0,
                    1.0,
                );
            }
            OptimizerSpec::ScheduleFreeSgd {
                momentum,
                weight_decay,
                r,
                weight_lr_power,
            } => {
                // x is recovered from y and z by dividing by β, so β = 0 has no average to show.
                open_unit(errs, &format!("{p}optimizer.momentum"), *momentum);
                finite_in(
                    errs,
                    &format!("{p}optimizer.weight_decay"),
                    *weight_decay,
                    0.0,
                    1.0,
                );
                check_averaging(errs, p, *r, *weight_lr_power);
            }
            OptimizerSpec::ScheduleFreeAdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                r,
                weight_lr_power,
            } => {
                // β₁ plays the role of SGD's β above, so it too must be above 0.
                open_unit(errs, &format!("{p}optimizer.beta1"), *beta1);
                finite_in(errs, &format!("{p}optimizer.beta2"), *beta2, 0.0, 0.999_999);
                finite_in(errs, &format!("{p}optimizer.eps"), *eps, 1e-12, 1.0);
                finite_in(
                    errs,
                    &format!("{p}optimizer.weight_decay"),
                    *weight_decay,
                    0.0,
                    1.0,
                );
                check_averaging(errs, p, *r, *weight_lr_power);
            }
        }
        if self.optimizer.is_schedule_free()
            && matches!(
                self.model,
                ModelSpec::Vgg11 {
                    batch_norm: true,
                    ..
                }
            )
        {
            errs.push(field(
                &format!("{p}optimizer"),
                "Schedule-Free cannot train a batch-norm model here: BatchNorm's running \
                 statistics are gathered at y, but the model is evaluated at the average x, \
                 where they would have to be recomputed; choose a model without batch norm or \
                 SGD/AdamW"
                    .into(),
            ));
        }
        if self.batch < 1 || self.batch > limits::MAX_BATCH.min(self.train_size().max(1)) {
            errs.push(field(
                &format!("{p}batch"),
                format!(
                    "must be between 1 and {}",
                    self.train_size().min(limits::MAX_BATCH)
                ),
            ));
        }
        if self.epochs < 1 || self.epochs > limits::MAX_EPOCHS {
            errs.push(field(
                &format!("{p}epochs"),
                format!("must be between 1 and {}", limits::MAX_EPOCHS),
            ));
        }
        if self.checkpoint_every > self.epochs.max(1) {
            errs.push(field(
                &format!("{p}checkpoint_every"),
                "must not exceed epochs".into(),
            ));
        }
    }
}

/// The toy model's knobs (DESIGN.md §2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToySpec {
    /// Input dimension.
    pub d: u32,
    /// Number of training samples; must be below `d` (overparameterised).
    pub n: u32,
    /// Exponent γ in y = ‖w‖^γ·wᵀx.
    pub gamma: f64,
    /// Standard deviation of the fresh label noise added at every draw.
    pub label_noise: f64,
    pub batch: u32,
    /// Total optimizer steps.
    pub steps: u64,
    /// Scale of the initial weights: w₀ ~ N(0, init_scale²·I/d).
    #[serde(default = "default_init_scale")]
    pub init_scale: f64,
    /// A metric row is recorded every this many steps (0 = choose ~500 points).
    #[serde(default)]
    pub eval_every: u64,
}

fn default_init_scale() -> f64 {
    1.0
}

impl ToySpec {
    /// The paper's label-noise regime (DESIGN.md §2), shortened for a quick look.
    pub fn paper_default() -> Self {
        Self {
            d: 50,
            n: 10,
            gamma: 1.0,
            label_noise: 0.3,
            batch: 1,
            steps: 20_000,
            init_scale: default_init_scale(),
            eval_every: 0,
        }
    }

    /// Steps between metric rows, resolved from `eval_every`.
    pub fn eval_interval(&self) -> u64 {
        if self.eval_every > 0 {
            self.eval_every
        } else {
            (self.steps / 500).max(1)
        }
    }

    /// Optimizer steps in one pass over the `n` samples.
    pub fn steps_per_epoch(&self) -> u64 {
        u64::from(self.n.div_ceil(self.batch.max(1)).max(1))
    }
}

impl RunSpec {
    /// The seed that draws the data (see `data_seed`).
    pub fn data_seed(&self) -> u64 {
        self.data_seed.unwrap_or(self.seed)
    }

    /// The same run under another training seed, on the same data.
    pub fn replicate(&self, seed: u64) -> Self {
        let mut spec = self.clone();
        if seed != self.seed {
            spec.data_seed = Some(self.data_seed());
            spec.seed = seed;
        }
        spec
    }

    /// The toy preset the home page starts from.
    pub fn toy_default() -> Self {
        Self {
            name: String::new(),
            experiment: Experiment::Toy(ToySpec::paper_default()),
            schedule: Schedule::Constant { lr: 0.05 },
            seed: 0,
            data_seed: None,
            backend: BackendChoice::Cpu,
        }
    }

    pub fn total_steps(&self) -> u64 {
        match &self.experiment {
            Experiment::Toy(t) => t.steps,
            Experiment::Net(n) => u64::from(n.epochs) * n.steps_per_epoch(),
        }
    }

    pub fn steps_per_epoch(&self) -> u64 {
        match &self.experiment {
            Experiment::Toy(t) => t.steps_per_epoch(),
            Experiment::Net(n) => n.steps_per_epoch(),
        }
    }

    /// Every problem with the spec, each tied to the form field it comes from.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errs = Vec::new();
        if self.name.chars().count() > limits::MAX_NAME_LEN {
            errs.push(field(
                "name",
                format!("must be at most {} characters", limits::MAX_NAME_LEN),
            ));
        }
        match &self.experiment {
            Experiment::Toy(t) => t.check(&mut errs),
            Experiment::Net(n) => n.check(&mut errs),
        }
        if let Err(schedule_errs) = self.schedule.validate() {
            errs.extend(schedule_errs.into_iter().map(|e| FieldError {
                field: format!("schedule.{}", e.field),
                message: e.message,
            }));
        }
        // The schedule's own checks allow any positive LR; a run also caps it.
        let lr = self.schedule.base_lr();
        if lr.is_finite() && lr > limits::MAX_LR {
            errs.push(field(
                "schedule.lr",
                format!("must be at most {}", limits::MAX_LR),
            ));
        }
        // Each knob may be in range while the model they describe does not fit in memory.
        if errs.is_empty() {
            let need = self.planned_bytes();
            if need > memory::MAX_RUN_BYTES {
                errs.push(field(
                    self.memory_field(),
                    format!(
                        "this run would allocate about {} (weights, gradients, optimizer state, \
                         activations and data); a run may use at most {}, so that one run \
                         cannot take the server down",
                        memory::gib(need),
                        memory::gib(memory::MAX_RUN_BYTES)
                    ),
                ));
            }
        }
        // Each knob may be in range while their product is not (a huge decay factor, say):
        // bound the LR the run will actually use, at every step.
        if errs.is_empty() {
            let peak = self
                .schedule
                .curve(self.total_steps().saturating_sub(1), 4000)
                .into_iter()
                .map(|(_, lr)| lr)
                .find(|lr| !lr.is_finite() || *lr > limits::MAX_LR);
            if let Some(lr) = peak {
                errs.push(field(
                    "schedule",
                    format!(
                        "the learning rate reaches {lr:e} during the run; it must stay finite and at most {}",
                        limits::MAX_LR
                    ),
                ));
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

impl ToySpec {
    fn check(&self, errs: &mut Vec<FieldError>) {
        let p = "experiment.";
        if self.d < 2 || self.d > limits::MAX_TOY_DIM {
            errs.push(field(
                &format!("{p}d"),
                format!("must be between 2 and {}", limits::MAX_TOY_DIM),
            ));
        }
        if self.n < 1 || self.n > limits::MAX_TOY_SAMPLES {
            errs.push(field(
                &format!("{p}n"),
                format!("must be between 1 and {}", limits::MAX_TOY_SAMPLES),
            ));
        } else if self.n >= self.d {
            errs.push(field(
                &format!("{p}n"),
                "must be smaller than d (the model is overparameterised)".into(),
            ));
        }
        finite_in(errs, &format!("{p}gamma"), self.gamma, 0.0, 10.0);
        finite_in(
            errs,
            &format!("{p}label_noise"),
            self.label_noise,
            0.0,
            100.0,
        );
        finite_in(
            errs,
            &format!("{p}init_scale"),
            self.init_scale,
            1e-6,
            100.0,
        );
        if self.batch < 1 || self.batch > limits::MAX_BATCH {
            errs.push(field(
                &format!("{p}batch"),
                format!("must be between 1 and {}", limits::MAX_BATCH),
            ));
        } else if self.batch > self.n && self.n >= 1 {
            errs.push(field(&format!("{p}batch"), "must not exceed n".into()));
        }
        if self.steps < 1 || self.steps > limits::MAX_STEPS {
            errs.push(field(
                &format!("{p}steps"),
                format!("must be between 1 and {}", limits::MAX_STEPS),
            ));
        } else if self.steps / self.eval_interval() > limits::MAX_METRIC_POINTS {
            errs.push(field(
                &format!("{p}eval_every"),
                format!(
                    "too small: at most {} metric rows per run",
                    limits::MAX_METRIC_POINTS
                ),
            ));
        }
    }
}

fn field(name: &str, message: String) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message,
    }
}

/// A value strictly between 0 and 1.
fn open_unit(errs: &mut Vec<FieldError>, name: &str, v: f64) {
    if !v.is_finite() {
        errs.push(field(name, "must be a finite number".into()));
    } else if v <= 0.0 || v >= 1.0 {
        errs.push(field(
            name,
            "must be greater than 0 and less than 1 (schedule-free needs it above 0)".into(),
        ));
    }
}

/// The schedule-free averaging exponents. The upper bounds keep the weights
/// (k+1)^r · lr_max^weight_lr_power and their sum finite in f64 for any allowed run length and
/// LR (at most 1e7^10 · 100^10 per step).
fn check_averaging(errs: &mut Vec<FieldError>, p: &str, r: f64, weight_lr_power: f64) {
    finite_in(errs, &format!("{p}optimizer.r"), r, 0.0, 10.0);
    finite_in(
        errs,
        &format!("{p}optimizer.weight_lr_power"),
        weight_lr_power,
        0.0,
        10.0,
    );
}

fn finite_in(errs: &mut Vec<FieldError>, name: &str, v: f64, lo: f64, hi: f64) {
    if !v.is_finite() {
        errs.push(field(name, "must be a finite number".into()));
    } else if v < lo || v > hi {
        errs.push(field(name, format!("must be between {lo} and {hi}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(spec: &RunSpec) -> Vec<String> {
        spec.validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn default_toy_spec_is_valid() {
        assert_eq!(RunSpec::toy_default().validate(), Ok(()));
    }

    #[test]
    fn the_lr_is_bounded_over_the_whole_run_not_per_knob() {
        let mut spec = RunSpec::toy_default();
        // Every knob passes on its own; their product is not a learning rate.
        spec.schedule = Schedule::DecayAt {
            lr: 0.05,
            decay_step: 100,
            factor: 1.797e308,
            second_decay_step: None,
            second_factor: None,
        };
        assert_eq!(fields(&spec), vec!["schedule"]);
        spec.schedule = Schedule::DecayAt {
            lr: 0.05,
            decay_step: 100,
            factor: 10.0,
            second_decay_step: None,
            second_factor: None,
        };
        assert_eq!(spec.validate(), Ok(()), "0.5 after the decay is fine");
        spec.schedule = Schedule::DecayAt {
            lr: 50.0,
            decay_step: 100,
            factor: 3.0,
            second_decay_step: None,
            second_factor: None,
        };
        assert_eq!(fields(&spec), vec!["schedule"], "150 exceeds the cap");
    }

    #[test]
    fn bad_values_are_reported_per_field() {
        let mut spec = RunSpec::toy_default();
        let Experiment::Toy(t) = &mut spec.experiment else {
            unreachable!()
        };
        t.n = 60; // >= d
        t.gamma = f64::NAN;
        t.batch = 0;
        t.steps = 0;
        spec.schedule = Schedule::Constant { lr: -1.0 };
        let f = fields(&spec);
        for want in [
            "experiment.n",
            "experiment.gamma",
            "experiment.batch",
            "experiment.steps",
            "schedule.lr",
        ] {
            assert!(f.iter().any(|x| x == want), "missing {want} in {f:?}");
        }
    }

    #[test]
    fn lr_cap_and_metric_row_cap_apply() {
        let mut spec = RunSpec::toy_default();
        spec.schedule = Schedule::Constant { lr: 1000.0 };
        let Experiment::Toy(t) = &mut spec.experiment else {
            unreachable!()
        };
        t.steps = 1_000_000;
        t.eval_every = 1;
        let f = fields(&spec);
        assert!(f.contains(&"schedule.lr".to_owned()), "{f:?}");
        assert!(f.contains(&"experiment.eval_every".to_owned()), "{f:?}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let json = r#"{"experiment":{"kind":"toy","d":50,"n":10,"gamma":1,"label_noise":0.3,"batch":1,"steps":10,"bogus":1},
                       "schedule":{"kind":"constant","lr":0.05}}"#;
        let err = serde_json::from_str::<RunSpec>(json).expect_err("bogus field must fail");
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn net_spec_checks_fields_and_sizes() {
        let mut net = NetSpec::fashion_mlp();
        let spec = |n: &NetSpec| RunSpec {
            experiment: Experiment::Net(n.clone()),
            ..RunSpec::toy_default()
        };
        assert_eq!(spec(&net).validate(), Ok(()));
        assert_eq!(spec(&net).steps_per_epoch(), 469);
        net.train_per_class = Some(100);
        assert_eq!(net.steps_per_epoch(), 8);
        net.model = ModelSpec::Vgg11 {
            width: VggWidth::Narrow,
            batch_norm: false,
        };
        net.optimizer = OptimizerSpec::Sgd {
            momentum: 1.5,
            nesterov: false,
            weight_decay: 0.0,
        };
        net.epochs = 0;
        let f = fields(&spec(&net));
        for want in [
            "experiment.model",
            "experiment.optimizer.momentum",
            "experiment.epochs",
        ] {
            assert!(f.iter().any(|x| x == want), "missing {want} in {f:?}");
        }
    }

    fn net_run(optimizer: OptimizerSpec) -> RunSpec {
        RunSpec {
            experiment: Experiment::Net(NetSpec {
                optimizer,
                ..NetSpec::fashion_mlp()
            }),
            ..RunSpec::toy_default()
        }
    }

    fn optimizer_json(json: &str) -> OptimizerSpec {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn schedule_free_optimizers_parse_with_the_reference_defaults() {
        assert_eq!(
            optimizer_json(r#"{"kind": "schedule_free_sgd"}"#),
            OptimizerSpec::ScheduleFreeSgd {
                momentum: 0.9,
                weight_decay: 0.0,
                r: 0.0,
                weight_lr_power: 2.0,
            }
        );
        assert_eq!(
            optimizer_json(r#"{"kind": "schedule_free_adam_w", "weight_decay": 0.01, "r": 1}"#),
            OptimizerSpec::ScheduleFreeAdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
                r: 1.0,
                weight_lr_power: 2.0,
            }
        );
        let sf = OptimizerSpec::ScheduleFreeSgd {
            momentum: 0.95,
            weight_decay: 1e-4,
            r: 0.5,
            weight_lr_power: 0.0,
        };
        let json = serde_json::to_string(&sf).expect("serialises");
        assert!(json.contains(r#""kind":"schedule_free_sgd""#), "{json}");
        assert_eq!(optimizer_json(&json), sf);
        // Specs written before schedule-free still read as they did.
        assert_eq!(
            optimizer_json(r#"{"kind": "sgd", "momentum": 0.9}"#),
            OptimizerSpec::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 0.0,
            }
        );
        assert_eq!(
            optimizer_json(r#"{"kind": "adam_w"}"#),
            OptimizerSpec::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
            }
        );
        assert!(
            serde_json::from_str::<OptimizerSpec>(r#"{"kind": "sgd", "r": 1}"#).is_err(),
            "r belongs to schedule-free only"
        );
        assert!(
            !OptimizerSpec::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 0.0
            }
            .is_schedule_free()
        );
        assert!(sf.is_schedule_free());
    }

    #[test]
    fn schedule_free_optimizers_validate_per_field() {
        let sgd = |momentum, weight_decay, r, weight_lr_power| {
            net_run(OptimizerSpec::ScheduleFreeSgd {
                momentum,
                weight_decay,
                r,
                weight_lr_power,
            })
        };
        assert_eq!(sgd(0.9, 0.0, 0.0, 2.0).validate(), Ok(()));
        for m in [0.0, 1.0, -0.5, f64::NAN] {
            let errs = sgd(m, 0.0, 0.0, 2.0)
                .validate()
                .expect_err("momentum refused");
            assert_eq!(errs.len(), 1, "{m}: {errs:?}");
            assert_eq!(errs[0].field, "experiment.optimizer.momentum");
        }
        let errs = sgd(0.0, 0.0, 0.0, 2.0).validate().expect_err("β = 0");
        assert!(errs[0].message.contains("greater than 0"), "{errs:?}");
        assert_eq!(
            fields(&sgd(0.9, -1e-3, -1.0, -2.0)),
            vec![
                "experiment.optimizer.weight_decay",
                "experiment.optimizer.r",
                "experiment.optimizer.weight_lr_power"
            ]
        );
        let adam = |beta1, beta2, eps| {
            net_run(OptimizerSpec::ScheduleFreeAdamW {
                beta1,
                beta2,
                eps,
                weight_decay: 0.0,
                r: 0.0,
                weight_lr_power: 2.0,
            })
        };
        assert_eq!(adam(0.9, 0.999, 1e-8).validate(), Ok(()));
        assert_eq!(
            adam(0.5, 0.0, 1e-8).validate(),
            Ok(()),
            "β₂ = 0 is RMS-free"
        );
        assert_eq!(
            fields(&adam(0.0, 1.0, 0.0)),
            vec![
                "experiment.optimizer.beta1",
                "experiment.optimizer.beta2",
                "experiment.optimizer.eps"
            ]
        );
        assert_eq!(
            fields(&adam(1.0, 0.999, 1e-8)),
            vec!["experiment.optimizer.beta1"]
        );
    }

    #[test]
    fn schedule_free_refuses_batch_norm() {
        let bn = |optimizer, batch_norm| RunSpec {
            experiment: Experiment::Net(NetSpec {
                dataset: DatasetChoice::Cifar10,
                model: ModelSpec::Vgg11 {
                    width: VggWidth::Narrow,
                    batch_norm,
                },
                optimizer,
                ..NetSpec::fashion_mlp()
            }),
            ..RunSpec::toy_default()
        };
        let sf = OptimizerSpec::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        }
        .schedule_free_counterpart();
        let errs = bn(sf.clone(), true).validate().expect_err("BN refused");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].field, "experiment.optimizer");
        assert!(errs[0].message.contains("running statistics"), "{errs:?}");
        assert_eq!(bn(sf, false).validate(), Ok(()));
        let plain = OptimizerSpec::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        };
        assert_eq!(bn(plain, true).validate(), Ok(()));
    }

    #[test]
    fn schedule_free_counterparts() {
        let sgd = |momentum, nesterov| OptimizerSpec::Sgd {
            momentum,
            nesterov,
            weight_decay: 5e-4,
        };
        let sf_sgd = |momentum| OptimizerSpec::ScheduleFreeSgd {
            momentum,
            weight_decay: 5e-4,
            r: 0.0,
            weight_lr_power: 2.0,
        };
        assert_eq!(sgd(0.95, true).schedule_free_counterpart(), sf_sgd(0.95));
        assert_eq!(sgd(0.0, false).schedule_free_counterpart(), sf_sgd(0.9));
        let adam = OptimizerSpec::AdamW {
            beta1: 0.8,
            beta2: 0.99,
            eps: 1e-6,
            weight_decay: 0.1,
        };
        assert_eq!(
            adam.schedule_free_counterpart(),
            OptimizerSpec::ScheduleFreeAdamW {
                beta1: 0.8,
                beta2: 0.99,
                eps: 1e-6,
                weight_decay: 0.1,
                r: 0.0,
                weight_lr_power: 2.0,
            }
        );
        let custom = OptimizerSpec::ScheduleFreeSgd {
            momentum: 0.5,
            weight_decay: 0.0,
            r: 1.0,
            weight_lr_power: 0.0,
        };
        assert_eq!(custom.schedule_free_counterpart(), custom);
        let sf_adam = adam.schedule_free_counterpart();
        assert_eq!(sf_adam.schedule_free_counterpart(), sf_adam);
        // Every counterpart of a valid optimizer is itself valid.
        for o in [sgd(0.0, false), sgd(0.9, true), adam] {
            assert_eq!(
                net_run(o.schedule_free_counterpart()).validate(),
                Ok(()),
                "{o:?}"
            );
        }
    }

    #[test]
    fn schedule_free_reads_as_words() {
        assert_eq!(
            OptimizerSpec::ScheduleFreeSgd {
                momentum: 0.9,
                weight_decay: 1e-4,
                r: 0.0,
                weight_lr_power: 2.0,
            }
            .describe(),
            "Schedule-Free SGD, momentum 0.9, weight decay 0.0001"
        );
        assert_eq!(
            OptimizerSpec::ScheduleFreeAdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
                r: 1.0,
                weight_lr_power: 0.0,
            }
            .describe(),
            "Schedule-Free AdamW, β₁ 0.9, β₂ 0.999, ε 1e-8, weight decay 0, \
             average weighted by (k+1)^1, LR weighting power 0"
        );
    }

    #[test]
    fn data_dir_is_confined_to_the_data_directory() {
        for bad in ["/etc", "../secrets", "a/../../b", "C:\\x", "a\\..\\b"] {
            let net = NetSpec {
                data_dir: Some(bad.into()),
                ..NetSpec::fashion_mlp()
            };
            let spec = RunSpec {
                experiment: Experiment::Net(net),
                ..RunSpec::toy_default()
            };
            assert!(
                fields(&spec).contains(&"experiment.data_dir".to_owned()),
                "{bad} must be refused"
            );
        }
        let ok = NetSpec {
            data_dir: Some("cifar/batches".into()),
            ..NetSpec::fashion_mlp()
        };
        assert_eq!(
            RunSpec {
                experiment: Experiment::Net(ok),
                ..RunSpec::toy_default()
            }
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn eval_interval_defaults_to_about_500_rows() {
        let t = ToySpec {
            steps: 20_000,
            ..ToySpec::paper_default()
        };
        assert_eq!(t.eval_interval(), 40);
        let t = ToySpec {
            steps: 10,
            ..ToySpec::paper_default()
        };
        assert_eq!(t.eval_interval(), 1);
    }
}

/// The paper's experiment: a main run at a constant LR, and branches that keep its trajectory
/// up to a decay point k and continue from there with another schedule for a fixed length.
/// Points and lengths are in steps for the toy model and in epochs for networks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    #[serde(default)]
    pub name: String,
    /// The main path; its schedule must be `constant`.
    pub main: RunSpec,
    /// Decay points k₁ < k₂ < … (steps for the toy model, epochs for networks).
    pub branch_at: Vec<u64>,
    /// The schedule each branch follows after its decay point; its clock starts at k.
    pub after: Schedule,
    /// How long each branch runs after its decay point (same unit as `branch_at`).
    pub branch_length: u64,
    /// Training seeds, each with its own main path and branches on the same data (the main
    /// run's data seed). Empty means the main run's seed alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
    /// Per seed, one more run without any decay: the main path's optimizer as its
    /// schedule-free counterpart (Defazio et al. 2024), at the main path's constant LR, for as
    /// long as the longest branch. Networks only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub schedule_free_baseline: bool,
}

/// Whole numbers (decay points, seeds) as a list ("5, 15, 30") and/or ranges ("10:60:10" =
/// 10, 20, …, 60), as the form and the command line take them.
pub fn parse_points(text: &str) -> Result<Vec<u64>, String> {
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

/// At most this many branches per sweep.
pub const MAX_BRANCHES: usize = 50;

/// At most this many seeds per sweep (and per replicated run).
pub const MAX_SEEDS: usize = 16;

/// Checks a list of seeds: 1 to `MAX_SEEDS` (counting `existing` ones), none repeated.
pub fn check_seeds(existing: &[u64], more: &[u64], errs: &mut Vec<FieldError>) {
    let total = existing.len() + more.len();
    if more.is_empty() {
        errs.push(field("seeds", "give at least one seed".into()));
    } else if total > MAX_SEEDS {
        errs.push(field(
            "seeds",
            format!(
                "at most {MAX_SEEDS} seeds in all ({} already, {} more asked)",
                existing.len(),
                more.len()
            ),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in existing.iter().chain(more) {
        if !seen.insert(*s) {
            errs.push(field("seeds", format!("seed {s} is given twice")));
            break;
        }
    }
}

impl SweepSpec {
    /// Steps per unit of `branch_at`: 1 for the toy model, steps per epoch for networks.
    pub fn unit_steps(&self) -> u64 {
        match &self.main.experiment {
            Experiment::Toy(_) => 1,
            Experiment::Net(n) => n.steps_per_epoch(),
        }
    }

    /// Length of the main path, in the unit of `branch_at`.
    pub fn main_length(&self) -> u64 {
        match &self.main.experiment {
            Experiment::Toy(t) => t.steps,
            Experiment::Net(n) => u64::from(n.epochs),
        }
    }

    /// The toy preset from DESIGN.md §2: label noise, decays at 1k, 5k, 20k and 40k steps.
    pub fn toy_paper() -> Self {
        let mut main = RunSpec::toy_default();
        if let Experiment::Toy(t) = &mut main.experiment {
            t.steps = 40_000;
        }
        Self {
            name: "toy: late decay".into(),
            main,
            branch_at: vec![1_000, 5_000, 20_000, 40_000],
            after: Schedule::Constant { lr: 0.005 },
            branch_length: 10_000,
            seeds: Vec::new(),
            schedule_free_baseline: false,
        }
    }

    /// Fashion-MNIST on CPU: 2,000 training images (the MLP interpolates them), MSE, SGD with
    /// momentum at LR 0.1; branches ×0.1 at epochs 5–60. About 2 minutes on 2 cores.
    pub fn fashion_cpu() -> Self {
        let net = NetSpec {
            train_per_class: Some(200),
            loss: LossKind::Mse,
            optimizer: OptimizerSpec::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 1e-4,
            },
            batch: 25,
            epochs: 60,
            ..NetSpec::fashion_mlp()
        };
        Self {
            name: "Fashion-MNIST: late decay".into(),
            main: RunSpec {
                name: String::new(),
                experiment: Experiment::Net(net),
                schedule: Schedule::Constant { lr: 0.1 },
                seed: 0,
                data_seed: None,
                backend: BackendChoice::Cpu,
            },
            branch_at: vec![5, 15, 30, 45, 60],
            after: Schedule::Constant { lr: 0.01 },
            branch_length: 15,
            seeds: Vec::new(),
            schedule_free_baseline: false,
        }
    }

    /// The paper's experiment on a real convnet that a CPU finishes: the small CNN on 2,000
    /// Fashion-MNIST images (which it interpolates), MSE, SGD with momentum at LR 0.1, branches
    /// ×0.1 at epochs 3–40 for 10 epochs each, evaluated on the first 5,000 test images.
    pub fn fashion_cnn_cpu() -> Self {
        let mut s = Self::fashion_cpu();
        s.name = "Fashion-MNIST, small CNN: late decay".into();
        if let Experiment::Net(n) = &mut s.main.experiment {
            n.model = ModelSpec::SmallCnn;
            n.batch = 50;
            n.epochs = 40;
            n.test_limit = Some(5_000);
        }
        s.branch_at = vec![3, 10, 20, 30, 40];
        s.branch_length = 10;
        s
    }

    /// The paper's setting: narrow VGG-11 on a 5,000-image CIFAR-10 subset, MSE, SGD 0.1 /
    /// momentum 0.9 / weight decay 1e-4, batch 125, branches ×0.1. Needs a GPU build.
    pub fn paper_cifar_gpu() -> Self {
        let net = NetSpec {
            dataset: DatasetChoice::Cifar10,
            data_dir: None,
            train_per_class: Some(500),
            test_limit: None,
            augment: false,
            model: ModelSpec::Vgg11 {
                width: VggWidth::Narrow,
                batch_norm: false,
            },
            loss: LossKind::Mse,
            optimizer: OptimizerSpec::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 1e-4,
            },
            batch: 125,
            epochs: 1000,
            checkpoint_every: 1,
        };
        Self {
            name: "CIFAR-10 VGG-11 (paper)".into(),
            main: RunSpec {
                name: String::new(),
                experiment: Experiment::Net(net),
                schedule: Schedule::Constant { lr: 0.1 },
                seed: 0,
                data_seed: None,
                backend: BackendChoice::Cuda,
            },
            branch_at: vec![100, 200, 400, 600, 800, 1000],
            after: Schedule::Constant { lr: 0.01 },
            branch_length: 200,
            seeds: Vec::new(),
            schedule_free_baseline: false,
        }
    }

    /// The seeds this sweep trains: `seeds`, or the main run's seed alone.
    pub fn seeds(&self) -> Vec<u64> {
        if self.seeds.is_empty() {
            vec![self.main.seed]
        } else {
            self.seeds.clone()
        }
    }

    /// The main path trained under `seed`, on the main run's data.
    pub fn main_for(&self, seed: u64) -> RunSpec {
        let mut spec = self.main.replicate(seed);
        spec.name = format!("{}{} · main", self.name, self.seed_label(seed));
        spec
    }

    /// " · seed s" for a replicate, nothing for the main run's own seed (names stay as they were).
    fn seed_label(&self, seed: u64) -> String {
        if seed == self.main.seed {
            String::new()
        } else {
            format!(" · seed {seed}")
        }
    }

    /// The branch that decays at `k` under the main run's seed.
    pub fn branch(&self, k: u64) -> RunSpec {
        self.branch_for(self.main.seed, k)
    }

    /// The run spec of the branch that decays at `k` (in the unit of `branch_at`) under `seed`.
    pub fn branch_for(&self, seed: u64, k: u64) -> RunSpec {
        let mut spec = self.main.replicate(seed);
        spec.name = format!("{}{} · decay at {k}", self.name, self.seed_label(seed));
        spec.schedule = Schedule::Sequential {
            parts: vec![self.main.schedule.clone(), self.after.clone()],
            milestones: vec![k * self.unit_steps()],
        };
        let total = k + self.branch_length;
        match &mut spec.experiment {
            Experiment::Toy(t) => {
                t.steps = total;
                t.eval_every = self.main_eval_every();
            }
            Experiment::Net(n) => n.epochs = u32::try_from(total).unwrap_or(u32::MAX),
        }
        spec
    }

    /// Length of the schedule-free baseline (and of the longest branch), in the sweep's unit.
    pub fn baseline_length(&self) -> u64 {
        self.branch_at.iter().max().copied().unwrap_or(0) + self.branch_length
    }

    /// The schedule-free baseline of `seed`: the main path with the schedule-free counterpart
    /// of its optimizer, as long as the longest branch.
    pub fn baseline_for(&self, seed: u64) -> RunSpec {
        let mut spec = self.main.replicate(seed);
        spec.name = format!("{}{} · schedule-free", self.name, self.seed_label(seed));
        let total = self.baseline_length();
        match &mut spec.experiment {
            Experiment::Toy(t) => t.steps = total,
            Experiment::Net(n) => {
                n.optimizer = n.optimizer.schedule_free_counterpart();
                n.epochs = u32::try_from(total).unwrap_or(u32::MAX);
                // Nothing branches from it.
                n.checkpoint_every = 1;
            }
        }
        spec
    }

    /// Toy branches record rows at the main path's interval so curves line up.
    fn main_eval_every(&self) -> u64 {
        match &self.main.experiment {
            Experiment::Toy(t) => t.eval_interval(),
            Experiment::Net(_) => 0,
        }
    }

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errs: Vec<FieldError> = match self.main.validate() {
            Ok(()) => Vec::new(),
            Err(es) => es
                .into_iter()
                .map(|e| FieldError {
                    field: format!("main.{}", e.field),
                    message: e.message,
                })
                .collect(),
        };
        if !matches!(self.main.schedule, Schedule::Constant { .. }) {
            errs.push(field(
                "main.schedule",
                "the main path of a sweep keeps a constant LR".into(),
            ));
        }
        if let Err(es) = self.after.validate() {
            errs.extend(es.into_iter().map(|e| FieldError {
                field: format!("after.{}", e.field),
                message: e.message,
            }));
        }
        if self.branch_at.is_empty() || self.branch_at.len() > MAX_BRANCHES {
            errs.push(field(
                "branch_at",
                format!("give between 1 and {MAX_BRANCHES} decay points"),
            ));
        } else if self.branch_at.windows(2).any(|w| w[0] >= w[1]) {
            errs.push(field(
                "branch_at",
                "decay points must be strictly increasing".into(),
            ));
        } else if self.branch_at[0] < 1
            || self
                .branch_at
                .last()
                .is_some_and(|&k| k > self.main_length())
        {
            errs.push(field(
                "branch_at",
                format!("decay points must lie between 1 and {}", self.main_length()),
            ));
        }
        if let (Experiment::Net(n), false) = (&self.main.experiment, self.branch_at.is_empty())
            && n.checkpoint_every != 1
        {
            errs.push(field(
                "main.experiment.checkpoint_every",
                "must be 1: branches start from every epoch's checkpoint".into(),
            ));
        }
        let max_len = match &self.main.experiment {
            Experiment::Toy(_) => limits::MAX_STEPS,
            Experiment::Net(_) => u64::from(limits::MAX_EPOCHS),
        };
        if self.branch_length < 1 || self.branch_length > max_len {
            errs.push(field(
                "branch_length",
                format!("must be between 1 and {max_len}"),
            ));
        }
        if !self.seeds.is_empty() {
            check_seeds(&[], &self.seeds, &mut errs);
        }
        if self.schedule_free_baseline {
            match &self.main.experiment {
                Experiment::Toy(_) => errs.push(field(
                    "schedule_free_baseline",
                    "a schedule-free baseline is for networks: the toy model trains with plain SGD"
                        .into(),
                )),
                Experiment::Net(_) if errs.is_empty() => {
                    if let Err(es) = self.baseline_for(self.main.seed).validate() {
                        errs.extend(es.into_iter().map(|e| FieldError {
                            field: "schedule_free_baseline".into(),
                            message: format!(
                                "the baseline run is invalid: {}: {}",
                                e.field, e.message
                            ),
                        }));
                    }
                }
                Experiment::Net(_) => {}
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

#[cfg(test)]
mod sweep_tests {
    use super::*;

    #[test]
    fn the_convnet_preset_is_valid_and_fits_a_cpu() {
        let s = SweepSpec::fashion_cnn_cpu();
        assert_eq!(s.validate(), Ok(()));
        assert!(matches!(
            &s.main.experiment,
            Experiment::Net(n) if n.model == ModelSpec::SmallCnn && n.train_size() == 2_000
        ));
        assert_eq!(s.baseline_length(), 50);
        // The command-line example is the same sweep, with seeds and a baseline.
        let text = include_str!("../../examples/fashion-cnn-sweep.toml");
        let mut example: SweepSpec = toml::from_str(text).expect("the example parses");
        assert_eq!(example.validate(), Ok(()));
        assert_eq!(example.seeds, vec![0, 1, 2]);
        assert!(example.schedule_free_baseline);
        (example.seeds, example.schedule_free_baseline) = (Vec::new(), false);
        assert_eq!(example, s);
    }

    #[test]
    fn toy_preset_is_valid_and_branches_compose() {
        let s = SweepSpec::toy_paper();
        assert_eq!(s.validate(), Ok(()));
        let b = s.branch(5_000);
        assert_eq!(b.total_steps(), 15_000);
        assert_eq!(b.schedule.lr_at(4_999), 0.05);
        assert!((b.schedule.lr_at(5_000) - 0.005).abs() < 1e-15);
        assert_eq!(b.validate(), Ok(()));
    }

    #[test]
    fn network_presets_are_valid() {
        assert_eq!(SweepSpec::fashion_cpu().validate(), Ok(()));
        assert_eq!(SweepSpec::paper_cifar_gpu().validate(), Ok(()));
        let b = SweepSpec::fashion_cpu().branch(30);
        assert_eq!(b.total_steps(), 45 * 80);
        assert!((b.schedule.lr_at(30 * 80) - 0.01).abs() < 1e-15);
    }

    #[test]
    fn bad_sweeps_name_their_fields() {
        let mut s = SweepSpec::toy_paper();
        s.branch_at = vec![5, 3];
        s.branch_length = 0;
        s.main.schedule = Schedule::Constant { lr: f64::NAN };
        let f: Vec<String> = s
            .validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect();
        for want in ["branch_at", "branch_length", "main.schedule.lr"] {
            assert!(f.iter().any(|x| x == want), "missing {want} in {f:?}");
        }
    }

    #[test]
    fn replicates_share_the_data_and_differ_in_training_noise() {
        let mut s = SweepSpec::toy_paper();
        s.main.seed = 7;
        s.seeds = vec![7, 1, 2];
        assert_eq!(s.validate(), Ok(()));
        // The main run's own seed keeps its spec (and its name) as before replicates.
        assert_eq!(s.branch_for(7, 5_000), s.branch(5_000));
        assert_eq!(s.main_for(7).data_seed, None);
        let b = s.branch_for(2, 5_000);
        assert_eq!((b.seed, b.data_seed(), b.data_seed), (2, 7, Some(7)));
        assert!(b.name.contains("seed 2"), "{}", b.name);
        assert_eq!(b.schedule, s.branch(5_000).schedule);
        // Serialised, a one-seed sweep and a plain run read as they always did.
        let plain = serde_json::to_string(&SweepSpec::toy_paper()).unwrap_or_default();
        assert!(
            !plain.contains("seeds") && !plain.contains("data_seed"),
            "{plain}"
        );
    }

    #[test]
    fn seed_lists_are_bounded_and_distinct() {
        let mut s = SweepSpec::toy_paper();
        s.seeds = (0..17).collect();
        let f = s.validate().err().unwrap_or_default();
        assert!(
            f.iter()
                .any(|e| e.field == "seeds" && e.message.contains("16")),
            "{f:?}"
        );
        s.seeds = vec![1, 2, 1];
        let f = s.validate().err().unwrap_or_default();
        assert!(
            f.iter()
                .any(|e| e.message.contains("seed 1 is given twice")),
            "{f:?}"
        );
        let mut errs = Vec::new();
        check_seeds(&[0, 1], &[1], &mut errs);
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs.clear();
        check_seeds(&[0, 1], &[], &mut errs);
        assert!(errs[0].message.contains("at least one"), "{errs:?}");
    }

    #[test]
    fn configs_read_as_words() {
        assert_eq!(
            ModelSpec::Mlp {
                hidden: vec![512, 512]
            }
            .describe(),
            "MLP, hidden layers 512 × 512 (ReLU)"
        );
        let sgd = OptimizerSpec::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 1e-4,
        };
        assert_eq!(sgd.describe(), "SGD, momentum 0.9, weight decay 0.0001");
        assert_eq!(
            LossKind::Mse.describe(),
            "mean squared error on one-hot targets"
        );
    }
}

//! A network on an image dataset: the dataset, the model, the loss and the optimizer, with the
//! optimizer defaults of the reference implementations.

use serde::{Deserialize, Serialize};

use crate::layers::LayerSpec;

/// The data a network trains on: a built-in dataset in its official on-disk format, or one
/// registered with the server (an image folder, arrays or a table a user brought).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetChoice {
    FashionMnist,
    Mnist,
    Cifar10,
    /// `{"registered": {"name": "…"}}`: the server pins the content hash and fills in the facts
    /// from its registry when the run is submitted, so a stored run names exactly its data.
    Registered(DatasetRef),
}

/// A registered dataset as a run names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetRef {
    pub name: String,
    /// SHA-256 of the dataset's cache file. Given by a client, it must match the registry's
    /// entry of that name (any version); absent, the server pins the newest version's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// What validation needs to know of the data; the server always replaces a client's values
    /// with the registry's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<DatasetFacts>,
}

/// The shape and sizes of a registered dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetFacts {
    /// [channels, height, width]; a table or feature vectors are [1, 1, features].
    pub shape: [u32; 3],
    pub classes: u32,
    pub train: u32,
    pub test: u32,
    /// The fewest training examples of any class: the most `train_per_class` can ask for.
    pub min_train_per_class: u32,
    /// Images (augmentable, convolvable) rather than feature vectors.
    pub images: bool,
}

impl DatasetChoice {
    /// The facts of a built-in dataset, or of a registered one once the server filled them in.
    pub fn facts(&self) -> Option<DatasetFacts> {
        let builtin = |shape, train, min_train_per_class| {
            Some(DatasetFacts {
                shape,
                classes: 10,
                train,
                test: 10_000,
                min_train_per_class,
                images: true,
            })
        };
        match self {
            Self::FashionMnist => builtin([1, 28, 28], 60_000, 6_000),
            // MNIST's classes are not balanced: its rarest training digit, 5, has 5,421 images.
            Self::Mnist => builtin([1, 28, 28], 60_000, 5_421),
            Self::Cifar10 => builtin([3, 32, 32], 50_000, 5_000),
            Self::Registered(r) => r.facts.clone(),
        }
    }
    /// Examples in the full training split (0 while a registered dataset's facts are unknown).
    pub fn train_size(&self) -> u32 {
        self.facts().map_or(0, |f| f.train)
    }
    pub fn test_size(&self) -> u32 {
        self.facts().map_or(0, |f| f.test)
    }
    pub fn classes(&self) -> u32 {
        self.facts().map_or(0, |f| f.classes)
    }
    pub fn label(&self) -> String {
        match self {
            Self::FashionMnist => "Fashion-MNIST".into(),
            Self::Mnist => "MNIST".into(),
            Self::Cifar10 => "CIFAR-10".into(),
            Self::Registered(r) => r.name.clone(),
        }
    }
    /// The registered dataset's content hash, once pinned.
    pub fn registered_hash(&self) -> Option<&str> {
        match self {
            Self::Registered(r) => r.hash.as_deref(),
            _ => None,
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
    /// A network described layer by layer: the user's own architecture, or a preset's
    /// (`experiment::presets`). The built-in kinds above expand to the same lists
    /// ([`ModelSpec::to_layers`]).
    Layers { layers: Vec<LayerSpec> },
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

impl OptimizerSpec {
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
pub(crate) fn default_weight_lr_power() -> f64 {
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
            Some(k) => k.saturating_mul(self.dataset.classes()),
            None => self.dataset.train_size(),
        }
    }
    pub fn steps_per_epoch(&self) -> u64 {
        u64::from(self.train_size().div_ceil(self.batch.max(1)).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

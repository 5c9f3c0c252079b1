//! Run specifications: what a user asks Anneal to train, as serde data, with the field-level
//! validation that both the browser form and the server apply.
//!
//! One module per concern; the types are re-exported here, so `experiment::RunSpec` and the
//! like name them wherever they live:
//!
//! | module | holds |
//! |---|---|
//! | `run` | a training run (`RunSpec`): its `Experiment`, schedule, seeds and `BackendChoice` |
//! | `toy` | the toy model's knobs (`ToySpec`) |
//! | `layers` | a network as a list of layers (`LayerSpec`, `Shortcut`), and the built-in models as such lists |
//! | [`shape`] | shape inference over a layer list: each layer's output, parameters, FLOPs and activations (`ModelShape`), or its errors |
//! | [`zoo`] | named architectures: `resnet20`, `resnet18_cifar`, and every model preset by id (`model_presets`) |
//! | `net` | a network: `NetSpec`, `DatasetChoice`, `ModelSpec`, `VggWidth`, `LossKind`, `OptimizerSpec` |
//! | `sweep` | a main run and its decay branches (`SweepSpec`), the runs it expands to, `parse_points` |
//! | `presets` | the specs the form, the examples and the command line start from |
//! | `describe` | models, losses and optimizers in words |
//! | [`memory`] | what a run will allocate, refused before it is queued |
//! | `validation` | every check (`validate`, `check_seeds`), reporting under the paths of `fields` |
//! | [`fields`] | the path of every field an error can name, shared by the validator and the form |
//! | [`limits`] | upper bounds on one request |
//! | [`landscape`] | loss-landscape requests and their results |

mod describe;
pub mod fields;
pub mod landscape;
mod layers;
pub mod limits;
pub mod memory;
mod net;
mod presets;
mod run;
pub mod shape;
mod sweep;
mod toy;
mod validation;
pub mod zoo;

pub use layers::{LayerSpec, Shortcut};
pub use limits::{MAX_BRANCHES, MAX_SEEDS};
pub use net::{
    DatasetChoice, DatasetFacts, DatasetRef, LossKind, ModelSpec, NetSpec, OptimizerSpec, VggWidth,
};
pub use run::{BackendChoice, Experiment, RunSpec};
pub use shape::{LayerRow, ModelShape, Shape};
pub use sweep::{SweepSpec, parse_points};
pub use toy::ToySpec;
pub use validation::check_seeds;
pub use zoo::{ModelPreset, model_presets};

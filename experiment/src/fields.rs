//! The path of every field a validation error can name, in one place: the validator reports
//! its errors under these names and the browser form shows each error beside the input named
//! the same way, so a renamed field changes both or neither.
//!
//! A path follows the spec's JSON shape (`experiment.optimizer.momentum`). The experiment's
//! fields sit under `experiment` whichever kind it is, so the toy model and a network share
//! `experiment.batch`. A spec nested in another has its paths under the outer field
//! ([`nested`]): a sweep's main run under `main`, a run's schedule under `schedule`, with the
//! schedule's own paths as the schedule crate makes them.

/// `outer.path`: the path of a field of a spec that sits at `outer` in another spec.
pub fn nested(outer: &str, path: &str) -> String {
    format!("{outer}.{path}")
}

pub const NAME: &str = "name";
pub const SEED: &str = "seed";
pub const BACKEND: &str = "backend";
/// The LR schedule as a whole (an LR that grows out of bounds during the run).
pub const SCHEDULE: &str = "schedule";
/// The schedule's headline LR, which a run caps on top of the schedule's own checks.
pub const SCHEDULE_LR: &str = "schedule.lr";
/// A list of training seeds: a sweep's, or the replicates asked of a run.
pub const SEEDS: &str = "seeds";

/// The toy model's knobs (`Experiment::Toy`).
pub mod toy {
    pub const D: &str = "experiment.d";
    pub const N: &str = "experiment.n";
    pub const GAMMA: &str = "experiment.gamma";
    pub const LABEL_NOISE: &str = "experiment.label_noise";
    pub const INIT_SCALE: &str = "experiment.init_scale";
    pub const BATCH: &str = "experiment.batch";
    pub const STEPS: &str = "experiment.steps";
    pub const EVAL_EVERY: &str = "experiment.eval_every";
}

/// A network's knobs (`Experiment::Net`).
pub mod net {
    pub const DATASET: &str = "experiment.dataset";
    /// A registered dataset's name and pinned content hash.
    pub const DATASET_NAME: &str = "experiment.dataset.registered.name";
    pub const DATASET_HASH: &str = "experiment.dataset.registered.hash";
    pub const AUGMENT: &str = "experiment.augment";
    pub const DATA_DIR: &str = "experiment.data_dir";
    pub const TRAIN_PER_CLASS: &str = "experiment.train_per_class";
    pub const TEST_LIMIT: &str = "experiment.test_limit";
    /// The model's kind (a model the dataset cannot feed).
    pub const MODEL: &str = "experiment.model";
    /// An MLP's hidden widths.
    pub const MODEL_HIDDEN: &str = "experiment.model.hidden";
    /// A layer list as a whole (empty, too long); one layer's path is [`layer_path`].
    pub const MODEL_LAYERS: &str = "experiment.model.layers";
    pub const LOSS: &str = "experiment.loss";
    /// The optimizer's kind (one the model cannot be trained with).
    pub const OPTIMIZER: &str = "experiment.optimizer";
    pub const BATCH: &str = "experiment.batch";
    pub const EPOCHS: &str = "experiment.epochs";
    pub const CHECKPOINT_EVERY: &str = "experiment.checkpoint_every";

    /// The layer at `index` (outer index first: `[3, 1]` is layer 1 inside residual block 3),
    /// or one of its settings: `experiment.model.layers[3].layers[1].stride`. An empty index is
    /// the list itself.
    pub fn layer_path(index: &[usize], field: Option<&str>) -> String {
        let mut path = MODEL_LAYERS.to_owned();
        for (depth, i) in index.iter().enumerate() {
            if depth > 0 {
                path.push_str(".layers");
            }
            path.push_str(&format!("[{i}]"));
        }
        if let Some(field) = field {
            path.push('.');
            path.push_str(field);
        }
        path
    }

    /// The optimizer's settings; each kind has some of them.
    pub mod optimizer {
        pub const MOMENTUM: &str = "experiment.optimizer.momentum";
        pub const NESTEROV: &str = "experiment.optimizer.nesterov";
        pub const WEIGHT_DECAY: &str = "experiment.optimizer.weight_decay";
        pub const BETA1: &str = "experiment.optimizer.beta1";
        pub const BETA2: &str = "experiment.optimizer.beta2";
        pub const EPS: &str = "experiment.optimizer.eps";
        pub const R: &str = "experiment.optimizer.r";
        pub const WEIGHT_LR_POWER: &str = "experiment.optimizer.weight_lr_power";
    }
}

/// A sweep's own fields; its main run's paths nest under [`MAIN`](sweep::MAIN) and its
/// branches' schedule's under [`AFTER`](sweep::AFTER).
pub mod sweep {
    pub const MAIN: &str = "main";
    pub const AFTER: &str = "after";
    pub const BRANCH_AT: &str = "branch_at";
    pub const BRANCH_LENGTH: &str = "branch_length";
    pub const SCHEDULE_FREE_BASELINE: &str = "schedule_free_baseline";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_paths_join_with_a_dot() {
        assert_eq!(nested(sweep::MAIN, SCHEDULE), "main.schedule");
        assert_eq!(
            nested(sweep::MAIN, net::CHECKPOINT_EVERY),
            "main.experiment.checkpoint_every"
        );
    }

    #[test]
    fn layer_paths_follow_the_nesting() {
        assert_eq!(net::layer_path(&[], None), "experiment.model.layers");
        assert_eq!(net::layer_path(&[4], None), "experiment.model.layers[4]");
        assert_eq!(
            net::layer_path(&[4], Some("kernel")),
            "experiment.model.layers[4].kernel"
        );
        assert_eq!(
            net::layer_path(&[3, 1], Some("stride")),
            "experiment.model.layers[3].layers[1].stride"
        );
    }
}

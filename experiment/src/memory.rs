//! What a run will allocate, estimated before it is queued: a spec the machine cannot hold is
//! refused with a field error at validation, instead of aborting the server when training
//! allocates. The estimates are upper-leaning approximations, not measurements: weights,
//! gradients and optimizer state of every parameter, the activations kept for the backward
//! pass, and the data held in memory.

use crate::fields;
use crate::net::{ModelSpec, NetSpec};
use crate::run::{Experiment, RunSpec};
use crate::shape;
use crate::toy::ToySpec;

/// The most one run may plan to allocate. Several runs can share the server's memory (the
/// compute slots), and an allocation failure aborts the whole process, so a run gets 4 GiB.
pub const MAX_RUN_BYTES: u64 = 4 << 30;

const F32: u64 = 4;
const F64: u64 = 8;

impl RunSpec {
    /// About how many bytes training this run allocates at its peak.
    pub fn planned_bytes(&self) -> u64 {
        match &self.experiment {
            Experiment::Toy(t) => t.planned_bytes(),
            Experiment::Net(n) => n.planned_bytes(),
        }
    }

    /// The field a too-large run is reported on: the knob that makes it large.
    pub(crate) fn memory_field(&self) -> &'static str {
        match &self.experiment {
            Experiment::Toy(_) => fields::toy::D,
            Experiment::Net(NetSpec {
                model: ModelSpec::Mlp { .. },
                ..
            }) => fields::net::MODEL_HIDDEN,
            // A layer list too large before a single activation is the list's doing.
            Experiment::Net(
                n @ NetSpec {
                    model: ModelSpec::Layers { .. },
                    ..
                },
            ) if F32.saturating_mul(n.model_size().0).saturating_mul(6) > MAX_RUN_BYTES => {
                fields::net::MODEL_LAYERS
            }
            Experiment::Net(_) => fields::net::BATCH,
        }
    }
}

impl ToySpec {
    /// The data X (n×d) and its copy for the solve, X·Xᵀ and its factors (n×n) in f64 for the
    /// minimum-norm solution, and the model's tensors (X and a batch) in f32.
    pub fn planned_bytes(&self) -> u64 {
        let (n, d, b) = (u64::from(self.n), u64::from(self.d), u64::from(self.batch));
        let solve = F64 * (2 * n * d + 3 * n * n + 8 * d);
        let model = F32 * (n * d + 4 * b * d + 8 * d);
        solve.saturating_add(model)
    }
}

impl NetSpec {
    fn input(&self) -> (u64, u64, u64) {
        let [c, h, w] = self.dataset.facts().map_or([1, 1, 1], |f| f.shape);
        (u64::from(c), u64::from(h), u64::from(w))
    }

    /// (parameters, activations per sample) of the model, as shape inference counts them for
    /// the model table. A model that does not fit its input counts (0, 0): validation refuses
    /// it before the memory plan is asked.
    pub(crate) fn model_size(&self) -> (u64, u64) {
        let facts = self.dataset.facts();
        let input = facts.as_ref().map_or([1, 1, 1], |f| f.shape);
        let classes = self.dataset.classes().max(1);
        shape::infer(&self.model.to_layers(classes), input, classes)
            .map_or((0, 0), |m| (m.params, m.activations))
    }

    /// Weights, gradients, two optimizer moments and a flat copy (for ‖w‖ and checkpoints) of
    /// every parameter, and for a schedule-free optimizer the averaged weights x it is
    /// evaluated at; activations and their gradients for one batch; the images in memory.
    pub fn planned_bytes(&self) -> u64 {
        let (params, per_sample) = self.model_size();
        let (c, h, w) = self.input();
        let images = u64::from(self.train_size())
            + u64::from(self.test_limit.unwrap_or(self.dataset.test_size()));
        let data = F32.saturating_mul(images).saturating_mul(c * h * w);
        let copies = if self.optimizer.is_schedule_free() {
            6
        } else {
            5
        };
        let weights = F32.saturating_mul(params).saturating_mul(copies);
        let acts = F32
            .saturating_mul(u64::from(self.batch))
            .saturating_mul(per_sample)
            .saturating_mul(2);
        data.saturating_add(weights).saturating_add(acts)
    }
}

/// Slack on a checkpoint's size for what is not a parameter: batch-norm statistics, the
/// recorder's per-tensor headers, the position file.
const CHECKPOINT_SLACK: u64 = 4 << 20;

impl RunSpec {
    /// The most one checkpoint of this run can legitimately hold, in bytes: the server refuses a
    /// larger upload from the run's worker before reading it. A checkpoint keeps the weights, at
    /// most two optimizer moments, and a schedule-free run's averaged weights: four f32 copies
    /// of every parameter. The toy model keeps no checkpoints.
    pub fn checkpoint_bytes_bound(&self) -> u64 {
        match &self.experiment {
            Experiment::Toy(_) => 0,
            Experiment::Net(n) => {
                let (params, _) = n.model_size();
                F32.saturating_mul(params)
                    .saturating_mul(4)
                    .saturating_add(CHECKPOINT_SLACK)
            }
        }
    }
}

/// "1.5 GiB", for messages.
pub(crate) fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::LayerSpec;
    use crate::net::VggWidth;

    #[test]
    fn schedule_free_plans_for_its_averaged_weights() {
        let plain = NetSpec::fashion_mlp();
        let sf = NetSpec {
            optimizer: plain.optimizer.schedule_free_counterpart(),
            ..plain.clone()
        };
        let (params, _) = plain.model_size();
        assert_eq!(sf.planned_bytes() - plain.planned_bytes(), F32 * params);
    }

    #[test]
    fn the_presets_fit_and_the_probes_do_not() {
        assert!(RunSpec::toy_default().planned_bytes() < 1 << 20);
        let mut big_toy = ToySpec::paper_default();
        (big_toy.d, big_toy.n, big_toy.batch) = (10_000, 9_999, 9_999);
        assert!(
            big_toy.planned_bytes() > MAX_RUN_BYTES,
            "{}",
            gib(big_toy.planned_bytes())
        );
        let mut mlp = NetSpec::fashion_mlp();
        assert!(
            mlp.planned_bytes() < 1 << 30,
            "{}",
            gib(mlp.planned_bytes())
        );
        mlp.model = ModelSpec::Mlp {
            hidden: vec![65_536; 16],
        };
        // 16 × 65,536² weights alone are about 275 GB.
        assert!(mlp.planned_bytes() > 200_000_000_000);
    }

    #[test]
    fn checkpoints_are_bounded_by_the_model_not_by_the_route() {
        assert_eq!(RunSpec::toy_default().checkpoint_bytes_bound(), 0);
        let mlp = NetSpec::fashion_mlp();
        let (params, _) = mlp.model_size();
        let spec = RunSpec {
            experiment: Experiment::Net(mlp),
            ..RunSpec::toy_default()
        };
        let bound = spec.checkpoint_bytes_bound();
        assert_eq!(bound, 16 * params + CHECKPOINT_SLACK);
        // Far below the 2 GiB the route allowed any job before.
        assert!(bound < 64 << 20, "{bound}");
    }

    #[test]
    fn the_plan_counts_what_the_model_table_shows() {
        let mut net = NetSpec::fashion_mlp();
        // 784 + 512 + 512 → 669,706 parameters; the input, two hidden layers and their ReLUs,
        // and the 10 scores are stored.
        assert_eq!(net.model_size(), (669_706, 784 + 4 * 512 + 10));
        net.dataset = crate::net::DatasetChoice::Cifar10;
        net.model = ModelSpec::Layers {
            layers: crate::zoo::resnet20(10),
        };
        let table = shape::infer(&crate::zoo::resnet20(10), [3, 32, 32], 10).expect("fits");
        assert_eq!(net.model_size(), (table.params, table.activations));
        assert!(
            net.planned_bytes() < MAX_RUN_BYTES,
            "{}",
            gib(net.planned_bytes())
        );
        // Weights alone beyond the budget are the layer list's fault, not the batch's.
        net.model = ModelSpec::Layers {
            layers: vec![
                LayerSpec::Flatten {},
                LayerSpec::linear(65_536),
                LayerSpec::linear(65_536),
                LayerSpec::linear(10),
            ],
        };
        let run = RunSpec {
            experiment: Experiment::Net(net),
            ..RunSpec::toy_default()
        };
        let errs = run.validate().expect_err("too large");
        assert_eq!(errs[0].field, "experiment.model.layers", "{errs:?}");
    }

    #[test]
    fn a_wide_batch_of_images_counts_its_activations() {
        let mut vgg = NetSpec::fashion_mlp();
        vgg.dataset = crate::net::DatasetChoice::Cifar10;
        vgg.model = ModelSpec::Vgg11 {
            width: VggWidth::Narrow,
            batch_norm: false,
        };
        vgg.batch = 125;
        assert!(
            vgg.planned_bytes() < MAX_RUN_BYTES,
            "{}",
            gib(vgg.planned_bytes())
        );
        vgg.batch = 65_536;
        assert!(
            vgg.planned_bytes() > MAX_RUN_BYTES,
            "{}",
            gib(vgg.planned_bytes())
        );
    }
}

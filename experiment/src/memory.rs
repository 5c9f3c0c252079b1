//! What a run will allocate, estimated before it is queued: a spec the machine cannot hold is
//! refused with a field error at validation, instead of aborting the server when training
//! allocates. The estimates are upper-leaning approximations, not measurements: weights,
//! gradients and optimizer state of every parameter, the activations kept for the backward
//! pass, and the data held in memory.

use crate::fields;
use crate::net::{ModelSpec, NetSpec, VggWidth};
use crate::run::{Experiment, RunSpec};
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

/// A layer plan: convolutions (channels out; 0 is a 2×2 max-pool), then fully connected widths.
fn vgg_plan(width: VggWidth) -> (&'static [u64], &'static [u64]) {
    match width {
        VggWidth::Narrow => (
            &[32, 0, 64, 0, 64, 64, 0, 128, 128, 0, 256, 256, 0],
            &[256, 128, 128],
        ),
        VggWidth::Standard => (
            &[64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
            &[512, 512],
        ),
    }
}

impl NetSpec {
    fn input(&self) -> (u64, u64, u64) {
        let [c, h, w] = self.dataset.facts().map_or([1, 1, 1], |f| f.shape);
        (u64::from(c), u64::from(h), u64::from(w))
    }

    /// (parameters, activations per sample) of the model.
    fn model_size(&self) -> (u64, u64) {
        let (c, h, w) = self.input();
        let classes = u64::from(self.dataset.classes().max(1));
        let dense = |mut inputs: u64, widths: &[u64]| {
            let (mut params, mut acts) = (0u64, inputs);
            for &out in widths.iter().chain(std::iter::once(&classes)) {
                params = params.saturating_add(inputs.saturating_mul(out) + out);
                // Pre- and post-activation are both kept for the backward pass.
                acts = acts.saturating_add(2 * out);
                inputs = out;
            }
            (params, acts)
        };
        let convs = |plan: &[u64], fc: &[u64]| {
            let (mut cin, mut side_h, mut side_w) = (c, h, w);
            let (mut params, mut acts) = (0u64, c * h * w);
            for &cout in plan {
                if cout == 0 {
                    side_h = (side_h / 2).max(1);
                    side_w = (side_w / 2).max(1);
                    acts += cin * side_h * side_w;
                } else {
                    params += 9 * cin * cout + cout;
                    acts += 2 * cout * side_h * side_w;
                    cin = cout;
                }
            }
            let (p, a) = dense(cin * side_h * side_w, fc);
            (params + p, acts + a)
        };
        match &self.model {
            ModelSpec::Mlp { hidden } => {
                let widths: Vec<u64> = hidden.iter().map(|&w| u64::from(w)).collect();
                dense(c * h * w, &widths)
            }
            ModelSpec::SmallCnn => convs(&[32, 0, 64, 0], &[128]),
            ModelSpec::Vgg11 { width, .. } => {
                let (plan, fc) = vgg_plan(*width);
                convs(plan, fc)
            }
            // Counted by shape inference (the layer-list issue's next commit).
            ModelSpec::Layers { .. } => (0, 0),
        }
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

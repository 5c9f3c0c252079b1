//! Schedule-Free SGD and AdamW (Defazio et al., "The Road Less Scheduled", arXiv 2405.15682)
//! as Burn `SimpleOptimizer`s, transcribed from the `schedulefree` package's
//! `SGDScheduleFree` and `AdamWScheduleFree` (v1.4.1), plus the map from the weights the model
//! holds to the averaged iterate that is evaluated.
//!
//! Three sequences per parameter: z (the base SGD/Adam iterate), x (the weighted average of
//! the z's, what is evaluated) and y = β·x + (1−β)·z (where the gradient is taken). Like the
//! package, the model holds y and the state holds z; x is recovered as lerp(y, z, 1 − 1/β).
//! One step with LR γ_k (the run's schedule, warmup included) and g = ∇f(y):
//!
//! ```text
//! lr_max  = max(lr_max, γ_k)                      (starts at −1)
//! weight  = (k+1)^r · lr_max^weight_lr_power
//! c       = weight / (weight_sum += weight)       (0 while weight_sum is 0)
//! SGD:    g ← g + λ·y
//! AdamW:  v ← β₂·v + (1−β₂)·g²;  g ← g / (√(v / (1−β₂^(k+1))) + ε) + λ·y
//! y ← lerp(y, z, c) + γ_k·(β·(1−c) − 1)·g
//! z ← z − γ_k·g
//! ```
//!
//! The package keeps k, weight_sum and lr_max once per parameter group; `SimpleOptimizer` sees
//! one parameter at a time, so every parameter's state carries its own copy. All of a network's
//! parameters get a gradient at every step (BatchNorm, whose running statistics are not
//! parameters, is refused by the spec), so the copies advance together and stay equal.

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{LearningRate, Optimizer};
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use super::model::Net;

/// The averaging weights' knobs, shared by both optimizers.
#[derive(Clone, Copy, Debug)]
pub struct Averaging {
    /// β (SGD's momentum, AdamW's β₁): where y sits between x and z.
    pub beta: f64,
    /// L2 penalty added to the (preconditioned) gradient, evaluated at y.
    pub weight_decay: f64,
    pub r: f64,
    pub weight_lr_power: f64,
}

/// The scalars the package keeps per parameter group.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Counters {
    /// Steps taken.
    k: u64,
    weight_sum: f64,
    lr_max: f64,
}

impl Counters {
    const START: Self = Self {
        k: 0,
        weight_sum: 0.0,
        lr_max: -1.0,
    };

    /// The counters after a step at `lr`, and that step's averaging weight c_{k+1}.
    fn advance(self, lr: f64, a: &Averaging) -> (Self, f64) {
        let lr_max = lr.max(self.lr_max);
        // (k+1) as f64 is exact far beyond any run length allowed (2^53 steps).
        let weight = ((self.k + 1) as f64).powf(a.r) * lr_max.powf(a.weight_lr_power);
        let weight_sum = self.weight_sum + weight;
        // The package catches ZeroDivisionError (an LR of 0 at the first steps) as c = 0.
        let c = if weight_sum == 0.0 {
            0.0
        } else {
            weight / weight_sum
        };
        (
            Self {
                k: self.k + 1,
                weight_sum,
                lr_max,
            },
            c,
        )
    }
}

/// PyTorch's `lerp`: a + w·(b − a), switching to b − (b − a)·(1 − w) for |w| ≥ 0.5 as ATen
/// does, so that w = 1 (the first step's c) gives b exactly and the rounding matches.
fn lerp<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>, w: f64) -> Tensor<B, D> {
    // ATen compares the weight after its conversion to the tensor's element type.
    let w32 = w as f32;
    if w32.abs() < 0.5 {
        let diff = b.sub(a.clone());
        a.add(diff.mul_scalar(w32))
    } else {
        let diff = b.clone().sub(a);
        b.sub(diff.mul_scalar(1.0 - w32))
    }
}

/// The shared tail of both steps: y and z from the (preconditioned, decayed) direction `g`.
fn interpolate<B: Backend, const D: usize>(
    y: Tensor<B, D>,
    z: Tensor<B, D>,
    g: Tensor<B, D>,
    lr: f64,
    c: f64,
    beta: f64,
) -> (Tensor<B, D>, Tensor<B, D>) {
    let y = lerp(y, z.clone(), c).add(g.clone().mul_scalar(lr * (beta * (1.0 - c) - 1.0)));
    let z = z.sub(g.mul_scalar(lr));
    (y, z)
}

/// x = lerp(y, z, 1 − 1/β), the package's `eval()`.
fn average<B: Backend, const D: usize>(
    y: Tensor<B, D>,
    z: Tensor<B, D>,
    beta: f64,
) -> Tensor<B, D> {
    lerp(y, z, 1.0 - 1.0 / beta)
}

/// Schedule-Free SGD (`schedulefree.SGDScheduleFree`).
#[derive(Clone, Debug)]
pub struct ScheduleFreeSgd {
    pub averaging: Averaging,
}

/// Schedule-Free AdamW (`schedulefree.AdamWScheduleFree`).
#[derive(Clone, Debug)]
pub struct ScheduleFreeAdamW {
    pub averaging: Averaging,
    pub beta2: f64,
    pub eps: f64,
}

#[derive(Record, Clone)]
pub struct ScheduleFreeSgdState<B: Backend, const D: usize> {
    pub z: Tensor<B, D>,
    pub k: u64,
    pub weight_sum: f64,
    pub lr_max: f64,
}

#[derive(Record, Clone)]
pub struct ScheduleFreeAdamWState<B: Backend, const D: usize> {
    pub z: Tensor<B, D>,
    pub exp_avg_sq: Tensor<B, D>,
    pub k: u64,
    pub weight_sum: f64,
    pub lr_max: f64,
}

impl<B: Backend> SimpleOptimizer<B> for ScheduleFreeSgd {
    type State<const D: usize> = ScheduleFreeSgdState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        y: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let a = &self.averaging;
        let (z, counters) = match state {
            Some(s) => (
                s.z,
                Counters {
                    k: s.k,
                    weight_sum: s.weight_sum,
                    lr_max: s.lr_max,
                },
            ),
            None => (y.clone(), Counters::START),
        };
        let (counters, c) = counters.advance(lr, a);
        let g = if a.weight_decay != 0.0 {
            grad.add(y.clone().mul_scalar(a.weight_decay))
        } else {
            grad
        };
        let (y, z) = interpolate(y, z, g, lr, c, a.beta);
        let state = ScheduleFreeSgdState {
            z,
            k: counters.k,
            weight_sum: counters.weight_sum,
            lr_max: counters.lr_max,
        };
        (y, Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.z = state.z.to_device(device);
        state
    }
}

impl<B: Backend> SimpleOptimizer<B> for ScheduleFreeAdamW {
    type State<const D: usize> = ScheduleFreeAdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        y: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let a = &self.averaging;
        let (z, exp_avg_sq, counters) = match state {
            Some(s) => (
                s.z,
                s.exp_avg_sq,
                Counters {
                    k: s.k,
                    weight_sum: s.weight_sum,
                    lr_max: s.lr_max,
                },
            ),
            None => (y.clone(), y.zeros_like(), Counters::START),
        };
        // Before `advance`: the package takes 1 − β₂^(k+1) with the step's own k + 1.
        let bias_correction2 = 1.0 - self.beta2.powf((counters.k + 1) as f64);
        let (counters, c) = counters.advance(lr, a);
        // addcmul: v·β₂ + ((1−β₂)·g)·g, in the package's order.
        let exp_avg_sq = exp_avg_sq
            .mul_scalar(self.beta2)
            .add(grad.clone().mul_scalar(1.0 - self.beta2).mul(grad.clone()));
        // ε outside the root, after the bias correction: √(v / (1−β₂^(k+1))) + ε.
        let denom = exp_avg_sq
            .clone()
            .div_scalar(bias_correction2)
            .sqrt()
            .add_scalar(self.eps);
        let g = grad.div(denom);
        // Decoupled from the preconditioner: λ·y is added after the division.
        let g = if a.weight_decay != 0.0 {
            g.add(y.clone().mul_scalar(a.weight_decay))
        } else {
            g
        };
        let (y, z) = interpolate(y, z, g, lr, c, a.beta);
        let state = ScheduleFreeAdamWState {
            z,
            exp_avg_sq,
            k: counters.k,
            weight_sum: counters.weight_sum,
            lr_max: counters.lr_max,
        };
        (y, Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.z = state.z.to_device(device);
        state.exp_avg_sq = state.exp_avg_sq.to_device(device);
        state
    }
}

/// A schedule-free optimizer: its β and where its state keeps z.
pub trait ScheduleFree<B: Backend>: SimpleOptimizer<B> {
    fn beta(&self) -> f64;
    fn z<const D: usize>(state: Self::State<D>) -> Tensor<B, D>;
}

impl<B: Backend> ScheduleFree<B> for ScheduleFreeSgd {
    fn beta(&self) -> f64 {
        self.averaging.beta
    }
    fn z<const D: usize>(state: Self::State<D>) -> Tensor<B, D> {
        state.z
    }
}

impl<B: Backend> ScheduleFree<B> for ScheduleFreeAdamW {
    fn beta(&self) -> f64 {
        self.averaging.beta
    }
    fn z<const D: usize>(state: Self::State<D>) -> Tensor<B, D> {
        state.z
    }
}

/// Replaces each parameter y that has a state by its x; one without (no step taken yet, where
/// x = y = z) stays as it is.
struct ToAverage<O, B>
where
    B: AutodiffBackend,
    O: ScheduleFree<B::InnerBackend>,
{
    records: <OptimizerAdaptor<O, Net<B>, B> as Optimizer<Net<B>, B>>::Record,
    beta: f64,
}

impl<O, B> ModuleMapper<B::InnerBackend> for ToAverage<O, B>
where
    B: AutodiffBackend,
    O: ScheduleFree<B::InnerBackend>,
{
    fn map_float<const D: usize>(
        &mut self,
        param: Param<Tensor<B::InnerBackend, D>>,
    ) -> Param<Tensor<B::InnerBackend, D>> {
        let Some(record) = self.records.remove(&param.id) else {
            return param;
        };
        let z = O::z(record.into_state::<D>());
        let beta = self.beta;
        param.map(|y| {
            let z = z.to_device(&y.device());
            average(y, z, beta)
        })
    }
}

/// The model at the averaged iterate x of `optim`'s state, for evaluation (no graph).
pub fn averaged<O, B>(
    optim: &OptimizerAdaptor<O, Net<B>, B>,
    model: Net<B::InnerBackend>,
) -> Net<B::InnerBackend>
where
    B: AutodiffBackend,
    O: ScheduleFree<B::InnerBackend>,
{
    model.map(&mut ToAverage::<O, B> {
        records: optim.to_record(),
        beta: optim.optim().beta(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn averaging(r: f64, weight_lr_power: f64) -> Averaging {
        Averaging {
            beta: 0.9,
            weight_decay: 0.0,
            r,
            weight_lr_power,
        }
    }

    #[test]
    fn the_first_step_takes_z_and_warmup_steps_weigh_by_the_largest_lr() {
        let a = averaging(0.0, 2.0);
        let (c1, w1) = Counters::START.advance(0.1, &a);
        assert_eq!(w1, 1.0, "x₁ = z₁");
        assert_eq!(c1.lr_max, 0.1);
        let (c2, w2) = c1.advance(0.2, &a);
        // weights 0.1², 0.2²: c₂ = 0.04 / 0.05.
        assert!((w2 - 0.8).abs() < 1e-15, "{w2}");
        // A lower LR later does not lower the weight: lr_max is a running maximum.
        let (c3, w3) = c2.advance(0.05, &a);
        assert_eq!(c3.lr_max, 0.2);
        assert!((w3 - 0.04 / 0.09).abs() < 1e-15, "{w3}");
        assert_eq!(c3.k, 3);
    }

    #[test]
    fn polynomial_weights_and_a_zero_lr_start() {
        let (c, w) = Counters::START.advance(0.0, &averaging(0.0, 2.0));
        assert_eq!((w, c.weight_sum), (0.0, 0.0), "no ZeroDivisionError, c = 0");
        let a = averaging(1.0, 0.0);
        let (c1, _) = Counters::START.advance(0.3, &a);
        let (_, w2) = c1.advance(0.3, &a);
        // weights 1, 2: c₂ = 2/3.
        assert!((w2 - 2.0 / 3.0).abs() < 1e-15, "{w2}");
    }
}

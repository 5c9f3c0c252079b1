//! The optimizers a run can choose, behind one type, and the weights each one evaluates.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamW, AdamWConfig, GradientsParams, Optimizer, Sgd, SgdConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use experiment::OptimizerSpec;

use super::model::Net;
use super::schedule_free::{self, Averaging, ScheduleFreeAdamW, ScheduleFreeSgd};

pub enum AnyOptim<B: AutodiffBackend> {
    Sgd(OptimizerAdaptor<Sgd<B::InnerBackend>, Net<B>, B>),
    AdamW(OptimizerAdaptor<AdamW, Net<B>, B>),
    ScheduleFreeSgd(OptimizerAdaptor<ScheduleFreeSgd, Net<B>, B>),
    ScheduleFreeAdamW(OptimizerAdaptor<ScheduleFreeAdamW, Net<B>, B>),
}

impl<B: AutodiffBackend> AnyOptim<B> {
    pub fn new(spec: &OptimizerSpec) -> Self {
        match *spec {
            OptimizerSpec::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                let mut cfg = SgdConfig::new();
                if momentum > 0.0 {
                    // PyTorch's defaults: no dampening (Burn's default is 0.1).
                    cfg = cfg.with_momentum(Some(MomentumConfig {
                        momentum,
                        dampening: 0.0,
                        nesterov,
                    }));
                }
                if weight_decay > 0.0 {
                    cfg = cfg.with_weight_decay(Some(WeightDecayConfig {
                        penalty: weight_decay as f32,
                    }));
                }
                Self::Sgd(cfg.init())
            }
            OptimizerSpec::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => Self::AdamW(
                AdamWConfig::new()
                    .with_beta_1(beta1 as f32)
                    .with_beta_2(beta2 as f32)
                    .with_epsilon(eps as f32)
                    .with_weight_decay(weight_decay as f32)
                    .init(),
            ),
            OptimizerSpec::ScheduleFreeSgd {
                momentum,
                weight_decay,
                r,
                weight_lr_power,
            } => Self::ScheduleFreeSgd(OptimizerAdaptor::from(ScheduleFreeSgd {
                averaging: Averaging {
                    beta: momentum,
                    weight_decay,
                    r,
                    weight_lr_power,
                },
            })),
            OptimizerSpec::ScheduleFreeAdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                r,
                weight_lr_power,
            } => Self::ScheduleFreeAdamW(OptimizerAdaptor::from(ScheduleFreeAdamW {
                averaging: Averaging {
                    beta: beta1,
                    weight_decay,
                    r,
                    weight_lr_power,
                },
                beta2,
                eps,
            })),
        }
    }

    pub fn step(&mut self, lr: f64, model: Net<B>, grads: GradientsParams) -> Net<B> {
        match self {
            Self::Sgd(o) => o.step(lr, model, grads),
            Self::AdamW(o) => o.step(lr, model, grads),
            Self::ScheduleFreeSgd(o) => o.step(lr, model, grads),
            Self::ScheduleFreeAdamW(o) => o.step(lr, model, grads),
        }
    }

    /// Whether the weights the model holds (y) are not the ones to evaluate (x).
    pub fn is_schedule_free(&self) -> bool {
        matches!(self, Self::ScheduleFreeSgd(_) | Self::ScheduleFreeAdamW(_))
    }

    /// The model to evaluate, without a graph: `model` itself for SGD and AdamW, the averaged
    /// iterate x for schedule-free, whose `model` holds the gradient point y.
    pub fn eval_model(&self, model: &Net<B>) -> Net<B::InnerBackend> {
        let valid = model.valid();
        match self {
            Self::Sgd(_) | Self::AdamW(_) => valid,
            Self::ScheduleFreeSgd(o) => schedule_free::averaged(o, valid),
            Self::ScheduleFreeAdamW(o) => schedule_free::averaged(o, valid),
        }
    }

    /// [`Self::eval_model`], with batch norm's running statistics recomputed at x on `sample`
    /// for schedule-free (those in the model were gathered at y; see `norm_stats`).
    pub fn eval_model_on(
        &self,
        model: &Net<B>,
        sample: &[Tensor<B::InnerBackend, 4>],
    ) -> Net<B::InnerBackend> {
        let eval = self.eval_model(model);
        if self.is_schedule_free() {
            super::norm_stats::recompute::<B>(eval, sample)
        } else {
            eval
        }
    }
}

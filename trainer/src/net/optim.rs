//! The optimizers a run can choose, behind one type.

use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamW, AdamWConfig, GradientsParams, Optimizer, Sgd, SgdConfig};
use burn::tensor::backend::AutodiffBackend;
use spec::OptimizerSpec;

use super::model::Net;

pub enum AnyOptim<B: AutodiffBackend> {
    Sgd(OptimizerAdaptor<Sgd<B::InnerBackend>, Net<B>, B>),
    AdamW(OptimizerAdaptor<AdamW, Net<B>, B>),
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
        }
    }

    pub fn step(&mut self, lr: f64, model: Net<B>, grads: GradientsParams) -> Net<B> {
        match self {
            Self::Sgd(o) => o.step(lr, model, grads),
            Self::AdamW(o) => o.step(lr, model, grads),
        }
    }
}

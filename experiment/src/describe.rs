//! Specifications in words, as the run and sweep pages show them: "SGD, momentum 0.9",
//! "MLP, hidden layers 512 × 512 (ReLU)".

use crate::net::{LossKind, ModelSpec, OptimizerSpec, VggWidth, default_weight_lr_power};

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
            Self::Layers { layers } => format!("{} layers", layers.len()),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

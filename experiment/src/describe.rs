//! Specifications in words, as the run and sweep pages show them: "SGD, momentum 0.9",
//! "MLP, hidden layers 512 × 512 (ReLU)".

use crate::layers::LayerSpec;
use crate::limits;
use crate::net::{LossKind, ModelSpec, OptimizerSpec, VggWidth, default_weight_lr_power};
use crate::zoo;

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
            Self::Layers { layers } => describe_layers(layers),
        }
    }
}

/// "ResNet-20 (CIFAR), 68 layers (conv ×19, batch norm ×19, ReLU ×19, residual ×9, global
/// average pool, linear)": the preset's name when the list is one, then every kind with its
/// count (blocks' layers included), in the order they first appear.
fn describe_layers(layers: &[LayerSpec]) -> String {
    fn tally(layers: &[LayerSpec], kinds: &mut Vec<(&'static str, usize)>, depth: usize) {
        for l in layers {
            let name = kind_words(l);
            match kinds.iter_mut().find(|(k, _)| *k == name) {
                Some((_, n)) => *n += 1,
                None => kinds.push((name, 1)),
            }
            // Bounded like validation's count, so that no list recurses without end.
            if let LayerSpec::Residual { layers, .. } = l
                && depth < limits::MAX_LAYER_DEPTH
            {
                tally(layers, kinds, depth + 1);
            }
        }
    }
    if layers.is_empty() {
        return "no layers".into();
    }
    let mut kinds = Vec::new();
    tally(layers, &mut kinds, 0);
    let total: usize = kinds.iter().map(|(_, n)| n).sum();
    let counts = kinds
        .iter()
        .map(|&(k, n)| {
            if n == 1 {
                k.to_owned()
            } else {
                format!("{k} ×{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let plural = if total == 1 { "layer" } else { "layers" };
    let words = format!("{total} {plural} ({counts})");
    match preset_name(layers) {
        Some(label) => format!("{label}, {words}"),
        None => words,
    }
}

/// The preset this list is, sized by its last linear layer.
fn preset_name(layers: &[LayerSpec]) -> Option<&'static str> {
    let Some(LayerSpec::Linear { out, .. }) = layers.last() else {
        return None;
    };
    zoo::model_presets(*out)
        .into_iter()
        .find(|p| matches!(&p.model, ModelSpec::Layers { layers: l } if l == layers))
        .map(|p| p.label)
}

fn kind_words(layer: &LayerSpec) -> &'static str {
    match layer {
        LayerSpec::Conv { .. } => "conv",
        LayerSpec::BatchNorm {} => "batch norm",
        LayerSpec::Relu {} => "ReLU",
        LayerSpec::Gelu {} => "GELU",
        LayerSpec::Silu {} => "SiLU",
        LayerSpec::Tanh {} => "tanh",
        LayerSpec::MaxPool { .. } => "max pool",
        LayerSpec::AvgPool { .. } => "average pool",
        LayerSpec::GlobalAvgPool {} => "global average pool",
        LayerSpec::Dropout { .. } => "dropout",
        LayerSpec::Flatten {} => "flatten",
        LayerSpec::Linear { .. } => "linear",
        LayerSpec::Residual { .. } => "residual",
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
        assert_eq!(
            ModelSpec::Layers {
                layers: zoo::resnet20(10)
            }
            .describe(),
            "ResNet-20 (CIFAR), 68 layers (conv ×19, batch norm ×19, ReLU ×19, residual ×9, \
             global average pool, linear)"
        );
        let mut own = zoo::resnet20(10);
        own.truncate(3);
        own.extend([LayerSpec::Flatten {}, LayerSpec::linear(10)]);
        assert_eq!(
            ModelSpec::Layers { layers: own }.describe(),
            "5 layers (conv, batch norm, ReLU, flatten, linear)"
        );
        assert_eq!(ModelSpec::Layers { layers: vec![] }.describe(), "no layers");
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

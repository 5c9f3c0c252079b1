//! A network described as a list of layers: what a user writes to bring their own
//! architecture, and what the built-in models expand to. The trainer builds exactly this list;
//! `shape` checks it before anything runs.

use serde::{Deserialize, Serialize};

use crate::net::{ModelSpec, VggWidth};

/// One layer (settingless kinds are `{}` variants so that a stray field is an error, as
/// everywhere else in a spec). Images flow as [channels, height, width] until a `flatten` or a
/// `global_avg_pool` turns them into a vector; `linear` takes vectors only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// 2-D convolution (PyTorch's `Conv2d`): square kernel, zero padding on every side.
    Conv {
        out: u32,
        kernel: u32,
        #[serde(default = "one")]
        stride: u32,
        #[serde(default)]
        padding: u32,
        #[serde(default = "yes")]
        bias: bool,
    },
    /// Batch normalisation over the channels of an image, or the features of a vector:
    /// batch statistics while training, running statistics (momentum 0.1, ε 1e-5) when
    /// evaluated.
    BatchNorm {},
    Relu {},
    Gelu {},
    Silu {},
    Tanh {},
    /// Max pooling, square window; the stride defaults to the window.
    MaxPool {
        kernel: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<u32>,
    },
    /// Average pooling, square window, no padding; the stride defaults to the window.
    AvgPool {
        kernel: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<u32>,
    },
    /// The mean of each channel over the whole image: [c, h, w] → a vector of c.
    GlobalAvgPool {},
    /// Zeroes each value with probability `p` while training (scaling the rest by 1/(1−p)).
    Dropout {
        p: f64,
    },
    /// [c, h, w] → a vector of c·h·w.
    Flatten {},
    /// Fully connected layer.
    Linear {
        out: u32,
        #[serde(default = "yes")]
        bias: bool,
    },
    /// y = layers(x) + shortcut(x): He et al.'s residual block. Put the activation that
    /// follows the addition after the block.
    Residual {
        layers: Vec<LayerSpec>,
        #[serde(default)]
        shortcut: Shortcut,
    },
}

/// How a residual block carries its input to the addition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shortcut {
    /// The input as is: the block must keep its shape.
    #[default]
    Identity,
    /// A 1×1 convolution (no bias) with the block's stride, then batch norm: He et al.'s
    /// option B, for blocks that change the shape.
    Projection,
    /// The input subsampled with the block's stride and its new channels filled with zeros:
    /// He et al.'s option A, parameter-free, used by the CIFAR ResNets.
    Pad,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

impl LayerSpec {
    /// The layer's kind as written in a spec (`"conv"`, `"residual"`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Conv { .. } => "conv",
            Self::BatchNorm {} => "batch_norm",
            Self::Relu {} => "relu",
            Self::Gelu {} => "gelu",
            Self::Silu {} => "silu",
            Self::Tanh {} => "tanh",
            Self::MaxPool { .. } => "max_pool",
            Self::AvgPool { .. } => "avg_pool",
            Self::GlobalAvgPool {} => "global_avg_pool",
            Self::Dropout { .. } => "dropout",
            Self::Flatten {} => "flatten",
            Self::Linear { .. } => "linear",
            Self::Residual { .. } => "residual",
        }
    }

    /// A 3×3 convolution with padding 1 (the shape-keeping kind most image networks use).
    pub fn conv3(out: u32, stride: u32, bias: bool) -> Self {
        Self::Conv {
            out,
            kernel: 3,
            stride,
            padding: 1,
            bias,
        }
    }

    pub fn linear(out: u32) -> Self {
        Self::Linear { out, bias: true }
    }

    pub fn max_pool2() -> Self {
        Self::MaxPool {
            kernel: 2,
            stride: None,
        }
    }
}

impl ModelSpec {
    /// The model as the layer list the trainer builds, for a dataset of `classes` classes.
    /// The built-in kinds expand to the networks they always were (same layers, same order,
    /// so stored checkpoints still load); a layer list is itself.
    pub fn to_layers(&self, classes: u32) -> Vec<LayerSpec> {
        use LayerSpec as L;
        match self {
            Self::Layers { layers } => layers.clone(),
            Self::Mlp { hidden } => {
                let mut out = vec![L::Flatten {}];
                for &w in hidden {
                    out.extend([L::linear(w), L::Relu {}]);
                }
                out.push(L::linear(classes));
                out
            }
            // conv32-pool-conv64-pool-fc128.
            Self::SmallCnn => vec![
                L::conv3(32, 1, true),
                L::Relu {},
                L::max_pool2(),
                L::conv3(64, 1, true),
                L::Relu {},
                L::max_pool2(),
                L::Flatten {},
                L::linear(128),
                L::Relu {},
                L::linear(classes),
            ],
            Self::Vgg11 { width, batch_norm } => {
                // 0 marks a 2×2 max-pool.
                let (plan, fc): (&[u32], &[u32]) = match width {
                    VggWidth::Narrow => (
                        &[32, 0, 64, 0, 64, 64, 0, 128, 128, 0, 256, 256, 0],
                        &[128, 128],
                    ),
                    VggWidth::Standard => (
                        &[64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
                        &[512, 512],
                    ),
                };
                let mut out = Vec::new();
                for &p in plan {
                    if p == 0 {
                        out.push(L::max_pool2());
                    } else {
                        out.push(L::conv3(p, 1, true));
                        if *batch_norm {
                            out.push(L::BatchNorm {});
                        }
                        out.push(L::Relu {});
                    }
                }
                out.push(L::Flatten {});
                for &f in fc {
                    out.extend([L::linear(f), L::Relu {}, L::Dropout { p: 0.5 }]);
                }
                out.push(L::linear(classes));
                out
            }
        }
    }

    /// Whether any layer is batch norm (its running statistics then travel with the weights).
    pub fn has_batch_norm(&self) -> bool {
        fn any(layers: &[LayerSpec]) -> bool {
            layers.iter().any(|l| match l {
                LayerSpec::BatchNorm {}
                | LayerSpec::Residual {
                    shortcut: Shortcut::Projection,
                    ..
                } => true,
                LayerSpec::Residual { layers, .. } => any(layers),
                _ => false,
            })
        }
        match self {
            Self::Vgg11 { batch_norm, .. } => *batch_norm,
            Self::Layers { layers } => any(layers),
            Self::Mlp { .. } | Self::SmallCnn => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_read_from_json_with_pytorch_defaults() {
        let layers: Vec<LayerSpec> = serde_json::from_str(
            r#"[
                {"kind": "conv", "out": 16, "kernel": 3, "padding": 1},
                {"kind": "batch_norm"},
                {"kind": "relu"},
                {"kind": "residual", "shortcut": "pad", "layers": [
                    {"kind": "conv", "out": 32, "kernel": 3, "stride": 2, "padding": 1, "bias": false}
                ]},
                {"kind": "global_avg_pool"},
                {"kind": "linear", "out": 10}
            ]"#,
        )
        .expect("parses");
        assert_eq!(
            layers[0],
            LayerSpec::Conv {
                out: 16,
                kernel: 3,
                stride: 1,
                padding: 1,
                bias: true
            }
        );
        assert_eq!(
            layers[3],
            LayerSpec::Residual {
                layers: vec![LayerSpec::conv3(32, 2, false)],
                shortcut: Shortcut::Pad
            }
        );
        assert_eq!(layers[5], LayerSpec::linear(10));
        let back: Vec<LayerSpec> =
            serde_json::from_str(&serde_json::to_string(&layers).expect("writes")).expect("reads");
        assert_eq!(back, layers);
        assert!(
            serde_json::from_str::<LayerSpec>(r#"{"kind": "relu", "out": 3}"#).is_err(),
            "an activation takes no settings"
        );
        assert!(serde_json::from_str::<LayerSpec>(r#"{"kind": "conv", "out": 3}"#).is_err());
    }
}

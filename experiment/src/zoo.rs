//! Named architectures: the ResNets as layer lists, and the list of every model a user can
//! start from (built-in kinds and layer lists alike), which the form and the command line
//! offer by id.

use crate::layers::{LayerSpec, Shortcut};
use crate::net::{ModelSpec, VggWidth};

/// A model a user can pick by name.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelPreset {
    /// Stable, for the command line and URLs (`"resnet20"`).
    pub id: &'static str,
    /// For people (`"ResNet-20 (CIFAR)"`).
    pub label: &'static str,
    pub model: ModelSpec,
}

/// Every model preset, its final layer sized for `classes` classes.
pub fn model_presets(classes: u32) -> Vec<ModelPreset> {
    let preset = |id, label, model| ModelPreset { id, label, model };
    vec![
        preset(
            "mlp",
            "MLP 512 × 512",
            ModelSpec::Mlp {
                hidden: vec![512, 512],
            },
        ),
        preset("small_cnn", "small CNN", ModelSpec::SmallCnn),
        preset(
            "vgg11_narrow",
            "VGG-11, the paper's narrow width",
            ModelSpec::Vgg11 {
                width: VggWidth::Narrow,
                batch_norm: false,
            },
        ),
        preset(
            "vgg11",
            "VGG-11",
            ModelSpec::Vgg11 {
                width: VggWidth::Standard,
                batch_norm: false,
            },
        ),
        preset(
            "vgg11_bn",
            "VGG-11 with batch norm",
            ModelSpec::Vgg11 {
                width: VggWidth::Standard,
                batch_norm: true,
            },
        ),
        preset(
            "resnet20",
            "ResNet-20 (CIFAR)",
            ModelSpec::Layers {
                layers: resnet20(classes),
            },
        ),
        preset(
            "resnet18_cifar",
            "ResNet-18 (CIFAR)",
            ModelSpec::Layers {
                layers: resnet18_cifar(classes),
            },
        ),
    ]
}

/// The preset of this id, sized for `classes` classes.
pub fn model_preset(id: &str, classes: u32) -> Option<ModelSpec> {
    model_presets(classes)
        .into_iter()
        .find(|p| p.id == id)
        .map(|p| p.model)
}

/// He et al. 2016's ResNet-20 for CIFAR (§4.2): a 3×3 conv of 16, then three stages of three
/// basic blocks at 16, 32 and 64 channels, the first block of stages 2 and 3 halving the sides
/// with a zero-padding shortcut (option A, no parameters); global average pooling and a linear
/// classifier. 269,722 parameters for 10 classes (272,474 is the count with projection
/// shortcuts instead).
pub fn resnet20(classes: u32) -> Vec<LayerSpec> {
    resnet(&[(16, 3), (32, 3), (64, 3)], 16, Shortcut::Pad, classes)
}

/// ResNet-18 as the CIFAR codebases write it (e.g. kuangliu/pytorch-cifar): a 3×3 conv of 64
/// without max pooling, four stages of two basic blocks at 64, 128, 256 and 512 channels,
/// projection shortcuts (option B) where the shape changes. 11,173,962 parameters for 10
/// classes.
pub fn resnet18_cifar(classes: u32) -> Vec<LayerSpec> {
    resnet(
        &[(64, 2), (128, 2), (256, 2), (512, 2)],
        64,
        Shortcut::Projection,
        classes,
    )
}

/// A stem conv of `stem` channels, `(channels, blocks)` stages of basic blocks (each stage after
/// the first halves the sides in its first block, which then takes `down` as its shortcut),
/// global average pooling and a linear classifier.
fn resnet(stages: &[(u32, u32)], stem: u32, down: Shortcut, classes: u32) -> Vec<LayerSpec> {
    let mut out = vec![
        LayerSpec::conv3(stem, 1, false),
        LayerSpec::BatchNorm {},
        LayerSpec::Relu {},
    ];
    let mut channels = stem;
    for (stage, &(width, blocks)) in stages.iter().enumerate() {
        for block in 0..blocks {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let shortcut = if stride == 1 && width == channels {
                Shortcut::Identity
            } else {
                down
            };
            out.push(basic_block(width, stride, shortcut));
            out.push(LayerSpec::Relu {});
            channels = width;
        }
    }
    out.extend([LayerSpec::GlobalAvgPool {}, LayerSpec::linear(classes)]);
    out
}

/// Two 3×3 convs with batch norm; the ReLU after the addition follows the block.
fn basic_block(width: u32, stride: u32, shortcut: Shortcut) -> LayerSpec {
    LayerSpec::Residual {
        layers: vec![
            LayerSpec::conv3(width, stride, false),
            LayerSpec::BatchNorm {},
            LayerSpec::Relu {},
            LayerSpec::conv3(width, 1, false),
            LayerSpec::BatchNorm {},
        ],
        shortcut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet20_is_nine_blocks_with_two_downsampling_pad_shortcuts() {
        let layers = resnet20(10);
        // Stem (3), 9 × (block, ReLU), pool, linear.
        assert_eq!(layers.len(), 23);
        let shortcuts: Vec<Shortcut> = layers
            .iter()
            .filter_map(|l| match l {
                LayerSpec::Residual { shortcut, .. } => Some(*shortcut),
                _ => None,
            })
            .collect();
        assert_eq!(shortcuts.len(), 9);
        let pads: Vec<usize> = (0..9).filter(|&i| shortcuts[i] == Shortcut::Pad).collect();
        assert_eq!(pads, vec![3, 6]);
        assert_eq!(layers.last(), Some(&LayerSpec::linear(10)));
    }

    #[test]
    fn presets_have_unique_ids_and_are_found_by_them() {
        let presets = model_presets(10);
        let mut ids: Vec<&str> = presets.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), presets.len());
        assert_eq!(
            model_preset("resnet18_cifar", 100),
            Some(ModelSpec::Layers {
                layers: resnet18_cifar(100)
            })
        );
        assert_eq!(model_preset("resnet1000", 10), None);
    }
}

//! Shape inference against known parameter counts, and each error at its exact path.

use super::*;
use crate::layers::Shortcut;
use crate::net::{ModelSpec, VggWidth};
use crate::zoo::{resnet18_cifar, resnet20};

const CIFAR: [u32; 3] = [3, 32, 32];
const FASHION: [u32; 3] = [1, 28, 28];

fn params(model: &ModelSpec, input: [u32; 3]) -> u64 {
    infer(&model.to_layers(10), input, 10)
        .unwrap_or_else(|e| panic!("{model:?}: {e:?}"))
        .params
}

/// A 3×3 conv with bias, then a dense layer with bias.
fn conv3(cin: u64, cout: u64) -> u64 {
    9 * cin * cout + cout
}
fn dense(n: u64, out: u64) -> u64 {
    n * out + out
}

#[test]
fn built_in_models_count_their_known_parameters() {
    let mlp = ModelSpec::Mlp {
        hidden: vec![512, 512],
    };
    assert_eq!(params(&mlp, FASHION), 669_706);
    // What `memory` counted before it used shape inference, for the same models.
    assert_eq!(params(&ModelSpec::SmallCnn, FASHION), 421_642);
    assert_eq!(
        params(&ModelSpec::SmallCnn, FASHION),
        conv3(1, 32) + conv3(32, 64) + dense(64 * 7 * 7, 128) + dense(128, 10)
    );
    let vgg = |width, batch_norm| ModelSpec::Vgg11 { width, batch_norm };
    let narrow_convs = [(3, 32), (32, 64), (64, 64), (64, 64), (64, 128), (128, 128)]
        .into_iter()
        .chain([(128, 256), (256, 256)])
        .map(|(i, o)| conv3(i, o))
        .sum::<u64>();
    let narrow = narrow_convs + dense(256, 128) + dense(128, 128) + dense(128, 10);
    assert_eq!(params(&vgg(VggWidth::Narrow, false), CIFAR), narrow);
    // The old count had one more 256→256 dense layer than the network has.
    assert_eq!(narrow + dense(256, 256), 1_316_426);
    assert_eq!(params(&vgg(VggWidth::Standard, false), CIFAR), 9_750_922);
    // Batch norm adds γ and β per channel of each of the 8 convs.
    let bn_channels: u64 = 32 + 64 + 64 + 64 + 128 + 128 + 256 + 256;
    assert_eq!(
        params(&vgg(VggWidth::Narrow, true), CIFAR),
        narrow + 2 * bn_channels
    );
}

#[test]
fn resnets_count_their_published_parameters() {
    let r20 = infer(&resnet20(10), CIFAR, 10).expect("ResNet-20 fits CIFAR");
    // With option A shortcuts, as in the paper's CIFAR experiments (and akamaster's code):
    // convs 267,696, batch norm 1,376, classifier 650.
    assert_eq!(r20.params, 269_722);
    assert_eq!(r20.output, Shape::Vector { n: 10 });
    // The often-quoted 272,474 is the same network with projection shortcuts on its two
    // downsampling blocks: 16·32 + 2·32 and 32·64 + 2·64 more.
    let projected: Vec<LayerSpec> = resnet20(10)
        .into_iter()
        .map(|l| match l {
            LayerSpec::Residual {
                layers,
                shortcut: Shortcut::Pad,
            } => LayerSpec::Residual {
                layers,
                shortcut: Shortcut::Projection,
            },
            other => other,
        })
        .collect();
    let r20b = infer(&projected, CIFAR, 10).expect("fits");
    assert_eq!(r20b.params, 272_474);
    let r18 = infer(&resnet18_cifar(10), CIFAR, 10).expect("ResNet-18 fits CIFAR");
    assert_eq!(r18.params, 11_173_962);
    // ResNet-20 is about 41M multiply-adds per 32×32 image; ResNet-18 about 0.56G.
    assert!(
        (80_000_000..84_000_000).contains(&r20.flops),
        "{}",
        r20.flops
    );
    assert!(
        (1_100_000_000..1_130_000_000).contains(&r18.flops),
        "{}",
        r18.flops
    );
}

#[test]
fn rows_list_a_blocks_layers_then_the_block() {
    let model = infer(&resnet20(10), CIFAR, 10).expect("fits");
    // 23 top-level layers and 5 in each of the 9 blocks.
    assert_eq!(model.rows.len(), 23 + 9 * 5);
    let paths: Vec<&[usize]> = model.rows[3..9].iter().map(|r| &r.path[..]).collect();
    assert_eq!(
        paths,
        vec![&[3, 0][..], &[3, 1], &[3, 2], &[3, 3], &[3, 4], &[3]]
    );
    assert_eq!(model.rows[8].kind, "residual");
    // The first block of stage 2 (top-level 9) halves the sides and doubles the channels.
    let block = model.rows.iter().find(|r| r.path == [9]).expect("row");
    assert_eq!(block.output.to_string(), "32×16×16");
    assert_eq!(block.params, 0, "a pad shortcut has no parameters");
    let sum = |f: fn(&LayerRow) -> u64| model.rows.iter().map(f).sum::<u64>();
    assert_eq!(sum(|r| r.params), model.params);
    assert_eq!(sum(|r| r.flops), model.flops);
    assert_eq!(sum(|r| r.activations) + 3 * 32 * 32, model.activations);
    assert_eq!(Shape::Vector { n: 256 }.to_string(), "256");
}

#[test]
fn one_conv_counts_exactly() {
    let conv = LayerSpec::Conv {
        out: 8,
        kernel: 3,
        stride: 2,
        padding: 1,
        bias: true,
    };
    let layers = [conv, LayerSpec::Flatten {}, LayerSpec::linear(10)];
    let m = infer(&layers, [3, 9, 9], 10).expect("fits");
    // (9 + 2 − 3) / 2 + 1 = 5.
    assert_eq!(m.rows[0].output, Shape::Image { c: 8, h: 5, w: 5 });
    assert_eq!(m.rows[0].params, 9 * 3 * 8 + 8);
    assert_eq!(m.rows[0].flops, 2 * 9 * 3 * 8 * 25 + 8 * 25);
    assert_eq!(m.rows[1].activations, 0, "flatten is a view");
    assert_eq!(m.rows[2].params, 200 * 10 + 10);
}

/// The paths of the errors `infer` reports.
fn error_paths(layers: &[LayerSpec], input: [u32; 3]) -> Vec<String> {
    infer(layers, input, 10)
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.field)
        .collect()
}

fn message(layers: &[LayerSpec], input: [u32; 3]) -> String {
    let errs = infer(layers, input, 10).expect_err("refused");
    errs[0].message.clone()
}

fn head() -> Vec<LayerSpec> {
    vec![LayerSpec::GlobalAvgPool {}, LayerSpec::linear(10)]
}

#[test]
fn settings_out_of_range_are_reported_at_each_field() {
    let layers = vec![
        LayerSpec::Conv {
            out: 0,
            kernel: 65,
            stride: 0,
            padding: 65,
            bias: true,
        },
        LayerSpec::MaxPool {
            kernel: 0,
            stride: Some(65),
        },
        LayerSpec::Dropout { p: 1.0 },
        LayerSpec::Linear {
            out: limits::MAX_WIDTH + 1,
            bias: true,
        },
    ];
    let want = [
        "experiment.model.layers[0].out",
        "experiment.model.layers[0].kernel",
        "experiment.model.layers[0].stride",
        "experiment.model.layers[0].padding",
        "experiment.model.layers[1].kernel",
        "experiment.model.layers[1].stride",
        "experiment.model.layers[2].p",
        "experiment.model.layers[3].out",
    ];
    assert_eq!(error_paths(&layers, CIFAR), want);
    // Without an input shape, the same settings are refused the same way.
    let errs = check_settings(&layers).expect_err("refused");
    assert_eq!(errs.iter().map(|e| &e.field[..]).collect::<Vec<_>>(), want);
    assert_eq!(check_settings(&resnet20(10)), Ok(()));
    assert!(check_settings(&[LayerSpec::Dropout { p: f64::NAN }]).is_err());
}

#[test]
fn a_list_must_be_non_empty_short_and_shallow() {
    assert_eq!(error_paths(&[], CIFAR), ["experiment.model.layers"]);
    let long = vec![LayerSpec::Relu {}; limits::MAX_LAYERS + 1];
    assert_eq!(error_paths(&long, CIFAR), ["experiment.model.layers"]);
    let nest = |levels| {
        let mut nested = LayerSpec::Relu {};
        for _ in 0..levels {
            nested = LayerSpec::Residual {
                layers: vec![nested],
                shortcut: Shortcut::Identity,
            };
        }
        [vec![nested], head()].concat()
    };
    assert_eq!(error_paths(&nest(limits::MAX_LAYER_DEPTH), CIFAR), [""; 0]);
    assert_eq!(
        error_paths(&nest(limits::MAX_LAYER_DEPTH + 1), CIFAR),
        ["experiment.model.layers[0].layers[0].layers"]
    );
    let empty = LayerSpec::Residual {
        layers: vec![],
        shortcut: Shortcut::Identity,
    };
    assert_eq!(
        error_paths(&[empty], CIFAR),
        ["experiment.model.layers[0].layers"]
    );
}

#[test]
fn layers_their_input_cannot_feed_are_reported_with_the_shape() {
    let conv5 = LayerSpec::Conv {
        out: 4,
        kernel: 5,
        stride: 1,
        padding: 0,
        bias: true,
    };
    let layers = [vec![conv5.clone()], head()].concat();
    assert_eq!(
        error_paths(&layers, [1, 3, 3]),
        ["experiment.model.layers[0].kernel"]
    );
    assert_eq!(
        message(&layers, [1, 3, 3]),
        "a 5×5 kernel does not fit the 3×3 input (padding 0); it needs an input of at least 5×5"
    );
    let pool = [vec![LayerSpec::max_pool2()], head()].concat();
    assert_eq!(
        error_paths(&pool, [1, 1, 4]),
        ["experiment.model.layers[0].kernel"]
    );
    // A linear layer fed an image says what to add.
    let linear = [LayerSpec::conv3(4, 1, true), LayerSpec::linear(10)];
    assert_eq!(error_paths(&linear, CIFAR), ["experiment.model.layers[1]"]);
    assert!(message(&linear, CIFAR).contains("4×32×32 image: add flatten or global_avg_pool"));
    // Image layers fed a vector.
    for layer in [conv5, LayerSpec::max_pool2(), LayerSpec::Flatten {}] {
        let layers = [LayerSpec::Flatten {}, layer, LayerSpec::linear(10)];
        assert_eq!(
            error_paths(&layers, CIFAR),
            ["experiment.model.layers[1]"],
            "{layers:?}"
        );
    }
}

fn block(layers: Vec<LayerSpec>, shortcut: Shortcut) -> Vec<LayerSpec> {
    vec![
        LayerSpec::conv3(16, 1, false),
        LayerSpec::Residual { layers, shortcut },
        LayerSpec::GlobalAvgPool {},
        LayerSpec::linear(10),
    ]
}

#[test]
fn shortcuts_must_match_the_blocks_shapes() {
    let down = |c| vec![LayerSpec::conv3(c, 2, false), LayerSpec::BatchNorm {}];
    assert_eq!(
        error_paths(&block(down(32), Shortcut::Identity), CIFAR),
        ["experiment.model.layers[1].shortcut"]
    );
    assert!(
        message(&block(down(32), Shortcut::Identity), CIFAR)
            .contains("shape 16×32×32; its layers give 32×16×16")
    );
    assert_eq!(error_paths(&block(down(32), Shortcut::Pad), CIFAR), [""; 0]);
    let projected = infer(&block(down(32), Shortcut::Projection), CIFAR, 10).expect("fits");
    let row = projected.rows.iter().find(|r| r.path == [1]).expect("row");
    assert_eq!(row.params, 32 * 16 + 2 * 32);
    // Fewer channels cannot be padded; a side that does not shrink by a whole factor cannot
    // be subsampled.
    assert_eq!(
        error_paths(&block(down(8), Shortcut::Pad), CIFAR),
        ["experiment.model.layers[1].shortcut"]
    );
    assert_eq!(
        error_paths(&block(down(32), Shortcut::Projection), [3, 31, 31]),
        ["experiment.model.layers[1].shortcut"]
    );
    // The block's own layers keep an image, with a path to the culprit inside it.
    let flat = vec![LayerSpec::conv3(16, 1, false), LayerSpec::Flatten {}];
    assert_eq!(
        error_paths(&block(flat, Shortcut::Identity), CIFAR),
        ["experiment.model.layers[1].layers[1]"]
    );
    // A setting inside a block, and a block fed a vector.
    let bad_stride = vec![
        LayerSpec::conv3(16, 1, false),
        LayerSpec::conv3(16, 0, false),
    ];
    assert_eq!(
        error_paths(&block(bad_stride, Shortcut::Identity), CIFAR),
        ["experiment.model.layers[1].layers[1].stride"]
    );
    let on_vector = [
        LayerSpec::Flatten {},
        LayerSpec::Residual {
            layers: vec![LayerSpec::Relu {}],
            shortcut: Shortcut::Identity,
        },
        LayerSpec::linear(10),
    ];
    assert_eq!(
        error_paths(&on_vector, CIFAR),
        ["experiment.model.layers[1]"]
    );
}

#[test]
fn the_network_ends_with_one_value_per_class() {
    let wrong = [LayerSpec::Flatten {}, LayerSpec::linear(7)];
    assert_eq!(
        error_paths(&wrong, CIFAR),
        ["experiment.model.layers[1].out"]
    );
    assert!(message(&wrong, CIFAR).contains("end with 10 values"));
    let relu_last = [LayerSpec::Flatten {}, LayerSpec::Relu {}];
    assert_eq!(
        error_paths(&relu_last, CIFAR),
        ["experiment.model.layers[1]"]
    );
    let image = [LayerSpec::conv3(10, 1, true)];
    assert_eq!(error_paths(&image, CIFAR), ["experiment.model.layers[0]"]);
    assert!(message(&image, CIFAR).contains("10×32×32 image"));
}

#[test]
fn several_errors_are_reported_and_absurd_sizes_neither_panic_nor_overflow() {
    let layers = [
        LayerSpec::Dropout { p: -0.5 },
        LayerSpec::conv3(0, 1, true),
        LayerSpec::linear(0),
    ];
    assert_eq!(
        error_paths(&layers, CIFAR),
        [
            "experiment.model.layers[0].p",
            "experiment.model.layers[1].out",
            "experiment.model.layers[2].out"
        ]
    );
    assert_eq!(
        error_paths(&head(), [0, 32, 32]),
        ["experiment.dataset"],
        "an empty input divides nothing by zero"
    );
    let huge = [u32::MAX; 3];
    let wide = [
        LayerSpec::Conv {
            out: limits::MAX_WIDTH,
            kernel: 1,
            stride: 1,
            padding: 64,
            bias: true,
        },
        LayerSpec::Flatten {},
        LayerSpec::linear(10),
    ];
    assert_eq!(error_paths(&wide, huge), ["experiment.model.layers[0]"]);
    let pooled = [
        LayerSpec::conv3(limits::MAX_WIDTH, 1, true),
        LayerSpec::GlobalAvgPool {},
    ]
    .into_iter()
    .chain([LayerSpec::linear(10)])
    .collect::<Vec<_>>();
    let m = infer(&pooled, [limits::MAX_WIDTH, 1 << 20, 1 << 20], 10).expect("counts");
    assert_eq!(m.flops, u64::MAX, "saturates");
}

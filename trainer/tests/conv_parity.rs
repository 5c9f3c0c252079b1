//! The CPU backend's own convolution and max pooling (`trainer::net::fast_conv`, `fast_pool`)
//! against PyTorch and against Burn's kernels: every case in `fixtures/conv_reference.json`
//! (written by `scripts/gen_conv_fixtures.py`: conv2d's output and its input, weight and bias
//! gradients, computed in float64) replayed through `Autodiff<Flex>`; pooling equal to Burn's
//! bit for bit; and SGD steps of the small CNN and VGG-11 with these kernels matching the same
//! steps through Burn's `Conv2d` and `MaxPool2d`. Needs no PyTorch.
//!
//! `cargo test -p trainer --test conv_parity -- --nocapture` prints the measured errors.

use std::sync::{Mutex, MutexGuard, PoisonError};

use burn::backend::flex::{FlexDevice, FlexTensor};
use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::backend::Backend;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use experiment::{ModelSpec, OptimizerSpec, VggWidth};
use serde::Deserialize;
use trainer::net::fast_conv::Activation;
use trainer::net::flat::flatten;
use trainer::net::model::{self, Feature, Net};
use trainer::net::optim::AnyOptim;
use trainer::net::{fast_conv, fast_pool};

// mimalloc, as every binary that trains (see the `trainer` crate's docs for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type B = Autodiff<Flex>;

/// Flex keeps one random generator per process: a test drawing random tensors while
/// `training_steps_match_burns_kernels` is between reseeding it and drawing a dropout mask made
/// the two trainings it compares use different masks (about one run in three on 2 cores). The
/// tests that draw take turns.
static RNG: Mutex<()> = Mutex::new(());

fn rng_turn() -> MutexGuard<'static, ()> {
    // A failed test poisons the lock; the others still deserve their turn.
    RNG.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Deserialize)]
struct Fixture {
    torch_version: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    stride: usize,
    padding: usize,
    x_shape: [usize; 4],
    w_shape: [usize; 4],
    y_shape: [usize; 4],
    x: Vec<f32>,
    w: Vec<f32>,
    b: Option<Vec<f32>>,
    dy: Vec<f32>,
    y: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
    db: Option<Vec<f32>>,
}

/// Largest |ours − reference| / (|reference| + FLOOR · max |reference|) over a tensor.
///
/// An element of a convolution (or of its gradients) is a sum of many products; float32 rounds
/// each partial sum relative to the magnitude of the terms, not of the result, so an element
/// that cancels to near 0 keeps an absolute error on the scale of its terms. The floor, 1% of
/// the tensor's largest magnitude, stands for that scale: elements above it are held to the
/// relative tolerance, those below it to TOL · FLOOR · max absolutely.
const FLOOR: f64 = 1e-2;
/// Relative tolerance against PyTorch's float64 results and between the two kernel sets.
const TOL: f64 = 1e-4;

fn max_err(ours: &[f32], reference: &[f32]) -> f64 {
    assert_eq!(ours.len(), reference.len(), "lengths");
    let scale = reference
        .iter()
        .fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
    ours.iter()
        .zip(reference)
        .map(|(&a, &e)| {
            let (a, e) = (f64::from(a), f64::from(e));
            (a - e).abs() / (e.abs() + FLOOR * scale).max(f64::MIN_POSITIVE)
        })
        .fold(0.0, f64::max)
}

fn values<Bk: Backend, const D: usize>(t: &Tensor<Bk, D>) -> Vec<f32> {
    t.to_data().to_vec::<f32>().expect("f32 tensor")
}

fn tensor<Bk: Backend, const D: usize>(v: &[f32], shape: [usize; D]) -> Tensor<Bk, D> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), &Default::default())
}

#[test]
fn conv2d_and_its_gradients_match_pytorch() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/conv_reference.json"
    ))
    .expect("fixture; regenerate with scripts/gen_conv_fixtures.py");
    let fixture: Fixture = serde_json::from_str(&text).expect("fixture JSON");
    assert!(fixture.cases.len() >= 12, "all cases present");
    println!("PyTorch {}", fixture.torch_version);
    let mut worst = 0.0f64;
    for c in &fixture.cases {
        let options = ConvOptions::new([c.stride; 2], [c.padding; 2], [1, 1], 1);
        assert!(
            fast_conv::supported(&c.x_shape, &c.w_shape, &options),
            "{}: the fast path must be the one under test",
            c.name
        );
        let x = tensor::<B, 4>(&c.x, c.x_shape).require_grad();
        let w = tensor::<B, 4>(&c.w, c.w_shape).require_grad();
        let b =
            c.b.as_ref()
                .map(|b| tensor::<B, 1>(b, [c.w_shape[0]]).require_grad());
        let y = fast_conv::conv2d(
            x.clone(),
            w.clone(),
            b.clone(),
            options.clone(),
            Activation::Identity,
        );
        assert_eq!(y.dims(), c.y_shape, "{}", c.name);
        let dy = tensor::<B, 4>(&c.dy, c.y_shape);
        let grads = (y.clone() * dy).sum().backward();
        let mut errs = vec![
            ("y", max_err(&values(&y), &c.y)),
            (
                "dx",
                max_err(&values(&x.grad(&grads).expect("x grad")), &c.dx),
            ),
            (
                "dw",
                max_err(&values(&w.grad(&grads).expect("w grad")), &c.dw),
            ),
        ];
        if let (Some(b), Some(db)) = (&b, &c.db) {
            errs.push(("db", max_err(&values(&b.grad(&grads).expect("b grad")), db)));
        }
        // The evaluation path: the same forward on plain flex.
        let y_eval = fast_conv::conv2d_forward(
            prim(tensor::<Flex, 4>(&c.x, c.x_shape)),
            prim(tensor::<Flex, 4>(&c.w, c.w_shape)),
            c.b.as_ref()
                .map(|b| prim(tensor::<Flex, 1>(b, [c.w_shape[0]]))),
            &options,
        );
        errs.push(("y on flex", max_err(&flex_values(y_eval), &c.y)));
        println!(
            "{:<26} {}",
            c.name,
            errs.iter()
                .map(|(k, e)| format!("{k} {e:.1e}"))
                .collect::<Vec<_>>()
                .join("  ")
        );
        for (what, e) in errs {
            assert!(e <= TOL, "{}: {what} off by {e:.2e} (relative)", c.name);
            worst = worst.max(e);
        }
    }
    println!("worst {worst:.2e}");
}

fn prim<const D: usize>(t: Tensor<Flex, D>) -> FlexTensor {
    t.into_primitive().tensor()
}

fn flex_values(t: FlexTensor) -> Vec<f32> {
    t.into_data().to_vec::<f32>().expect("f32 tensor")
}

#[test]
fn convolutions_it_does_not_cover_go_through_burn() {
    let _turn = rng_turn();
    let x = Tensor::<B, 4>::random([2, 4, 9, 9], Distribution::Default, &FlexDevice).require_grad();
    let w = Tensor::<B, 4>::random([4, 2, 3, 3], Distribution::Default, &FlexDevice).require_grad();
    // Dilation 2, and groups 2 (the weight's C_in is 2 of the input's 4).
    for (options, w) in [
        (
            ConvOptions::new([1, 1], [2, 2], [2, 2], 1),
            w.clone().repeat_dim(1, 2),
        ),
        (ConvOptions::new([1, 1], [1, 1], [1, 1], 2), w.clone()),
    ] {
        assert!(!fast_conv::supported(&x.dims(), &w.dims(), &options));
        let ours = fast_conv::conv2d(
            x.clone(),
            w.clone(),
            None,
            options.clone(),
            Activation::Identity,
        );
        let burn = burn::tensor::module::conv2d(x.clone(), w.clone(), None, options);
        assert_eq!(values(&ours), values(&burn));
        let (g1, g2) = (ours.sum().backward(), burn.sum().backward());
        assert_eq!(
            values(&x.grad(&g1).expect("dx")),
            values(&x.grad(&g2).expect("dx"))
        );
    }
    // An even kernel's Same padding is asymmetric: the layer keeps Burn's forward.
    let conv = Conv2dConfig::new([4, 3], [2, 2])
        .with_padding(PaddingConfig2d::Same)
        .init::<B>(&FlexDevice);
    assert_eq!(
        values(&fast_conv::forward(&conv, x.clone(), Activation::Identity)),
        values(&conv.forward(x))
    );
}

/// The fused conv → ReLU is the same arithmetic as the two ops one after the other, so its
/// output and all three gradients are equal to theirs bit for bit, on every path (the
/// flipped-kernel input gradient, col2im and the dense product) and on plain flex.
#[test]
fn fused_relu_equals_conv_then_relu_bit_for_bit() {
    let _turn = rng_turn();
    // (x shape, C_out, stride): 16 channels at 8×8 take the flipped path, stride 2 col2im,
    // 2×2 maps the dense product.
    for (x_shape, cout, stride) in [
        ([3, 16, 8, 8], 8, 1),
        ([2, 3, 7, 9], 5, 2),
        ([4, 6, 2, 2], 7, 1),
    ] {
        let options = ConvOptions::new([stride; 2], [1, 1], [1, 1], 1);
        let x = Tensor::<B, 4>::random(x_shape, Distribution::Normal(0.0, 1.0), &FlexDevice);
        let w_shape = [cout, x_shape[1], 3, 3];
        let w = Tensor::<B, 4>::random(w_shape, Distribution::Normal(0.0, 0.3), &FlexDevice);
        let b = Tensor::<B, 1>::random([cout], Distribution::Normal(0.0, 0.3), &FlexDevice);
        let run = |fused: bool| {
            let (x, w, b) = (
                x.clone().require_grad(),
                w.clone().require_grad(),
                b.clone().require_grad(),
            );
            let y = if fused {
                fast_conv::conv2d(
                    x.clone(),
                    w.clone(),
                    Some(b.clone()),
                    options.clone(),
                    Activation::Relu,
                )
            } else {
                let y = fast_conv::conv2d(
                    x.clone(),
                    w.clone(),
                    Some(b.clone()),
                    options.clone(),
                    Activation::Identity,
                );
                burn::tensor::activation::relu(y)
            };
            // A fixed upstream gradient: the same for both runs.
            let n = y.dims().iter().product::<usize>();
            let up: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.25).collect();
            let grads = (y.clone() * tensor::<B, 4>(&up, y.dims())).sum().backward();
            [
                values(&y),
                values(&x.grad(&grads).expect("dx")),
                values(&w.grad(&grads).expect("dw")),
                values(&b.grad(&grads).expect("db")),
            ]
        };
        let (fused, plain) = (run(true), run(false));
        assert!(fused[0].contains(&0.0), "the ReLU clips something");
        for (what, (a, b)) in ["y", "dx", "dw", "db"].iter().zip(fused.iter().zip(&plain)) {
            assert_eq!(a, b, "{what} for {x_shape:?} → {cout}, stride {stride}");
        }
        let on_flex = |act: Activation| {
            flex_values(fast_conv::conv2d_forward_with(
                prim(Tensor::<Flex, 4>::from_data(x.to_data(), &FlexDevice)),
                prim(Tensor::<Flex, 4>::from_data(w.to_data(), &FlexDevice)),
                Some(prim(Tensor::<Flex, 1>::from_data(b.to_data(), &FlexDevice))),
                &options,
                act,
            ))
        };
        assert_eq!(
            on_flex(Activation::Relu),
            fused[0],
            "evaluation {x_shape:?}"
        );
        let relu_after: Vec<f32> = on_flex(Activation::Identity)
            .iter()
            .map(|v| v.max(0.0))
            .collect();
        assert_eq!(relu_after, fused[0]);
    }
}

#[test]
fn max_pooling_equals_burns_bit_for_bit() {
    // Values on a coarse grid, so windows hold ties (the first maximum must win, as in Burn),
    // and integer upstream gradients, so overlapping windows' sums are exact in any order.
    let data: Vec<f32> = (0..2 * 3 * 7 * 9)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.5)
        .collect();
    for (k, s) in [
        ([2, 2], [2, 2]),
        ([3, 3], [2, 2]),
        ([3, 2], [1, 2]),
        ([2, 2], [1, 1]),
    ] {
        let pool = burn::nn::pool::MaxPool2dConfig::new(k)
            .with_strides(s)
            .init();
        let x = tensor::<B, 4>(&data, [2, 3, 7, 9]).require_grad();
        let ours = fast_pool::forward(&pool, x.clone());
        let burn = pool.forward(x.clone());
        assert_eq!(ours.dims(), burn.dims());
        assert_eq!(values(&ours), values(&burn), "forward {k:?} {s:?}");
        let n = ours.dims().iter().product::<usize>();
        let up: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
        let up = tensor::<B, 4>(&up, ours.dims());
        let g1 = (ours * up.clone()).sum().backward();
        let g2 = (burn * up).sum().backward();
        assert_eq!(
            values(&x.grad(&g1).expect("dx")),
            values(&x.grad(&g2).expect("dx")),
            "backward {k:?} {s:?}"
        );
        let plain = tensor::<Flex, 4>(&data, [2, 3, 7, 9]);
        assert_eq!(
            values(&fast_pool::forward(&pool, plain.clone())),
            values(&pool.forward(plain)),
            "evaluation {k:?} {s:?}"
        );
    }
}

/// Logits with every conv and pool through Burn's own layers: the path before these kernels.
fn forward_burn<Bk: Backend>(net: &Net<Bk>, x: Tensor<Bk, 4>) -> Tensor<Bk, 2> {
    let mut x = x;
    for f in &net.features {
        x = match f {
            Feature::Conv(c) => c.forward(x),
            Feature::Norm(n) => n.forward(x),
            Feature::Pool(p) => p.forward(x),
            Feature::Relu(r) => r.forward(x),
            other => panic!("{other:?} is not a layer of the built-in models compared here"),
        };
    }
    net.head_from(x.flatten(1, 3), 0)
}

/// `steps` SGD steps (momentum 0.9) on one batch; the losses and the final parameters.
fn train(
    net: Net<B>,
    x: &Tensor<B, 4>,
    y: &Tensor<B, 1, Int>,
    steps: usize,
    forward: impl Fn(&Net<B>, Tensor<B, 4>) -> Tensor<B, 2>,
) -> (Vec<f32>, Vec<f32>, Net<B>) {
    let mut net = net;
    let mut opt = AnyOptim::<B>::new(&OptimizerSpec::Sgd {
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    });
    let loss_fn = CrossEntropyLossConfig::new().init(&FlexDevice);
    let mut losses = Vec::new();
    for step in 0..steps {
        // The same dropout masks for both kernel sets.
        B::seed(&FlexDevice, step as u64);
        let loss = loss_fn.forward(forward(&net, x.clone()), y.clone());
        losses.push(values(&loss)[0]);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = opt.step(0.05, net, grads);
    }
    (losses, flatten(&net), net)
}

#[test]
fn training_steps_match_burns_kernels() {
    let _turn = rng_turn();
    let narrow = ModelSpec::Vgg11 {
        width: VggWidth::Narrow,
        batch_norm: false,
    };
    for (spec, shape, batch) in [
        (ModelSpec::SmallCnn, [1, 12, 12], 8),
        (ModelSpec::SmallCnn, [3, 16, 16], 4),
        (narrow, [3, 32, 32], 4),
    ] {
        B::seed(&FlexDevice, 3);
        let net = model::build::<B>(&spec, shape, 10, &FlexDevice);
        let [c, h, w] = shape;
        let x = Tensor::<B, 4>::random(
            [batch, c, h, w],
            Distribution::Normal(0.0, 1.0),
            &FlexDevice,
        );
        let y = Tensor::<B, 1, Int>::from_data(
            TensorData::new((0..batch as i64).map(|i| i % 10).collect(), [batch]),
            &FlexDevice,
        );
        let (loss_ours, p_ours, net_ours) = train(net.clone(), &x, &y, 3, |n, x| n.forward(x));
        let (loss_burn, p_burn, net_burn) = train(net, &x, &y, 3, forward_burn);
        let (e_loss, e_params) = (max_err(&loss_ours, &loss_burn), max_err(&p_ours, &p_burn));
        // Evaluation (plain flex, no graph) of the trained weights.
        let x_eval = x.clone().inner();
        let e_eval = max_err(
            &values(&net_ours.valid().forward(x_eval.clone())),
            &values(&forward_burn(&net_burn.valid(), x_eval)),
        );
        println!(
            "{spec:?} {shape:?}: losses {loss_ours:?} vs {loss_burn:?}; loss {e_loss:.1e}, parameters {e_params:.1e}, eval logits {e_eval:.1e}"
        );
        assert!(loss_ours[2] < loss_ours[0], "{spec:?} trains");
        assert!(e_loss <= TOL, "{spec:?}: loss off by {e_loss:.2e}");
        assert!(
            e_params <= TOL,
            "{spec:?}: parameters off by {e_params:.2e}"
        );
        assert!(e_eval <= TOL, "{spec:?}: evaluation off by {e_eval:.2e}");
    }
}

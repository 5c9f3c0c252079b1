//! Per-op profile of one training step on Burn's flex CPU backend (batch 128): the forward of
//! every layer and the backward of every layer, each timed on its own, through the backend ops
//! that `Autodiff<Flex>` calls for it ("burn") and through trainer's own conv and pool kernels
//! ("fast", `trainer::net::fast_conv` / `fast_pool`); then whole SGD steps through autodiff
//! both ways. Medians and bests of a few repetitions after two warm-ups, in ms. Threads: set
//! RAYON_NUM_THREADS.
//!
//! `cargo bench -p trainer --bench conv_profile -- [cnn|vgg11] [reps]`
//!
//! Inputs are random: the timings of these ops do not depend on the values (ReLU masks and
//! pooling argmaxes aside, which random data exercises as well as images do).

use std::time::Instant;

use burn::backend::flex::{FlexDevice, FlexTensor};
use burn::backend::{Autodiff, Flex};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::ops::{ActivationOps, ConvOptions, FloatTensorOps, ModuleOps};
use burn::tensor::{Distribution, Int, Tensor, TensorData, TensorMetadata};
use experiment::{ModelSpec, VggWidth};
use trainer::net::model::{self, Feature, Net};
use trainer::net::{fast_conv, fast_pool};

// mimalloc, as every binary that trains (see the `trainer` crate's docs for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type F = Flex;
type AD = Autodiff<Flex>;

/// Median and best of the measured repetitions, in ms.
#[derive(Clone, Copy)]
struct Stat {
    median: f64,
    best: f64,
}

fn time(reps: usize, mut f: impl FnMut()) -> Stat {
    for _ in 0..2 {
        f();
    }
    let mut ms: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    Stat {
        median: ms[ms.len() / 2],
        best: ms[0],
    }
}

fn random(shape: &[usize]) -> FlexTensor {
    let n: usize = shape.iter().product();
    Tensor::<F, 1>::random([n], Distribution::Normal(0.0, 1.0), &FlexDevice)
        .into_primitive()
        .tensor()
        .reshape(shape.to_vec().into())
}

enum Layer {
    /// 3×3, stride 1, padding 1, with bias, as `model::build` makes them.
    Conv {
        cin: usize,
        cout: usize,
    },
    Relu,
    Pool,
    Flatten,
    Linear {
        inp: usize,
        out: usize,
    },
}

fn plan(which: &str) -> (ModelSpec, [usize; 3], Vec<Layer>) {
    use Layer::*;
    match which {
        "vgg11" => {
            let mut l = Vec::new();
            let mut cin = 3;
            for p in [32, 0, 64, 0, 64, 64, 0, 128, 128, 0, 256, 256, 0] {
                if p == 0 {
                    l.push(Pool);
                } else {
                    l.extend([Conv { cin, cout: p }, Relu]);
                    cin = p;
                }
            }
            l.push(Flatten);
            // Dropout's mask multiply is left out: an elementwise op like ReLU.
            for (inp, out) in [(256, 128), (128, 128)] {
                l.extend([Linear { inp, out }, Relu]);
            }
            l.push(Linear { inp: 128, out: 10 });
            let spec = ModelSpec::Vgg11 {
                width: VggWidth::Narrow,
                batch_norm: false,
            };
            (spec, [3, 32, 32], l)
        }
        _ => {
            let l = vec![
                Conv { cin: 1, cout: 32 },
                Relu,
                Pool,
                Conv { cin: 32, cout: 64 },
                Relu,
                Pool,
                Flatten,
                Linear {
                    inp: 64 * 7 * 7,
                    out: 128,
                },
                Relu,
                Linear { inp: 128, out: 10 },
            ];
            (ModelSpec::SmallCnn, [1, 28, 28], l)
        }
    }
}

fn conv_opts() -> ConvOptions<2> {
    ConvOptions::new([1, 1], [1, 1], [1, 1], 1)
}

struct Row {
    name: String,
    stat: Stat,
    /// The same op through trainer's kernels, where it has one.
    fast: Option<Stat>,
}

fn row_of(name: String, stat: Stat, fast: Option<Stat>) -> Row {
    Row { name, stat, fast }
}

type Back = Box<dyn Fn(FlexTensor, &mut Vec<Row>) -> FlexTensor>;

/// Times each layer's forward and backward ops on activations of the real shapes.
fn per_op(layers: &[Layer], input: [usize; 4], reps: usize) -> (Vec<Row>, Vec<Row>) {
    let mut fwd = Vec::new();
    let mut bwd = Vec::new();
    let mut x = random(&input);
    let mut counts = [0usize; 4];
    let mut label = |kind: usize, base: &str| {
        counts[kind] += 1;
        format!("{base}{}", counts[kind])
    };
    // Each layer's backward, given the gradient of its output: times its ops, returns the
    // gradient of its input.
    let mut saved: Vec<Back> = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let (y, row, back) = match *layer {
            Layer::Conv { cin, cout } => conv_op(x, cin, cout, label(0, "conv"), i == 0, reps),
            Layer::Relu => relu_op(x, label(1, "relu"), reps),
            Layer::Pool => pool_op(x, label(2, "pool"), reps),
            Layer::Flatten => {
                let shape = x.shape().to_vec();
                x = x.reshape(vec![shape[0], shape[1..].iter().product()].into());
                saved.push(Box::new(move |g, _| g.reshape(shape.clone().into())));
                continue;
            }
            Layer::Linear { inp, out } => linear_op(x, inp, out, label(3, "linear"), reps),
        };
        x = y;
        fwd.push(row);
        saved.push(back);
    }
    let mut g = random(&x.shape().to_vec());
    for back in saved.iter().rev() {
        g = back(g, &mut bwd);
    }
    (fwd, bwd)
}

/// A 3×3 conv layer on `x`: its output, its forward's row, and its backward (weight, bias and
/// input gradients; the first layer's input gradient is computed but unused in training).
fn conv_op(
    x: FlexTensor,
    cin: usize,
    cout: usize,
    name: String,
    first: bool,
    reps: usize,
) -> (FlexTensor, Row, Back) {
    let w = random(&[cout, cin, 3, 3]);
    let b = random(&[cout]);
    let (xi, wi, bi) = (x.clone(), w.clone(), b.clone());
    let burn = time(reps, || {
        F::conv2d(xi.clone(), wi.clone(), Some(bi.clone()), conv_opts());
    });
    let fast = time(reps, || {
        fast_conv::conv2d_forward(xi.clone(), wi.clone(), Some(bi.clone()), &conv_opts());
    });
    let dims = x.shape().to_vec();
    let row = row_of(format!("{name} {cin}->{cout} {dims:?}"), burn, Some(fast));
    let xs = x.clone();
    let y = F::conv2d(x, w.clone(), Some(b.clone()), conv_opts());
    let back: Back = Box::new(move |g, rows| {
        let (x, w, b) = (&xs, &w, &b);
        let burn = time(reps, || {
            F::conv2d_weight_backward(x.clone(), w.clone(), g.clone(), conv_opts());
        });
        let fast = time(reps, || {
            fast_conv::conv2d_weight_backward(x.clone(), w.clone(), g.clone(), &conv_opts());
        });
        rows.push(row_of(format!("{name} weight grad"), burn, Some(fast)));
        let burn = time(reps, || {
            F::conv2d_bias_backward(x.clone(), b.clone(), g.clone());
        });
        let fast = time(reps, || {
            fast_conv::conv2d_bias_backward(g.clone());
        });
        rows.push(row_of(format!("{name} bias grad"), burn, Some(fast)));
        let burn = time(reps, || {
            F::conv2d_x_backward(x.clone(), w.clone(), g.clone(), conv_opts());
        });
        let fast = time(reps, || {
            fast_conv::conv2d_x_backward(x.clone(), w.clone(), g.clone(), &conv_opts());
        });
        let note = if first { " (unused: data)" } else { "" };
        rows.push(row_of(format!("{name} input grad{note}"), burn, Some(fast)));
        F::conv2d_x_backward(x.clone(), w.clone(), g, conv_opts())
    });
    (y, row, back)
}

fn relu_op(x: FlexTensor, name: String, reps: usize) -> (FlexTensor, Row, Back) {
    let xi = x.clone();
    let burn = time(reps, || {
        F::relu(xi.clone());
    });
    let row = row_of(name.clone(), burn, None);
    let y = F::relu(x);
    let out = y.clone();
    let back: Back = Box::new(move |g, rows| {
        let burn = time(reps, || {
            F::relu_backward(out.clone(), g.clone());
        });
        rows.push(row_of(format!("{name} backward"), burn, None));
        F::relu_backward(out.clone(), g)
    });
    (y, row, back)
}

/// A 2×2 max pool on `x`, Burn's (with indices, as autodiff runs it) against trainer's.
fn pool_op(x: FlexTensor, name: String, reps: usize) -> (FlexTensor, Row, Back) {
    let xi = x.clone();
    let pool = |x: FlexTensor| F::max_pool2d_with_indices(x, [2, 2], [2, 2], [0, 0], [1, 1], false);
    let burn = time(reps, || {
        pool(xi.clone());
    });
    let fast = time(reps, || {
        fast_pool::max_pool2d_with_indices(xi.clone(), [2, 2], [2, 2]);
    });
    let row = row_of(format!("{name} (with indices)"), burn, Some(fast));
    let xs = x.clone();
    let (_, fast_idx) = fast_pool::max_pool2d_with_indices(x.clone(), [2, 2], [2, 2]);
    let out = pool(x);
    let idx = out.indices;
    let back: Back = Box::new(move |g, rows| {
        let back = |g: FlexTensor| {
            F::max_pool2d_with_indices_backward(
                xs.clone(),
                [2, 2],
                [2, 2],
                [0, 0],
                [1, 1],
                false,
                g,
                idx.clone(),
            )
            .x_grad
        };
        let burn = time(reps, || {
            back(g.clone());
        });
        let dims = xs.shape().dims::<4>();
        let fast = time(reps, || {
            fast_pool::max_pool2d_backward(g.clone(), &fast_idx, dims);
        });
        rows.push(row_of(format!("{name} backward"), burn, Some(fast)));
        back(g)
    });
    (out.output, row, back)
}

fn linear_op(
    x: FlexTensor,
    inp: usize,
    out: usize,
    name: String,
    reps: usize,
) -> (FlexTensor, Row, Back) {
    let w = random(&[inp, out]);
    let b = random(&[1, out]);
    let fwd_op =
        |x: FlexTensor, w: FlexTensor, b: FlexTensor| F::float_add(F::float_matmul(x, w), b);
    let (xi, wi, bi) = (x.clone(), w.clone(), b.clone());
    let burn = time(reps, || {
        fwd_op(xi.clone(), wi.clone(), bi.clone());
    });
    let row = row_of(format!("{name} {inp}->{out}"), burn, None);
    let xs = x.clone();
    let y = fwd_op(x, w.clone(), b);
    let back: Back = Box::new(move |g, rows| {
        // The ops autodiff runs: matmul's two products, the bias add's sum.
        let burn = time(reps, || {
            F::float_matmul(F::float_transpose(xs.clone()), g.clone());
            F::float_sum_dim(g.clone(), 0);
            F::float_matmul(g.clone(), F::float_transpose(w.clone()));
        });
        rows.push(row_of(format!("{name} backward"), burn, None));
        F::float_matmul(g, F::float_transpose(w.clone()))
    });
    (y, row, back)
}

/// Logits of `net` with every conv and pool through Burn's own `forward`, the path the model
/// took before it got its own kernels on flex.
fn forward_burn_conv(net: &Net<AD>, x: Tensor<AD, 4>) -> Tensor<AD, 2> {
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

fn forward_fast(net: &Net<AD>, x: Tensor<AD, 4>) -> Tensor<AD, 2> {
    net.forward(x)
}

/// Whole SGD steps through autodiff: forward + loss, backward, optimizer step.
fn steps(
    spec: &ModelSpec,
    shape: [usize; 3],
    reps: usize,
    forward: impl Fn(&Net<AD>, Tensor<AD, 4>) -> Tensor<AD, 2>,
) -> [Stat; 3] {
    let batch = 128;
    let mut net = model::build::<AD>(spec, shape, 10, &FlexDevice);
    let mut opt = SgdConfig::new().init::<AD, Net<AD>>();
    let [c, h, w] = shape;
    let x = Tensor::<AD, 4>::random([batch, c, h, w], Distribution::Default, &FlexDevice);
    let y = Tensor::<AD, 1, Int>::from_data(
        TensorData::new((0..batch as i64).map(|i| i % 10).collect(), [batch]),
        &FlexDevice,
    );
    let loss_fn = CrossEntropyLossConfig::new().init(&FlexDevice);
    let mut ms = [Vec::new(), Vec::new(), Vec::new()];
    for rep in 0..reps + 2 {
        let t0 = Instant::now();
        let loss = loss_fn.forward(forward(&net, x.clone()), y.clone());
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let t2 = Instant::now();
        net = opt.step(0.01, net, grads);
        // The step is lazy nowhere on flex, but make sure the update happened.
        let _ = net.num_params();
        let t3 = Instant::now();
        if rep >= 2 {
            for (v, d) in ms.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2]) {
                v.push(d.as_secs_f64() * 1e3);
            }
        }
    }
    ms.map(|mut v| {
        v.sort_by(f64::total_cmp);
        Stat {
            median: v[v.len() / 2],
            best: v[0],
        }
    })
}

fn print(title: &str, rows: &[Row]) {
    println!("{title:<46} {:>17} {:>17}", "burn", "fast");
    let cell = |s: Option<Stat>| {
        s.map_or_else(
            || format!("{:>17}", "-"),
            |s| format!("{:>8.2} {:>8.2}", s.median, s.best),
        )
    };
    for r in rows {
        println!("  {:<44} {} {}", r.name, cell(Some(r.stat)), cell(r.fast));
    }
    // Ops without a fast version count at their burn time in the fast sum.
    let sum = |f: &dyn Fn(&Row) -> Stat| {
        rows.iter().map(f).fold(
            Stat {
                median: 0.0,
                best: 0.0,
            },
            |a, s| Stat {
                median: a.median + s.median,
                best: a.best + s.best,
            },
        )
    };
    let burn = sum(&|r| r.stat);
    let fast = sum(&|r| r.fast.unwrap_or(r.stat));
    println!("  {:<44} {} {}", "sum", cell(Some(burn)), cell(Some(fast)));
}

fn print_steps(label: &str, s: [Stat; 3]) {
    let total = s[0].median + s[1].median + s[2].median;
    println!(
        "  {label:<20} forward {:>7.2} ({:>6.2})  backward {:>7.2} ({:>6.2})  optim {:>6.2} ({:>6.2})  total {:>7.2}",
        s[0].median, s[0].best, s[1].median, s[1].best, s[2].median, s[2].best, total
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let which = args.first().map_or("cnn", String::as_str);
    let reps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(7);
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    let (spec, shape, layers) = plan(which);
    let [c, h, w] = shape;
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!(
        "{which}: batch 128, {threads} threads, {reps} reps after 2 warm-ups; ms, median and best; {cpu}"
    );
    let (fwd, bwd) = per_op(&layers, [128, c, h, w], reps);
    print("forward", &fwd);
    print("backward (the ops Autodiff<Flex> calls)", &bwd);
    println!("whole steps through Autodiff<Flex> (median, best in parentheses)");
    print_steps(
        "burn conv + pool",
        steps(&spec, shape, reps, forward_burn_conv),
    );
    print_steps("fast conv + pool", steps(&spec, shape, reps, forward_fast));
}

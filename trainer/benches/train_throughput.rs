//! Training throughput: MLP 784-512-512-10 and the small CNN on Fashion-MNIST, and the paper's
//! narrow VGG-11 (no BatchNorm) on CIFAR-shaped synthetic images (3×32×32, 10 classes: the
//! bench machine has no CIFAR-10, and the speed of these ops does not depend on pixel values);
//! batch 128, SGD with momentum, on Burn's flex CPU backend. Prints one JSON line per repeat so
//! a runner can interleave it with `bench/torch_train.py` and compare. Threads: set
//! RAYON_NUM_THREADS.
//!
//! ResNet-20 (`resnet20`) and the narrow VGG-11 with batch norm (`vgg11_bn`) are built from their
//! layer lists. Each line also gives the share of the step spent in the data pipeline
//! (`share_data`: gather from the decoded cache, crop-and-flip on colour images, upload).
//!
//! `cargo bench -p trainer --bench train_throughput -- [mlp|cnn|vgg11|vgg11_bn|resnet20] [repeats] [steps]`
//! `cargo bench -p trainer --bench train_throughput -- [mlp|cnn|vgg11] rss` runs one step in
//! this fresh process and prints the resident memory before it and the peak (Linux /proc).

use std::time::Instant;

use burn::backend::flex::FlexDevice;
use burn::backend::{Autodiff, Flex};
use burn::optim::GradientsParams;
use experiment::{LossKind, ModelSpec, NetSpec, OptimizerSpec, VggWidth};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use trainer::net::{data, model, optim::AnyOptim};

// mimalloc, as every binary that trains (see the `trainer` crate's docs for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type B = Autodiff<Flex>;

/// One SGD step on the batch `idx`, adding each phase's seconds to `phases`: the data
/// pipeline (gather from the decoded cache, crop-and-flip for images, upload), forward,
/// backward, optimizer step.
fn step(
    net: model::Net<B>,
    opt: &mut AnyOptim<B>,
    train: &datasets::Dataset,
    idx: &[usize],
    phases: &mut [f64; 4],
) -> model::Net<B> {
    let td = Instant::now();
    let (mut x, dims) = data::gather(train, idx);
    if train.shape[0] == 3 {
        // As a CIFAR run with `augment` trains (its RNG stream is the run's; any will do here).
        let aug = datasets::Augment {
            crop_padding: 4,
            hflip: true,
        };
        let mut rng =
            rand_chacha::ChaCha8Rng::seed_from_u64(idx.first().copied().unwrap_or(0) as u64);
        datasets::augment_batch(&mut x, train.shape, &aug, &mut rng);
    }
    let x = data::to_tensor::<B>(x, dims, &FlexDevice);
    phases[3] += td.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let logits = net.forward(x);
    let loss =
        trainer::net::train::batch_loss(logits, train, idx, LossKind::CrossEntropy, &FlexDevice);
    let t1 = Instant::now();
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let t2 = Instant::now();
    let net = opt.step(0.01, net, grads);
    phases[0] += (t1 - t0).as_secs_f64();
    phases[1] += (t2 - t1).as_secs_f64();
    phases[2] += t2.elapsed().as_secs_f64();
    net
}

/// 2048 images of shape [3, 32, 32] from a fixed seed, labels cycling through 10 classes.
fn synthetic_cifar() -> datasets::Dataset {
    let n = 2048;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    datasets::Dataset {
        images: (0..n * 3 * 32 * 32)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        shape: [3, 32, 32],
        num_classes: 10,
        class_names: (0..10).map(|i| format!("class {i}")).collect(),
    }
}

/// VmRSS and VmHWM (peak) of this process in MiB, from /proc/self/status.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let which = args.first().map_or("mlp", String::as_str);
    let rss = args.get(1).is_some_and(|a| a == "rss");
    let repeats: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let (model_spec, default_steps) = match which {
        "cnn" => (ModelSpec::SmallCnn, 20),
        "vgg11" => (
            ModelSpec::Vgg11 {
                width: VggWidth::Narrow,
                batch_norm: false,
            },
            10,
        ),
        "vgg11_bn" => (
            ModelSpec::Vgg11 {
                width: VggWidth::Narrow,
                batch_norm: true,
            },
            10,
        ),
        // Built from its layer list, like any user's network.
        "resnet20" => (
            ModelSpec::Layers {
                layers: experiment::zoo::resnet20(10),
            },
            5,
        ),
        _ => (
            ModelSpec::Mlp {
                hidden: vec![512, 512],
            },
            200,
        ),
    };
    let steps: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_steps);
    let train = if matches!(which, "vgg11" | "vgg11_bn" | "resnet20") {
        synthetic_cifar()
    } else {
        let spec = NetSpec {
            model: model_spec.clone(),
            ..NetSpec::fashion_mlp()
        };
        let root = std::path::PathBuf::from("/");
        match data::prepare(&spec, &root, 0) {
            Ok(p) => p.train,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    };
    let device = FlexDevice;
    let batch = 128usize;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    let sgd = OptimizerSpec::Sgd {
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    };
    let batch_idx = |s: usize| -> Vec<usize> {
        (0..batch)
            .map(|i| (s * batch + i) % train.labels.len())
            .collect()
    };
    if rss {
        let mut net = model::build::<B>(&model_spec, train.shape, 10, &device);
        let mut opt = AnyOptim::<B>::new(&sgd);
        let (before, _) = rss_mib();
        let mut phases = [0.0f64; 4];
        net = step(net, &mut opt, &train, &batch_idx(0), &mut phases);
        let (_, peak) = rss_mib();
        drop(net);
        println!(
            "{{\"impl\":\"burn-flex\",\"model\":\"{which}\",\"threads\":\"{threads}\",\"batch\":{batch},\"rss_before_step_mib\":{before:.1},\"peak_rss_mib\":{peak:.1}}}"
        );
        return;
    }
    for rep in 0..repeats {
        let mut net = model::build::<B>(&model_spec, train.shape, 10, &device);
        let mut opt = AnyOptim::<B>::new(&sgd);
        let idx: Vec<Vec<usize>> = (0..steps + 3).map(batch_idx).collect();
        // Seconds spent in forward, backward and optimizer step; flex runs eagerly, so the
        // wall time of each phase is meaningful.
        let mut phases = [0.0f64; 4];
        for i in &idx[..3] {
            net = step(net, &mut opt, &train, i, &mut phases); // warm-up: allocations, thread pool
        }
        phases = [0.0; 4];
        let t = Instant::now();
        for i in &idx[3..] {
            net = step(net, &mut opt, &train, i, &mut phases);
        }
        let secs = t.elapsed().as_secs_f64();
        let total: f64 = phases.iter().sum::<f64>().max(1e-12);
        println!(
            "{{\"impl\":\"burn-flex\",\"model\":\"{which}\",\"threads\":\"{threads}\",\"repeat\":{rep},\"steps\":{steps},\"batch\":{batch},\"samples_per_sec\":{:.1},\"share_forward\":{:.3},\"share_backward\":{:.3},\"share_step\":{:.3},\"share_data\":{:.4}}}",
            (steps * batch) as f64 / secs,
            phases[0] / total,
            phases[1] / total,
            phases[2] / total,
            phases[3] / total
        );
    }
}

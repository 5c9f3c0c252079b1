//! Training throughput on Fashion-MNIST: MLP 784-512-512-10 and the small CNN, batch 128, SGD
//! with momentum, on Burn's flex CPU backend. Prints one JSON line per repeat so a runner can
//! interleave it with `bench/torch_train.py` and compare. Threads: set RAYON_NUM_THREADS.
//!
//! `cargo bench -p trainer --bench train_throughput -- [mlp|cnn] [repeats] [steps]`

use std::time::Instant;

use burn::backend::flex::FlexDevice;
use burn::backend::{Autodiff, Flex};
use burn::optim::GradientsParams;
use spec::{LossKind, ModelSpec, NetSpec, OptimizerSpec};
use trainer::net::{data, model, optim::AnyOptim};

type B = Autodiff<Flex>;

/// One SGD step on the batch `idx`, adding each phase's seconds to `phases`.
fn step(
    net: model::Net<B>,
    opt: &mut AnyOptim<B>,
    train: &datasets::Dataset,
    idx: &[usize],
    phases: &mut [f64; 3],
) -> model::Net<B> {
    let t0 = Instant::now();
    let (x, dims) = data::gather(train, idx);
    let logits = net.forward(data::to_tensor::<B>(x, dims, &FlexDevice));
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

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let which = args.first().map_or("mlp", String::as_str);
    let repeats: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let (model_spec, default_steps) = match which {
        "cnn" => (ModelSpec::SmallCnn, 20),
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
    let spec = NetSpec {
        model: model_spec.clone(),
        ..NetSpec::fashion_mlp()
    };
    let root = std::path::PathBuf::from("/");
    let prepared = match data::prepare(&spec, &root, 0) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let train = prepared.train;
    let device = FlexDevice;
    let batch = 128usize;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    for rep in 0..repeats {
        let mut net = model::build::<B>(&model_spec, train.shape, 10, &device);
        let mut opt = AnyOptim::<B>::new(&OptimizerSpec::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        });
        let idx: Vec<Vec<usize>> = (0..steps + 3)
            .map(|s| {
                (0..batch)
                    .map(|i| (s * batch + i) % train.labels.len())
                    .collect()
            })
            .collect();
        // Seconds spent in forward, backward and optimizer step; flex runs eagerly, so the
        // wall time of each phase is meaningful.
        let mut phases = [0.0f64; 3];
        for i in &idx[..3] {
            net = step(net, &mut opt, &train, i, &mut phases); // warm-up: allocations, thread pool
        }
        phases = [0.0; 3];
        let t = Instant::now();
        for i in &idx[3..] {
            net = step(net, &mut opt, &train, i, &mut phases);
        }
        let secs = t.elapsed().as_secs_f64();
        let total: f64 = phases.iter().sum::<f64>().max(1e-12);
        println!(
            "{{\"impl\":\"burn-flex\",\"model\":\"{which}\",\"threads\":\"{threads}\",\"repeat\":{rep},\"steps\":{steps},\"batch\":{batch},\"samples_per_sec\":{:.1},\"share_forward\":{:.3},\"share_backward\":{:.3},\"share_step\":{:.3}}}",
            (steps * batch) as f64 / secs,
            phases[0] / total,
            phases[1] / total,
            phases[2] / total
        );
    }
}

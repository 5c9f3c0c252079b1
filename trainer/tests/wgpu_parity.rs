//! Burn's generic GPU path, trained for real without a GPU: the wgpu backend (CubeCL's kernels,
//! fusion, autotune and Burn's own layers, which is what CUDA runs) on Mesa's software Vulkan
//! driver, against the CPU backend (flex, with Anneal's own convolution and batch norm kernels).
//! From the same weights and batches, the first steps' losses and gradients must agree; a
//! checkpoint written on either backend resumes on the other; a branch from one continues.
//!
//! Built only with `--features wgpu`; the test command runs it with
//! `CUBECL_WGPU_DEFAULT_DEVICE=Cpu` (lavapipe, from Debian's `mesa-vulkan-drivers`).
#![cfg(feature = "wgpu")]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use burn::backend::Autodiff;
use burn::module::Module;
use burn::nn::DropoutConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig, momentum::MomentumConfig};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::ElementConversion;
use burn::tensor::backend::{AutodiffBackend, Backend};
use experiment::{
    BackendChoice, DatasetChoice, Experiment, LayerSpec, LossKind, ModelSpec, NetSpec,
    OptimizerSpec, RunSpec, Shortcut, VggWidth,
};
use schedule::Schedule;
use trainer::net::data::{self, Prepared};
use trainer::net::model::{Head, Net, build};
use trainer::net::{flat, train::batch_loss};
use trainer::{Event, MetricPoint, Outcome, StopFlag, TrainContext};

// mimalloc, as every binary that trains (see the `trainer` crate's docs for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Cpu = Autodiff<burn::backend::Flex>;
type Gpu = Autodiff<burn::backend::Wgpu>;

/// Relative tolerance on a step's loss and on the first step's whole gradient (L2 norm of the
/// difference over the norm). Both are float32; lavapipe and flex sum reductions, GEMMs and
/// convolutions in different orders, which moves the 6th–7th significant digit per operation.
/// Measured worst cases here are listed in the README's GPU section; 1e-3 leaves a margin while
/// still catching a wrong kernel (a transposed weight or a missing bias is off by O(1)).
const STEP_TOLERANCE: f64 = 1e-3;
/// Relative tolerance on an epoch's metrics after a checkpoint crosses backends: a whole epoch of
/// steps lets the rounding differences above compound.
const EPOCH_TOLERANCE: f64 = 2e-2;
const STEPS: usize = 3;
const BATCH: usize = 16;
const LR: f64 = 0.05;

/// Flex keeps one random generator per process, reseeded by every run: the tests take turns.
static TRAINING: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    TRAINING.lock().unwrap_or_else(PoisonError::into_inner)
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("anneal-wgpu-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn gpu_device() -> burn::backend::wgpu::WgpuDevice {
    burn::backend::wgpu::WgpuDevice::default()
}

/// A residual network with batch norm, small enough for a software GPU: a stem, one identity
/// block, one projection block that halves the resolution, global pooling and a linear head.
fn residual_bn() -> ModelSpec {
    let conv = |out, stride| LayerSpec::Conv {
        out,
        kernel: 3,
        stride,
        padding: 1,
        bias: false,
    };
    let block = |out, stride, shortcut| LayerSpec::Residual {
        layers: vec![
            conv(out, stride),
            LayerSpec::BatchNorm {},
            LayerSpec::Relu {},
            conv(out, 1),
            LayerSpec::BatchNorm {},
        ],
        shortcut,
    };
    ModelSpec::Layers {
        layers: vec![
            conv(8, 1),
            LayerSpec::BatchNorm {},
            LayerSpec::Relu {},
            block(8, 1, Shortcut::Identity),
            LayerSpec::Relu {},
            block(16, 2, Shortcut::Projection),
            LayerSpec::Relu {},
            LayerSpec::GlobalAvgPool {},
            LayerSpec::Linear {
                out: 10,
                bias: true,
            },
        ],
    }
}

fn models() -> Vec<(&'static str, ModelSpec)> {
    vec![
        ("mlp", ModelSpec::Mlp { hidden: vec![64] }),
        ("small cnn", ModelSpec::SmallCnn),
        (
            "narrow vgg-11",
            ModelSpec::Vgg11 {
                width: VggWidth::Narrow,
                batch_norm: false,
            },
        ),
        ("residual + batch norm", residual_bn()),
    ]
}

fn net_spec(model: ModelSpec, epochs: u32) -> NetSpec {
    NetSpec {
        dataset: DatasetChoice::Cifar10,
        data_dir: Some("cifar".into()),
        train_per_class: None,
        test_limit: None,
        augment: false,
        model,
        loss: LossKind::CrossEntropy,
        optimizer: OptimizerSpec::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        },
        batch: BATCH as u32,
        epochs,
        checkpoint_every: 1,
    }
}

/// Generated CIFAR-10-format files: `train` images in all (five files), `test` test images.
fn cifar(tag: &str, train: usize, test: usize) -> PathBuf {
    let root = temp_dir(tag);
    datasets::testgen::write_cifar10(&root.join("cifar"), train / 5, test, 1)
        .expect("generated CIFAR-10 files");
    root
}

/// Dropout draws its masks from each backend's own generator: off, so both do the same sums.
fn deterministic<B: Backend>(mut net: Net<B>) -> Net<B> {
    for layer in &mut net.head {
        if let Head::Dropout(d) = layer {
            *d = DropoutConfig::new(0.0).init();
        }
    }
    net
}

struct Steps {
    losses: Vec<f64>,
    /// The parameters' change over the first step: −LR × the gradient (momentum starts at 0).
    first_delta: Vec<f32>,
}

/// `STEPS` SGD steps over the first images, in order.
fn steps<B: AutodiffBackend>(mut model: Net<B>, data: &Prepared, device: &B::Device) -> Steps {
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig {
            momentum: 0.9,
            dampening: 0.0,
            nesterov: false,
        }))
        .init::<B, Net<B>>();
    let before = flat::flatten(&model);
    let mut losses = Vec::new();
    let mut first_delta = Vec::new();
    for s in 0..STEPS {
        let idx: Vec<usize> = (s * BATCH..(s + 1) * BATCH).collect();
        let (x, dims) = data::gather(&data.train, &idx);
        let logits = model.forward(data::to_tensor::<B>(x, dims, device));
        let loss = batch_loss(logits, &data.train, &idx, LossKind::CrossEntropy, device);
        losses.push(loss.clone().into_scalar().elem::<f64>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(LR, model, grads);
        if s == 0 {
            first_delta = flat::flatten(&model)
                .iter()
                .zip(&before)
                .map(|(a, b)| a - b)
                .collect();
        }
    }
    Steps {
        losses,
        first_delta,
    }
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(1e-12)
}

fn l2(v: impl Iterator<Item = f64>) -> f64 {
    v.map(|x| x * x).sum::<f64>().sqrt()
}

#[test]
fn every_model_takes_the_same_first_steps_on_wgpu_as_on_the_cpu() {
    let _turn = one_at_a_time();
    let root = cifar("steps", 100, 16);
    let (cpu, gpu) = (burn::backend::flex::FlexDevice, gpu_device());
    for (name, model) in models() {
        let started = std::time::Instant::now();
        let spec = net_spec(model, 1);
        let data = data::prepare(&spec, &root, 0).expect("data");
        Cpu::seed(&cpu, 0);
        let init = deterministic::<Cpu>(build(
            &spec.model,
            data.train.shape,
            data.train.num_classes,
            &cpu,
        ));
        // Burn draws a parameter's initial values when it is first read, separately in every
        // clone: read them once here, or the record would hold other numbers than `init`.
        let w_cpu = flat::flatten(&init);
        let bytes = BinBytesRecorder::<FullPrecisionSettings>::default()
            .record(init.clone().into_record(), ())
            .expect("record");
        let record = BinBytesRecorder::<FullPrecisionSettings>::default()
            .load(bytes, &gpu)
            .expect("load on wgpu");
        let on_gpu_init = deterministic::<Gpu>(build(
            &spec.model,
            data.train.shape,
            data.train.num_classes,
            &gpu,
        ))
        .load_record(record);
        let w_gpu = flat::flatten(&on_gpu_init);
        let differing = w_cpu.iter().zip(&w_gpu).filter(|(a, b)| a != b).count();
        assert!(
            w_cpu.len() == w_gpu.len() && differing == 0,
            "{name}: the same weights on both ({differing} of {} differ; first at {:?})",
            w_cpu.len(),
            w_cpu.iter().zip(&w_gpu).position(|(a, b)| a != b)
        );
        let a = steps(init, &data, &cpu);
        let b = steps(on_gpu_init, &data, &gpu);
        let worst_loss = a
            .losses
            .iter()
            .zip(&b.losses)
            .map(|(x, y)| relative(*x, *y))
            .fold(0.0, f64::max);
        let grad_diff = l2(a
            .first_delta
            .iter()
            .zip(&b.first_delta)
            .map(|(x, y)| f64::from(x - y)))
            / l2(a.first_delta.iter().map(|x| f64::from(*x))).max(1e-30);
        eprintln!(
            "{name}: losses cpu {:?} wgpu {:?}; worst loss difference {worst_loss:.2e}, first gradient {grad_diff:.2e} ({:.1} s)",
            a.losses,
            b.losses,
            started.elapsed().as_secs_f64()
        );
        assert!(
            a.losses.iter().chain(&b.losses).all(|l| l.is_finite()),
            "{name}: finite losses"
        );
        assert!(
            worst_loss <= STEP_TOLERANCE,
            "{name}: losses differ by {worst_loss:.2e} (cpu {:?}, wgpu {:?})",
            a.losses,
            b.losses
        );
        assert!(
            grad_diff <= STEP_TOLERANCE,
            "{name}: first gradients differ by {grad_diff:.2e} relative"
        );
        assert!(
            a.first_delta.iter().any(|d| *d != 0.0),
            "{name}: the step moved the weights"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

fn rows(events: &[Event]) -> Vec<MetricPoint> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Metric(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn train(spec: &RunSpec, root: &Path, dir: &str, from: Option<PathBuf>) -> Vec<Event> {
    let ctx = TrainContext {
        data_root: root.to_path_buf(),
        checkpoint_dir: Some(root.join(dir)),
        resume_from: from,
    };
    let mut events = Vec::new();
    let out = trainer::train(spec, &ctx, &mut events, &StopFlag::new()).expect("trains");
    assert_eq!(out, Outcome::Completed);
    events
}

fn device_of(events: &[Event]) -> String {
    events
        .iter()
        .find_map(|e| match e {
            Event::Started { device, .. } => Some(device.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The epoch's figures that both backends compute the same way (not the wall-clock ones).
fn assert_close(what: &str, a: &MetricPoint, b: &MetricPoint) {
    assert_eq!(a.step, b.step, "{what}: the same step");
    for key in ["train_loss", "test_loss", "lr"] {
        let (x, y) = (a.values[key], b.values[key]);
        assert!(
            relative(x, y) <= EPOCH_TOLERANCE,
            "{what}: {key} {x} vs {y} ({:.2e} relative)",
            relative(x, y)
        );
    }
}

/// A checkpoint crosses backends both ways, and a branch continues from one: the CPU trains two
/// epochs; wgpu resumes the CPU's first checkpoint and must train the CPU's second epoch; the CPU
/// then branches (decayed) from wgpu's second checkpoint and must match the same branch from its
/// own. The GPU side trains one epoch only: on a software driver every new shape is autotuned.
#[test]
fn checkpoints_cross_backends_and_a_branch_from_one_continues() {
    let _turn = one_at_a_time();
    let root = cifar("resume", 80, 16);
    let spec = |backend, epochs, lr| RunSpec {
        name: String::new(),
        experiment: Experiment::Net(net_spec(residual_bn(), epochs)),
        schedule: Schedule::Constant { lr },
        seed: 3,
        data_seed: None,
        backend,
    };
    let ckpt = |dir: &str, epoch: u32| Some(root.join(dir).join(format!("epoch-{epoch:06}")));
    let cpu = rows(&train(&spec(BackendChoice::Cpu, 2, LR), &root, "cpu", None));
    assert_eq!(cpu.len(), 3, "epochs 0, 1, 2");

    let gpu_events = train(
        &spec(BackendChoice::Wgpu, 2, LR),
        &root,
        "gpu",
        ckpt("cpu", 1),
    );
    assert!(
        device_of(&gpu_events).starts_with("wgpu"),
        "{}",
        device_of(&gpu_events)
    );
    let gpu = rows(&gpu_events);
    assert_close("the cpu's checkpoint resumed on wgpu", &cpu[2], &gpu[0]);

    let branch = spec(BackendChoice::Cpu, 3, LR * 0.1);
    let from_gpu = rows(&train(&branch, &root, "branch-gpu", ckpt("gpu", 2)));
    let from_cpu = rows(&train(&branch, &root, "branch-cpu", ckpt("cpu", 2)));
    assert_eq!((from_gpu.len(), from_cpu.len()), (1, 1));
    assert!((from_gpu[0].values["lr"] - LR * 0.1).abs() < 1e-12);
    assert_close(
        "a decayed branch from wgpu's checkpoint, on the cpu",
        &from_cpu[0],
        &from_gpu[0],
    );
    assert!(
        root.join("branch-gpu").join("epoch-000003").exists(),
        "the branch checkpoints"
    );
    let _ = std::fs::remove_dir_all(&root);
}

//! The GPU check, run by `scripts/gpu-check.sh`: narrow VGG-11 on generated CIFAR-10-format
//! files, trained for one epoch on the CPU (Flex) and on CUDA (burn-cuda with fusion and autotune)
//! from the same initial weights and the same batches; the first steps' losses must agree within
//! a tolerance, and each backend's samples/s is printed, timed after `WARMUP` steps so that
//! autotuning and kernel compilation stay out of it. `--json PATH` writes the figures for the
//! script; `--write-data DIR` only writes the generated files (for the script's CLI sweep).
//! Without the `cuda` feature (or with `--cpu-only`) only the CPU half runs, so the check itself
//! runs in the test command and cannot rot.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::backend::Autodiff;
use burn::module::Module;
use burn::nn::DropoutConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig, momentum::MomentumConfig};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::ElementConversion;
use burn::tensor::backend::{AutodiffBackend, Backend};
use experiment::{DatasetChoice, LossKind, ModelSpec, NetSpec, OptimizerSpec, VggWidth};
use trainer::net::data::{self, Prepared};
use trainer::net::model::{Head, Net, build};
use trainer::net::train::batch_loss;

// mimalloc, as every binary that trains (see the `trainer` crate's docs for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Cpu = Autodiff<burn::backend::Flex>;
/// Losses of the first steps compared between the backends.
const COMPARED_STEPS: usize = 5;
/// Relative tolerance on those losses: float32 on two devices whose reductions and GEMMs sum in
/// different orders (and may use TF32 tensor cores) drift apart slowly over a few steps.
#[cfg(feature = "cuda")]
const TOLERANCE: f64 = 1e-2;
const BATCH: usize = 128;
const LR: f64 = 0.01;
/// Steps before the clock starts: the first ones on a GPU compile kernels and autotune them.
const WARMUP: usize = 3;

struct Trained {
    losses: Vec<f64>,
    samples_per_sec: f64,
}

impl Trained {
    fn json(&self) -> String {
        format!(
            "{{\"samples_per_sec\": {:.1}, \"first_losses\": {:?}}}",
            self.samples_per_sec, self.losses
        )
    }
}

fn spec() -> NetSpec {
    NetSpec {
        dataset: DatasetChoice::Cifar10,
        data_dir: Some("cifar".into()),
        train_per_class: None,
        test_limit: None,
        augment: false,
        model: ModelSpec::Vgg11 {
            width: VggWidth::Narrow,
            batch_norm: false,
        },
        loss: LossKind::Mse,
        optimizer: OptimizerSpec::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        },
        batch: BATCH as u32,
        epochs: 1,
        checkpoint_every: 0,
    }
}

/// One epoch over the images in order, without dropout (`deterministic`), so both devices do
/// the same arithmetic and differ only in float rounding. The clock runs from step `WARMUP` on.
fn epoch<B: AutodiffBackend>(mut model: Net<B>, data: &Prepared, device: &B::Device) -> Trained {
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig {
            momentum: 0.9,
            dampening: 0.0,
            nesterov: false,
        }))
        .init::<B, Net<B>>();
    let n = data.train.labels.len();
    let order: Vec<usize> = (0..n).collect();
    let mut losses = Vec::new();
    let mut started = Instant::now();
    let mut timed = 0;
    for (i, idx) in order.chunks(BATCH).enumerate() {
        if i == WARMUP {
            // Reading a value waits for the device to finish the work queued so far.
            let _ = model.forward(probe::<B>(data, device)).sum().into_scalar();
            started = Instant::now();
        }
        let (x, dims) = data::gather(&data.train, idx);
        let logits = model.forward(data::to_tensor::<B>(x, dims, device));
        let loss = batch_loss(logits, &data.train, idx, LossKind::Mse, device);
        if i < COMPARED_STEPS {
            losses.push(loss.clone().into_scalar().elem::<f64>());
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(LR, model, grads);
        if i >= WARMUP {
            timed += idx.len();
        }
    }
    let _ = model.forward(probe::<B>(data, device)).sum().into_scalar();
    Trained {
        losses,
        samples_per_sec: timed as f64 / started.elapsed().as_secs_f64().max(1e-9),
    }
}

fn probe<B: Backend>(data: &Prepared, device: &B::Device) -> burn::tensor::Tensor<B, 4> {
    let [c, h, w] = data.train.shape;
    data::to_tensor::<B>(data::gather(&data.train, &[0]).0, [1, c, h, w], device)
}

/// The model with its dropout turned off: the masks are random draws that each backend makes
/// its own way.
fn deterministic<B: Backend>(mut net: Net<B>) -> Net<B> {
    for layer in &mut net.head {
        if let Head::Dropout(d) = layer {
            *d = DropoutConfig::new(0.0).init();
        }
    }
    net
}

fn report(name: &str, t: &Trained) {
    println!(
        "{name}: {:.0} samples/s over one epoch; first losses {:?}",
        t.samples_per_sec, t.losses
    );
}

struct Args {
    images: usize,
    cpu_only: bool,
    json: Option<PathBuf>,
    write_data: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        images: 2_560,
        cpu_only: false,
        json: None,
        write_data: None,
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--cpu-only" => a.cpu_only = true,
            "--images" => {
                a.images = value("--images")?
                    .parse()
                    .map_err(|e| format!("--images: {e}"))?;
            }
            "--json" => a.json = Some(value("--json")?.into()),
            "--write-data" => a.write_data = Some(value("--write-data")?.into()),
            other => {
                return Err(format!(
                    "unknown argument {other:?} (--images N, --cpu-only, --json PATH, --write-data DIR)"
                ));
            }
        }
    }
    if a.images < (WARMUP + 1) * BATCH {
        return Err(format!(
            "--images: at least {} (one timed batch after the warm-up)",
            (WARMUP + 1) * BATCH
        ));
    }
    Ok(a)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args()?;
    if let Some(dir) = &a.write_data {
        datasets::testgen::write_cifar10(dir, a.images.div_ceil(5), 100, 1)?;
        println!(
            "wrote {} generated CIFAR-10-format images to {}",
            a.images,
            dir.display()
        );
        return Ok(());
    }
    let root = std::env::temp_dir().join(format!("anneal-gpu-check-{}", std::process::id()));
    let result = check(&root, &a);
    let _ = std::fs::remove_dir_all(&root);
    let json = result?;
    if let Some(path) = &a.json {
        std::fs::write(path, json)?;
    }
    Ok(())
}

/// Trains both halves; the figures as a JSON object.
fn check(root: &Path, a: &Args) -> Result<String, Box<dyn std::error::Error>> {
    datasets::testgen::write_cifar10(&root.join("cifar"), a.images.div_ceil(5), 100, 1)?;
    let spec = spec();
    let data = data::prepare(&spec, root, 0)?;
    println!(
        "narrow VGG-11, {} generated CIFAR-10-format images, batch {BATCH}, SGD {LR} momentum 0.9, MSE",
        data.train.labels.len()
    );
    let cpu = burn::backend::flex::FlexDevice;
    Cpu::seed(&cpu, 0);
    let init = deterministic::<Cpu>(build(
        &spec.model,
        data.train.shape,
        data.train.num_classes,
        &cpu,
    ));
    // Burn draws a parameter's initial values when it is first read, separately in every clone:
    // read them once here, or the record would hold other numbers than the CPU trains from.
    let _ = trainer::net::flat::flatten(&init);
    let bytes = BinBytesRecorder::<FullPrecisionSettings>::default()
        .record(init.clone().into_record(), ())?;
    let on_cpu = epoch(init, &data, &cpu);
    report("cpu (flex)", &on_cpu);
    let head = format!(
        "\"model\": \"narrow vgg-11\", \"images\": {}, \"batch\": {BATCH}, \"warmup_steps\": {WARMUP}, \"cpu\": {}",
        data.train.labels.len(),
        on_cpu.json()
    );
    if a.cpu_only {
        println!("--cpu-only: CUDA not tried");
        return Ok(format!("{{{head}}}"));
    }
    let tail = cuda(&spec, &data, bytes, &on_cpu)?;
    Ok(format!("{{{head}, {tail}}}"))
}

#[cfg(feature = "cuda")]
fn cuda(
    spec: &NetSpec,
    data: &Prepared,
    bytes: Vec<u8>,
    on_cpu: &Trained,
) -> Result<String, Box<dyn std::error::Error>> {
    type Gpu = Autodiff<burn::backend::Cuda>;
    // Without a driver or a device Burn would panic; this says which is missing.
    let name = trainer::device::cuda_device_name()?;
    println!("cuda:0 {name}");
    let dev = burn::backend::cuda::CudaDevice::new(0);
    let record = BinBytesRecorder::<FullPrecisionSettings>::default().load(bytes, &dev)?;
    let model = deterministic::<Gpu>(build(
        &spec.model,
        data.train.shape,
        data.train.num_classes,
        &dev,
    ))
    .load_record(record);
    let on_gpu = epoch(model, data, &dev);
    report("cuda", &on_gpu);
    let worst = on_cpu
        .losses
        .iter()
        .zip(&on_gpu.losses)
        .map(|(a, b)| ((a - b) / a.abs().max(1e-12)).abs())
        .fold(0.0f64, f64::max);
    println!(
        "first {COMPARED_STEPS} losses: worst relative difference {worst:.2e} (tolerance {TOLERANCE:.0e}); cuda / cpu samples/s = {:.1}",
        on_gpu.samples_per_sec / on_cpu.samples_per_sec
    );
    if worst > TOLERANCE || on_gpu.losses.len() != on_cpu.losses.len() {
        return Err("CUDA and CPU losses disagree".into());
    }
    println!("gpu check passed");
    Ok(format!(
        "\"device\": {name:?}, \"cuda\": {}, \"worst_relative_loss_difference\": {worst:e}, \"tolerance\": {TOLERANCE:e}",
        on_gpu.json()
    ))
}

#[cfg(not(feature = "cuda"))]
fn cuda(
    _spec: &NetSpec,
    _data: &Prepared,
    _bytes: Vec<u8>,
    _on_cpu: &Trained,
) -> Result<String, Box<dyn std::error::Error>> {
    Err("this binary was built without the `cuda` feature: build it with scripts/gpu-check.sh build, or pass --cpu-only".into())
}

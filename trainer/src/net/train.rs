//! The training loop for networks: per-step LR from the schedule, per-epoch evaluation on the
//! training subset and the test set, checkpoints, and resuming from one.

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLossConfig, MseLoss, Reduction};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use datasets::{Augment, Dataset};
use domain::Metric;
use experiment::{LossKind, NetSpec};
use rand::seq::SliceRandom;
use schedule::Schedule;

use super::checkpoint::{self, Position};
use super::data::{self, Prepared};
use super::flat::flatten;
use super::model::{Net, build};
use super::norm_stats;
use super::optim::AnyOptim;
use crate::device::{BackendJob, DeviceInfo};
use crate::sink::{Event, Sink, StopFlag};
use crate::toy::seeded_stream;
use crate::{Outcome, TrainContext, TrainError};
use domain::wire::MetricPoint;

/// Images per forward pass when evaluating a split.
pub const EVAL_BATCH: usize = 1000;

pub struct NetJob<'a> {
    pub spec: &'a NetSpec,
    pub schedule: &'a Schedule,
    /// Init, data order, augmentation and dropout.
    pub seed: u64,
    /// The training subset (`train_per_class`).
    pub data_seed: u64,
    pub ctx: &'a TrainContext,
    pub sink: &'a mut dyn Sink,
    pub stop: &'a StopFlag,
}

/// A split cut into batches and turned into tensors once, so that evaluating many weight
/// vectors (a landscape grid) does not gather and upload the same images every time.
pub struct EvalSet<B: Backend> {
    batches: Vec<EvalBatch<B>>,
    n: usize,
}

struct EvalBatch<B: Backend> {
    x: Tensor<B, 4>,
    labels: Tensor<B, 1, Int>,
    /// One-hot targets, only for the MSE loss.
    one_hot: Option<Tensor<B, 2>>,
    len: usize,
}

impl<B: Backend> EvalSet<B> {
    pub fn new(ds: &Dataset, loss: LossKind, batch: usize, device: &B::Device) -> Self {
        let idx: Vec<usize> = (0..ds.labels.len()).collect();
        let batches = idx
            .chunks(batch.max(1))
            .map(|chunk| {
                let (x, dims) = data::gather(ds, chunk);
                EvalBatch {
                    x: data::to_tensor::<B>(x, dims, device),
                    labels: data::labels::<B>(ds, chunk, device),
                    one_hot: (loss == LossKind::Mse)
                        .then(|| data::one_hot::<B>(ds, chunk, ds.num_classes, device)),
                    len: chunk.len(),
                }
            })
            .collect();
        Self {
            batches,
            n: idx.len(),
        }
    }

    /// Mean loss and accuracy of `model` over the whole split, without building a graph.
    pub fn evaluate(&self, model: &Net<B>) -> (f64, f64) {
        self.evaluate_with(|_, x| model.forward(x.clone()))
    }

    /// The split's input batches, in the order `evaluate_with` passes them.
    pub fn inputs(&self) -> impl Iterator<Item = &Tensor<B, 4>> {
        self.batches.iter().map(|b| &b.x)
    }

    /// Mean loss and accuracy of logits that `forward(batch index, inputs)` computes.
    pub fn evaluate_with(
        &self,
        forward: impl Fn(usize, &Tensor<B, 4>) -> Tensor<B, 2>,
    ) -> (f64, f64) {
        let Some(first) = self.batches.first() else {
            return (f64::NAN, f64::NAN);
        };
        let device = first.x.device();
        let mut losses = Vec::with_capacity(self.batches.len());
        let mut hits = Vec::with_capacity(self.batches.len());
        for (i, b) in self.batches.iter().enumerate() {
            let logits = forward(i, &b.x);
            let pred = logits.clone().argmax(1).reshape([b.len as i32]);
            losses.push(loss_of(logits, &b.labels, b.one_hot.as_ref(), &device));
            hits.push(pred.equal(b.labels.clone()).int().sum());
        }
        // One read-back per split instead of two per batch; the weighted sum is taken in f64 on
        // the host, so a huge batch loss does not overflow an f32 accumulator.
        let losses = Tensor::cat(losses, 0).into_data();
        let hits = Tensor::cat(hits, 0).into_data();
        let n = self.n as f64;
        let loss_sum: f64 = losses
            .iter::<f64>()
            .zip(&self.batches)
            .map(|(l, b)| l * b.len as f64)
            .sum();
        let correct: f64 = hits.iter::<f64>().sum();
        (loss_sum / n, correct / n)
    }
}

/// Mean loss and accuracy over a whole split, without building a graph.
pub fn evaluate<B: Backend>(
    model: &Net<B>,
    ds: &Dataset,
    loss: LossKind,
    device: &B::Device,
) -> (f64, f64) {
    EvalSet::new(ds, loss, EVAL_BATCH, device).evaluate(model)
}

/// The training loss of one batch (also used by the throughput benchmark).
pub fn batch_loss<B: Backend>(
    logits: Tensor<B, 2>,
    ds: &Dataset,
    idx: &[usize],
    loss: LossKind,
    device: &B::Device,
) -> Tensor<B, 1> {
    let labels = data::labels(ds, idx, device);
    let one_hot = (loss == LossKind::Mse).then(|| data::one_hot(ds, idx, logits.dims()[1], device));
    loss_of(logits, &labels, one_hot.as_ref(), device)
}

/// MSE against `one_hot` when given (the MSE runs build it), else cross-entropy on `labels`.
fn loss_of<B: Backend>(
    logits: Tensor<B, 2>,
    labels: &Tensor<B, 1, Int>,
    one_hot: Option<&Tensor<B, 2>>,
    device: &B::Device,
) -> Tensor<B, 1> {
    match one_hot {
        Some(t) => MseLoss::new().forward(logits, t.clone(), Reduction::Mean),
        None => CrossEntropyLossConfig::new()
            .init(device)
            .forward(logits, labels.clone()),
    }
}

fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

fn dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Stream ids for the per-epoch RNGs, apart from each other and from the toy model's.
fn epoch_stream(purpose: u64, epoch: u32) -> u64 {
    (purpose << 32) | u64::from(epoch)
}

impl BackendJob for NetJob<'_> {
    type Output = Outcome;

    fn run<B: AutodiffBackend>(
        self,
        device: B::Device,
        info: DeviceInfo,
    ) -> Result<Outcome, TrainError> {
        let NetJob {
            spec,
            schedule,
            seed,
            data_seed,
            ctx,
            sink,
            stop,
        } = self;
        let Prepared { train, test } = data::prepare(spec, &ctx.data_root, data_seed)?;
        let steps_per_epoch = (train.labels.len().div_ceil(spec.batch as usize)).max(1) as u64;
        let total_steps = steps_per_epoch * u64::from(spec.epochs);
        let Start {
            mut model,
            mut optim,
            at: start,
            w0,
        } = Start::<B>::new(spec, &train, seed, ctx, &device)?;

        sink.emit(Event::Started {
            backend: info.backend,
            device: info.device,
            total_steps,
            steps_per_epoch,
        })?;
        let rows = Rows {
            spec,
            schedule,
            train: &train,
            test: &test,
            total_steps,
            w0,
            // Schedule-free evaluates x, whose batch-norm statistics must be recomputed.
            norm_sample: if optim.is_schedule_free() && spec.model.has_batch_norm() {
                norm_stats::sample(&train, &device)
            } else {
                Vec::new()
            },
            device: device.clone(),
        };
        if start.epoch == 0 {
            rows.emit(sink, &model, &optim, (0, 0), (0, 0.0))?;
        }

        let epochs = Epochs {
            spec,
            schedule,
            train: &train,
            seed,
            total_steps,
            steps_per_epoch,
            device,
            augment: spec.augment.then_some(Augment {
                crop_padding: 4,
                hflip: true,
            }),
        };
        let mut step = start.step;
        for epoch in start.epoch..spec.epochs {
            let Some((trained, secs)) =
                epochs.train(epoch, model, &mut optim, &mut step, sink, stop)?
            else {
                return Ok(Outcome::Stopped { at_step: step });
            };
            model = trained;
            let done = epoch + 1;
            rows.emit(
                sink,
                &model,
                &optim,
                (done, step),
                (train.labels.len(), secs),
            )?;
            // After the row: a crash in between re-runs this epoch, and its identical row is skipped.
            if spec.checkpoint_every > 0
                && done % spec.checkpoint_every == 0
                && let Some(root) = &ctx.checkpoint_dir
            {
                checkpoint_after(
                    root,
                    (done, step, seed),
                    &model,
                    &optim,
                    &rows.norm_sample,
                    sink,
                )?;
            }
        }
        Ok(Outcome::Completed)
    }
}

/// The model and optimizer a run starts from, where it starts, and the initial weights w₀.
struct Start<B: AutodiffBackend> {
    model: Net<B>,
    optim: AnyOptim<B>,
    at: Position,
    w0: Vec<f32>,
}

impl<B: AutodiffBackend> Start<B> {
    /// Fresh from the seed, or loaded from the checkpoint the run resumes.
    fn new(
        spec: &NetSpec,
        train: &Dataset,
        seed: u64,
        ctx: &TrainContext,
        device: &B::Device,
    ) -> Result<Self, TrainError> {
        // The initial weights depend only on the seed, so a resumed run knows its w₀.
        B::seed(device, seed);
        let mut model: Net<B> = build(&spec.model, train.shape, train.num_classes, device);
        let w0 = flatten(&model);
        let mut optim = AnyOptim::<B>::new(&spec.optimizer);
        let mut start = Position {
            epoch: 0,
            step: 0,
            seed,
            num_params: model.num_params(),
        };
        if let Some(dir) = &ctx.resume_from {
            let (m, o, pos) = checkpoint::load(dir, model, optim, device)?;
            if pos.seed != seed {
                return Err(TrainError::Checkpoint(
                    "checkpoint was made with another seed".into(),
                ));
            }
            (model, optim, start) = (m, o, pos);
        }
        Ok(Self {
            model,
            optim,
            at: start,
            w0,
        })
    }
}

/// What a run's metric rows are measured on: both splits, the schedule's LR, and w₀.
struct Rows<'a, B: AutodiffBackend> {
    spec: &'a NetSpec,
    schedule: &'a Schedule,
    train: &'a Dataset,
    test: &'a Dataset,
    total_steps: u64,
    w0: Vec<f32>,
    /// The fixed sample batch norm's statistics are recomputed on (empty when not needed).
    norm_sample: Vec<Tensor<B::InnerBackend, 4>>,
    device: B::Device,
}

impl<B: AutodiffBackend> Rows<'_, B> {
    /// Measures and emits the row after `epoch` epochs and `step` steps, `samples` having
    /// trained in `train_secs` (none for the row before training).
    ///
    /// Every figure of a row is taken at the weights the optimizer evaluates: for
    /// schedule-free, the average x rather than the gradient point y the model holds.
    fn emit(
        &self,
        sink: &mut dyn Sink,
        model: &Net<B>,
        optim: &AnyOptim<B>,
        (epoch, step): (u32, u64),
        (samples, train_secs): (usize, f64),
    ) -> Result<(), TrainError> {
        let (spec, total_steps) = (self.spec, self.total_steps);
        let eval = optim.eval_model_on(model, &self.norm_sample);
        let inner = self.device.clone();
        let (train_loss, train_acc) = evaluate(&eval, self.train, spec.loss, &inner);
        let (test_loss, test_acc) = evaluate(&eval, self.test, spec.loss, &inner);
        let w = flatten(&eval);
        let mut values = domain::metric::values([
            (Metric::TrainLoss, train_loss),
            (Metric::TrainAcc, train_acc),
            (Metric::TestLoss, test_loss),
            (Metric::TestAcc, test_acc),
            (
                Metric::Lr,
                self.schedule.lr_at(step.min(total_steps.saturating_sub(1))),
            ),
            (Metric::WNorm, norm(&w)),
            (Metric::DistInit, dist(&w, &self.w0)),
        ]);
        if samples > 0 {
            values.insert(
                Metric::SamplesPerSec.key().into(),
                samples as f64 / train_secs.max(1e-9),
            );
            values.insert(Metric::EpochSeconds.key().into(), train_secs);
        }
        // Any value, not only the loss: a row with an infinity is never stored.
        if let Some((what, _)) = values.iter().find(|(_, v)| !v.is_finite()) {
            return Err(TrainError::Diverged {
                step,
                what: Metric::parse(what).map_or("a metric", Metric::key),
            });
        }
        sink.emit(Event::Metric(MetricPoint {
            step,
            epoch: f64::from(epoch),
            values,
        }))?;
        Ok(())
    }
}

/// What every epoch of a run trains with.
struct Epochs<'a, B: AutodiffBackend> {
    spec: &'a NetSpec,
    schedule: &'a Schedule,
    train: &'a Dataset,
    seed: u64,
    total_steps: u64,
    steps_per_epoch: u64,
    device: B::Device,
    augment: Option<Augment>,
}

impl<B: AutodiffBackend> Epochs<'_, B> {
    /// One epoch of steps, with progress heartbeats: the trained model and the seconds its
    /// steps took, or None when the stop flag was raised before a step (`step` then counts the
    /// steps completed).
    fn train(
        &self,
        epoch: u32,
        mut model: Net<B>,
        optim: &mut AnyOptim<B>,
        step: &mut u64,
        sink: &mut dyn Sink,
        stop: &StopFlag,
    ) -> Result<Option<(Net<B>, f64)>, TrainError> {
        let (spec, train, seed, device) = (self.spec, self.train, self.seed, &self.device);
        let batch = spec.batch as usize;
        let progress_every = (self.steps_per_epoch / 20).max(1);
        // Everything random in this epoch is derived from (seed, epoch): resumable exactly.
        B::seed(device, seed ^ epoch_stream(3, epoch));
        let mut order: Vec<usize> = (0..train.labels.len()).collect();
        order.shuffle(&mut seeded_stream(seed, epoch_stream(1, epoch)));
        let mut aug_rng = seeded_stream(seed, epoch_stream(2, epoch));
        let started = Instant::now();
        for (i, idx) in order.chunks(batch).enumerate() {
            if stop.is_raised() {
                return Ok(None);
            }
            let (mut x, dims) = data::gather(train, idx);
            if let Some(aug) = &self.augment {
                datasets::augment_batch(&mut x, train.shape, aug, &mut aug_rng);
            }
            let logits = model.forward(data::to_tensor::<B>(x, dims, device));
            let loss = batch_loss(logits, train, idx, spec.loss, device);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(self.schedule.lr_at(*step), model, grads);
            *step += 1;
            if (i as u64 + 1).is_multiple_of(progress_every) {
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                let done = (i + 1) * batch;
                sink.emit(Event::Progress {
                    step: *step,
                    total_steps: self.total_steps,
                    samples_per_sec: done as f64 / secs,
                })?;
            }
        }
        Ok(Some((model, started.elapsed().as_secs_f64())))
    }
}

/// Writes the checkpoint after `epoch` epochs and reports where it went.
fn checkpoint_after<B: AutodiffBackend>(
    root: &std::path::Path,
    (epoch, step, seed): (u32, u64, u64),
    model: &Net<B>,
    optim: &AnyOptim<B>,
    norm_sample: &[Tensor<B::InnerBackend, 4>],
    sink: &mut dyn Sink,
) -> Result<(), TrainError> {
    let dir = checkpoint::dir_for(root, epoch);
    let pos = Position {
        epoch,
        step,
        seed,
        num_params: model.num_params(),
    };
    checkpoint::save(&dir, model, optim, norm_sample, &pos)?;
    sink.emit(Event::Checkpoint { epoch, step, dir })?;
    Ok(())
}

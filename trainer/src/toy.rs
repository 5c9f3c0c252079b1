//! The paper's nonlinear model y = ‖w‖^γ·wᵀx trained by SGD with Burn autodiff, with
//! fresh label noise at every draw (the regime where late decay pays, DESIGN.md §2).

use std::time::Instant;

use burn::module::{Module, Param};
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use datasets::ToyProblem;
use domain::Metric;
use experiment::ToySpec;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use schedule::Schedule;

use crate::device::{BackendJob, DeviceInfo};
use crate::sink::{Event, Sink, StopFlag};
use crate::{Outcome, TrainError};
use domain::wire::MetricPoint;

/// The trainable vector w; α = ‖w‖^γ·w is the effective linear predictor.
#[derive(Module, Debug)]
pub struct ToyModel<B: Backend> {
    pub w: Param<Tensor<B, 1>>,
}

impl<B: Backend> ToyModel<B> {
    pub fn from_host(w: &[f32], device: &B::Device) -> Self {
        let t = Tensor::from_data(TensorData::new(w.to_vec(), [w.len()]), device);
        Self {
            w: Param::from_tensor(t),
        }
    }

    /// α = ‖w‖^γ·w, shape [d].
    pub fn alpha(&self, gamma: f64) -> Tensor<B, 1> {
        let w = self.w.val();
        let norm = w.clone().powi_scalar(2).sum().sqrt(); // [1]
        w * norm.powf_scalar(gamma)
    }

    /// Predictions for a batch x: [b, d] → [b].
    pub fn forward(&self, x: Tensor<B, 2>, gamma: f64) -> Tensor<B, 1> {
        let d = x.dims()[1];
        let alpha = self.alpha(gamma).reshape([d, 1]);
        x.matmul(alpha).reshape([-1])
    }

    pub fn to_host(&self) -> Result<Vec<f32>, TrainError> {
        self.w
            .val()
            .into_data()
            .into_vec::<f32>()
            .map_err(|e| TrainError::Tensor(format!("{e:?}")))
    }
}

/// Squared loss ½·mean((ŷ − y)²), as in the paper.
pub fn loss<B: Backend>(pred: Tensor<B, 1>, y: Tensor<B, 1>) -> Tensor<B, 1> {
    (pred - y).powi_scalar(2).mean().mul_scalar(0.5)
}

/// One toy run, ready to be placed on a backend.
pub struct ToyJob<'a> {
    pub spec: &'a ToySpec,
    pub schedule: &'a Schedule,
    /// Init, sample order and label noise.
    pub seed: u64,
    /// The samples X and the teacher: the problem itself.
    pub data_seed: u64,
    pub sink: &'a mut dyn Sink,
    pub stop: &'a StopFlag,
}

/// Metrics of the toy model at parameters `w`, computed exactly on the host in f64.
pub fn toy_metrics(problem: &ToyProblem, w: &[f32]) -> Vec<(Metric, f64)> {
    let w64: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
    let alpha = problem.alpha_of(&w64);
    let mut out = vec![
        (Metric::TrainLoss, problem.train_loss(&alpha)),
        (Metric::TestLoss, problem.test_loss(&alpha)),
        (Metric::WNorm, norm(&w64)),
        (Metric::AlphaNorm, norm(&alpha)),
        (Metric::DistMn, problem.dist_to_mn(&alpha)),
    ];
    // With d = 2 the weights themselves are the trajectory the exact landscape draws.
    if let [w1, w2] = w64[..] {
        out.extend([(Metric::W1, w1), (Metric::W2, w2)]);
    }
    out
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// An RNG for one purpose (init, data order, noise) of a seeded run.
pub fn seeded_stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Initial weights w₀ ~ N(0, init_scale²·I/d), drawn from the run's seed.
pub fn initial_weights(d: usize, init_scale: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let s = init_scale / (d as f64).sqrt();
    (0..d)
        .map(|_| (s * rng.sample::<f64, _>(StandardNormal)) as f32)
        .collect()
}

impl BackendJob for ToyJob<'_> {
    type Output = Outcome;

    fn run<B: AutodiffBackend>(
        self,
        device: B::Device,
        info: DeviceInfo,
    ) -> Result<Outcome, TrainError> {
        let ToyJob {
            spec,
            schedule,
            seed,
            data_seed,
            sink,
            stop,
        } = self;
        let (d, n, batch) = (spec.d as usize, spec.n as usize, spec.batch as usize);
        // The min-norm solve can take minutes for a large problem: it watches the stop flag.
        let problem =
            match ToyProblem::generate_until(d, n, spec.gamma, data_seed, &|| stop.is_raised()) {
                Ok(p) => p,
                Err(datasets::DataError::Stopped) => return Ok(Outcome::Stopped { at_step: 0 }),
                Err(e) => return Err(e.into()),
            };
        // Separate streams so that changing the noise level never changes the data or init.
        let mut init_rng = seeded_stream(seed, 1);
        let mut data_rng = seeded_stream(seed, 2);
        B::seed(&device, seed);

        let steps_per_epoch = spec.steps_per_epoch();
        let eval_every = spec.eval_interval();
        sink.emit(Event::Started {
            backend: info.backend.clone(),
            device: info.device.clone(),
            total_steps: spec.steps,
            steps_per_epoch,
        })?;

        let w0 = initial_weights(d, spec.init_scale, &mut init_rng);
        let mut model = ToyModel::<B>::from_host(&w0, &device);
        let mut optim = SgdConfig::new().init::<B, ToyModel<B>>();
        let emit_row =
            |sink: &mut dyn Sink, model: &ToyModel<B>, step: u64| -> Result<(), TrainError> {
                let w = model.to_host()?;
                let mut values = domain::metric::values(toy_metrics(&problem, &w));
                // The LR the next step will use; at the end, the last one used.
                values.insert(
                    Metric::Lr.key().into(),
                    schedule.lr_at(step.min(spec.steps.saturating_sub(1))),
                );
                if let Some((what, _)) = values.iter().find(|(_, v)| !v.is_finite()) {
                    return Err(TrainError::Diverged {
                        step,
                        what: Metric::parse(what).map_or("a metric", Metric::key),
                    });
                }
                sink.emit(Event::Metric(MetricPoint {
                    step,
                    epoch: step as f64 / steps_per_epoch as f64,
                    values,
                }))?;
                Ok(())
            };
        emit_row(sink, &model, 0)?;

        let mut order: Vec<usize> = (0..n).collect();
        let mut cursor = n; // forces a shuffle before the first batch
        let mut xb = Vec::with_capacity(batch * d);
        let mut yb = Vec::with_capacity(batch);
        let started = Instant::now();
        for step in 0..spec.steps {
            if stop.is_raised() {
                return Ok(Outcome::Stopped { at_step: step });
            }
            xb.clear();
            yb.clear();
            for _ in 0..batch {
                if cursor == n {
                    order.shuffle(&mut data_rng);
                    cursor = 0;
                }
                let i = order[cursor];
                cursor += 1;
                xb.extend(problem.x[i * d..(i + 1) * d].iter().map(|&v| v as f32));
                let noise: f64 = StandardNormal.sample(&mut data_rng);
                yb.push((problem.y[i] + spec.label_noise * noise) as f32);
            }
            let x = Tensor::<B, 2>::from_data(TensorData::new(xb.clone(), [batch, d]), &device);
            let y = Tensor::<B, 1>::from_data(TensorData::new(yb.clone(), [batch]), &device);
            let l = loss(model.forward(x, spec.gamma), y);
            let grads = GradientsParams::from_grads(l.backward(), &model);
            model = optim.step(schedule.lr_at(step), model, grads);

            let done = step + 1;
            if done % eval_every == 0 || done == spec.steps {
                emit_row(sink, &model, done)?;
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                sink.emit(Event::Progress {
                    step: done,
                    total_steps: spec.steps,
                    samples_per_sec: (done as f64 * batch as f64) / secs,
                })?;
            }
        }
        Ok(Outcome::Completed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::backend::flex::FlexDevice;
    use burn::tensor::Tolerance;
    use experiment::{Experiment, RunSpec};

    type Ad = burn::backend::Autodiff<Flex>;

    #[test]
    fn alpha_is_norm_power_times_w() {
        // w = (3, 4): ‖w‖ = 5, so with γ = 1, α = 5·w = (15, 20).
        let m = ToyModel::<Flex>::from_host(&[3.0, 4.0], &FlexDevice);
        let a = m.alpha(1.0).into_data();
        a.assert_approx_eq::<f32>(&TensorData::from([15.0f32, 20.0]), Tolerance::default());
    }

    #[test]
    fn gradient_matches_hand_derivation() {
        // L = ½(αᵀx − y)², α = ‖w‖w. ∂L/∂w = r·(‖w‖x + (wᵀx/‖w‖)w), r = αᵀx − y.
        // w = (3,4), x = (1,0), y = 0: α·x = 15, r = 15, wᵀx = 3, ‖w‖ = 5
        // grad = 15·((5,0) + (3/5)(3,4)) = 15·(6.8, 2.4) = (102, 36).
        let m = ToyModel::<Ad>::from_host(&[3.0, 4.0], &FlexDevice);
        let x = Tensor::<Ad, 2>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &FlexDevice);
        let y = Tensor::<Ad, 1>::from_data(TensorData::new(vec![0.0f32], [1]), &FlexDevice);
        let grads = loss(m.forward(x, 1.0), y).backward();
        let g =
            m.w.grad(&grads)
                .expect("w takes part in the loss")
                .into_data();
        g.assert_approx_eq::<f32>(&TensorData::from([102.0f32, 36.0]), Tolerance::default());
    }

    fn quick_spec(steps: u64, seed: u64) -> RunSpec {
        let mut spec = RunSpec::toy_default();
        spec.seed = seed;
        let Experiment::Toy(t) = &mut spec.experiment else {
            unreachable!()
        };
        t.steps = steps;
        t.eval_every = steps / 10;
        spec
    }

    fn metrics(events: &[Event]) -> Vec<&MetricPoint> {
        events
            .iter()
            .filter_map(|e| {
                if let Event::Metric(m) = e {
                    Some(m)
                } else {
                    None
                }
            })
            .collect()
    }

    #[test]
    fn training_reports_rows_and_fits_the_data() {
        let spec = quick_spec(3000, 7);
        let mut events = Vec::new();
        let out = crate::train(&spec, &Default::default(), &mut events, &StopFlag::new())
            .expect("toy run trains");
        assert_eq!(out, Outcome::Completed);
        assert!(matches!(events[0], Event::Started { .. }));
        let rows = metrics(&events);
        assert_eq!(rows.len(), 11, "step 0 plus every 300 steps");
        assert_eq!(rows.last().map(|r| r.step), Some(3000));
        let first = rows[0].values[Metric::TrainLoss.key()];
        let last = rows
            .last()
            .map(|r| r.values[Metric::TrainLoss.key()])
            .unwrap_or(f64::NAN);
        assert!(
            last < first * 0.2,
            "train loss should fall: {first} -> {last}"
        );
    }

    #[test]
    fn same_seed_repeats_bit_for_bit() {
        let run = |seed| {
            let mut ev = Vec::new();
            crate::train(
                &quick_spec(500, seed),
                &Default::default(),
                &mut ev,
                &StopFlag::new(),
            )
            .expect("runs");
            metrics(&ev).into_iter().cloned().collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn the_data_seed_draws_the_problem_and_the_seed_the_training() {
        let run = |seed, data_seed| {
            let mut spec = quick_spec(300, seed);
            spec.data_seed = data_seed;
            let mut ev = Vec::new();
            crate::train(&spec, &Default::default(), &mut ev, &StopFlag::new()).expect("runs");
            metrics(&ev).into_iter().cloned().collect::<Vec<_>>()
        };
        // A run stored before replicates (no data seed) trains exactly as it did.
        assert_eq!(run(3, None), run(3, Some(3)));
        // Either seed alone changes the run.
        assert_ne!(run(4, Some(3)), run(3, Some(3)));
        assert_ne!(run(3, Some(5)), run(3, Some(3)));
    }

    #[test]
    fn stop_flag_stops_before_the_next_step() {
        let stop = StopFlag::new();
        stop.raise();
        let mut ev = Vec::new();
        let out =
            crate::train(&quick_spec(500, 1), &Default::default(), &mut ev, &stop).expect("runs");
        assert_eq!(out, Outcome::Stopped { at_step: 0 });
    }

    #[test]
    fn a_cancel_during_the_min_norm_solve_is_heard() {
        // A solve of minutes (n = 4,000: about 2·10¹⁰ flops) ends at once once stopped.
        let mut spec = quick_spec(10, 1);
        if let Experiment::Toy(t) = &mut spec.experiment {
            (t.d, t.n, t.batch) = (4_001, 4_000, 1);
        }
        let stop = StopFlag::new();
        stop.raise();
        let started = std::time::Instant::now();
        let out = crate::train(&spec, &Default::default(), &mut Vec::new(), &stop).expect("runs");
        assert_eq!(out, Outcome::Stopped { at_step: 0 });
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn cuda_request_is_refused_without_the_feature() {
        let mut spec = quick_spec(10, 1);
        spec.backend = experiment::BackendChoice::Cuda;
        let res = crate::train(
            &spec,
            &Default::default(),
            &mut Vec::new(),
            &StopFlag::new(),
        );
        if cfg!(feature = "cuda") {
            return;
        }
        assert!(
            matches!(res, Err(TrainError::BackendUnavailable("cuda"))),
            "{res:?}"
        );
    }
}

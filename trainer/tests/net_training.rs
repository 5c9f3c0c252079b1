//! Network training on real files: Fashion-MNIST accuracy, checkpoints that make resume
//! and branch repeat an uninterrupted run exactly, and schedule-free runs reporting their
//! averaged weights.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use experiment::{Experiment, LossKind, ModelSpec, NetSpec, OptimizerSpec, RunSpec};
use schedule::Schedule;
use trainer::{Event, MetricPoint, Outcome, Sink, SinkError, StopFlag, TrainContext};

// mimalloc, as every binary that trains (see the `trainer` crate's docs for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Flex keeps one random generator per process and every run reseeds it (`B::seed`) before
/// drawing its initial weights, so two runs starting at once in this test binary would draw
/// each other's numbers and the bit-for-bit comparisons would fail at random: the tests that
/// train take turns.
static TRAINING: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    // A failed test poisons the lock; the others still deserve their turn.
    TRAINING.lock().unwrap_or_else(PoisonError::into_inner)
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("anneal-trainer-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn rows(events: &[Event]) -> Vec<MetricPoint> {
    events
        .iter()
        .filter_map(|e| {
            if let Event::Metric(m) = e {
                Some(m.clone())
            } else {
                None
            }
        })
        .collect()
}

/// Rows without the wall-clock figures, which differ between any two runs.
fn comparable(rows: &[MetricPoint]) -> Vec<MetricPoint> {
    rows.iter()
        .cloned()
        .map(|mut r| {
            r.values.remove("samples_per_sec");
            r.values.remove("epoch_seconds");
            r
        })
        .collect()
}

fn run(spec: &RunSpec, ctx: &TrainContext) -> Vec<Event> {
    let mut events = Vec::new();
    let out = trainer::train(spec, ctx, &mut events, &StopFlag::new()).expect("trains");
    assert_eq!(out, Outcome::Completed);
    events
}

#[test]
fn fashion_mnist_mlp_two_epochs_beats_80_percent() {
    let _turn = one_at_a_time();
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    assert!(
        dir.join("train-images-idx3-ubyte.gz").exists(),
        "Fashion-MNIST is missing: `apt-get install dataset-fashion-mnist` (scripts/setup.sh does this)"
    );
    let spec = RunSpec {
        experiment: Experiment::Net(NetSpec {
            checkpoint_every: 0,
            ..NetSpec::fashion_mlp()
        }),
        schedule: Schedule::Constant { lr: 0.05 },
        ..RunSpec::toy_default()
    };
    let ctx = TrainContext {
        data_root: PathBuf::from("/"),
        ..Default::default()
    };
    let r = rows(&run(&spec, &ctx));
    assert_eq!(r.len(), 3, "epoch 0, 1, 2");
    let last = &r[2];
    eprintln!("fashion-mnist MLP after 2 epochs: {:?}", last.values);
    assert!(
        last.values["test_acc"] > 0.80,
        "test accuracy {}",
        last.values["test_acc"]
    );
    assert!(last.values["train_loss"] < r[0].values["train_loss"]);
    assert_eq!(last.step, 2 * 469);
}

fn tiny_spec(epochs: u32, loss: LossKind, optimizer: OptimizerSpec) -> RunSpec {
    RunSpec {
        name: String::new(),
        experiment: Experiment::Net(NetSpec {
            dataset: experiment::DatasetChoice::FashionMnist,
            data_dir: Some("tiny".into()),
            train_per_class: Some(30),
            test_limit: None,
            augment: false,
            model: ModelSpec::SmallCnn,
            loss,
            optimizer,
            batch: 25,
            epochs,
            checkpoint_every: 1,
        }),
        schedule: Schedule::Constant { lr: 0.05 },
        seed: 9,
        data_seed: None,
        backend: experiment::BackendChoice::Cpu,
    }
}

fn sgd() -> OptimizerSpec {
    OptimizerSpec::Sgd {
        momentum: 0.9,
        nesterov: true,
        weight_decay: 1e-4,
    }
}

fn tiny_data(tag: &str) -> PathBuf {
    let root = temp_dir(tag);
    datasets::testgen::write_idx(&root.join("tiny"), 400, 100, false, 3)
        .expect("generated IDX files");
    root
}

/// Raises the stop flag once the checkpoint after `epoch` is written.
struct StopAfter {
    epoch: u32,
    stop: StopFlag,
    events: Vec<Event>,
}

impl Sink for StopAfter {
    fn emit(&mut self, event: Event) -> Result<(), SinkError> {
        if matches!(event, Event::Checkpoint { epoch, .. } if epoch == self.epoch) {
            self.stop.raise();
        }
        self.events.push(event);
        Ok(())
    }
}

#[test]
fn resume_and_branch_repeat_the_uninterrupted_run() {
    let _turn = one_at_a_time();
    let root = tiny_data("resume");
    let spec = tiny_spec(4, LossKind::CrossEntropy, sgd());
    let ctx = |name: &str| TrainContext {
        data_root: root.clone(),
        checkpoint_dir: Some(root.join(name)),
        resume_from: None,
    };
    let full = run(&spec, &ctx("full"));
    let full_rows = comparable(&rows(&full));
    assert_eq!(full_rows.len(), 5);

    // Same seed, same numbers, bit for bit.
    assert_eq!(comparable(&rows(&run(&spec, &ctx("again")))), full_rows);

    // Interrupted after epoch 2, then resumed from that checkpoint.
    let stop = StopFlag::new();
    let mut sink = StopAfter {
        epoch: 2,
        stop: stop.clone(),
        events: Vec::new(),
    };
    let out = trainer::train(&spec, &ctx("cut"), &mut sink, &stop).expect("trains");
    assert!(matches!(out, Outcome::Stopped { .. }));
    let first = comparable(&rows(&sink.events));
    assert_eq!(first, full_rows[..3].to_vec());
    let resumed = TrainContext {
        resume_from: Some(root.join("cut").join("epoch-000002")),
        ..ctx("cut")
    };
    let rest = comparable(&rows(&run(&spec, &resumed)));
    assert_eq!(
        rest,
        full_rows[3..].to_vec(),
        "resumed epochs equal the uninterrupted ones"
    );

    // A branch from checkpoint 2 with the main path's own schedule is the main path...
    let branch_ctx = TrainContext {
        resume_from: Some(root.join("full").join("epoch-000002")),
        ..ctx("branch")
    };
    assert_eq!(
        comparable(&rows(&run(&spec, &branch_ctx))),
        full_rows[3..].to_vec()
    );
    // ...and with a decayed schedule it diverges from there on, at the decayed LR.
    let spe = 12; // 300 images / batch 25
    let decayed = RunSpec {
        schedule: Schedule::DecayAt {
            lr: 0.05,
            decay_step: 2 * spe,
            factor: 0.1,
            second_decay_step: None,
            second_factor: None,
        },
        ..spec.clone()
    };
    let b = comparable(&rows(&run(
        &decayed,
        &TrainContext {
            checkpoint_dir: Some(root.join("branch2")),
            ..branch_ctx
        },
    )));
    assert_eq!(b[0].step, 3 * spe);
    assert!((b[0].values["lr"] - 0.005).abs() < 1e-12);
    assert_ne!(b, full_rows[3..].to_vec());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn mse_and_adamw_train() {
    let _turn = one_at_a_time();
    let root = tiny_data("mse");
    let ctx = TrainContext {
        data_root: root.clone(),
        ..Default::default()
    };
    for (loss, opt) in [
        (LossKind::Mse, sgd()),
        (
            LossKind::CrossEntropy,
            OptimizerSpec::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
            },
        ),
    ] {
        let mut spec = tiny_spec(3, loss, opt);
        spec.schedule = Schedule::Constant {
            lr: if loss == LossKind::Mse { 0.05 } else { 0.001 },
        };
        let r = rows(&run(&spec, &ctx));
        let (first, last) = (r[0].values["train_loss"], r[3].values["train_loss"]);
        assert!(last < first, "{loss:?}: train loss {first} -> {last}");
        assert!(
            r[3].values["train_acc"] > 0.3,
            "{loss:?}: {:?}",
            r[3].values
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn missing_dataset_says_what_to_install() {
    let spec = RunSpec {
        experiment: Experiment::Net(NetSpec {
            data_dir: Some("nowhere".into()),
            ..NetSpec::fashion_mlp()
        }),
        ..RunSpec::toy_default()
    };
    let ctx = TrainContext {
        data_root: temp_dir("missing"),
        ..Default::default()
    };
    let err = trainer::train(&spec, &ctx, &mut Vec::new(), &StopFlag::new()).expect_err("no data");
    let msg = err.to_string();
    assert!(msg.contains("dataset-fashion-mnist"), "{msg}");
}

fn schedule_free_sgd() -> OptimizerSpec {
    OptimizerSpec::ScheduleFreeSgd {
        momentum: 0.9,
        weight_decay: 1e-4,
        r: 0.0,
        weight_lr_power: 2.0,
    }
}

/// A warmup, so that the running maximum LR and the LR weighting of the average move.
fn warmup(lr: f64) -> Schedule {
    Schedule::Warmup {
        warmup_steps: 12,
        start_factor: 0.1,
        inner: Box::new(Schedule::Constant { lr }),
    }
}

#[test]
fn schedule_free_resumes_exactly_and_reports_the_average() {
    let _turn = one_at_a_time();
    use burn::backend::Autodiff;
    use burn::backend::flex::{Flex, FlexDevice};
    use burn::module::AutodiffModule;
    use trainer::net::optim::AnyOptim;
    use trainer::net::{checkpoint, data, flat, model, train::evaluate};

    let root = tiny_data("schedule-free");
    let mut spec = tiny_spec(3, LossKind::CrossEntropy, schedule_free_sgd());
    spec.schedule = warmup(0.1);
    let ctx = |name: &str| TrainContext {
        data_root: root.clone(),
        checkpoint_dir: Some(root.join(name)),
        resume_from: None,
    };
    let full = comparable(&rows(&run(&spec, &ctx("full"))));
    assert_eq!(full.len(), 4);
    assert!(
        full[3].values["train_loss"] < full[0].values["train_loss"],
        "{:?} -> {:?}",
        full[0].values,
        full[3].values
    );

    // Cut after epoch 1, resumed from that checkpoint: the same rows, bit for bit, which needs
    // y, z and the averaging counters all restored.
    let stop = StopFlag::new();
    let mut sink = StopAfter {
        epoch: 1,
        stop: stop.clone(),
        events: Vec::new(),
    };
    let out = trainer::train(&spec, &ctx("cut"), &mut sink, &stop).expect("trains");
    assert!(matches!(out, Outcome::Stopped { .. }));
    assert_eq!(comparable(&rows(&sink.events)), full[..2].to_vec());
    let resumed = TrainContext {
        resume_from: Some(root.join("cut").join("epoch-000001")),
        ..ctx("cut")
    };
    assert_eq!(comparable(&rows(&run(&spec, &resumed))), full[2..].to_vec());

    // The last row was taken at x, which the checkpoint keeps for landscapes; y, the weights
    // the model trains, scores differently.
    let Experiment::Net(net) = &spec.experiment else {
        unreachable!()
    };
    let dir = checkpoint::dir_for(&root.join("full"), 3);
    assert!(dir.join("model-eval.bin").is_file(), "x is saved");
    let device = FlexDevice;
    let prepared = data::prepare(net, &root, spec.data_seed()).expect("data");
    let build = || model::build::<Autodiff<Flex>>(&net.model, prepared.train.shape, 10, &device);
    let (y_model, optim, _) =
        checkpoint::load(&dir, build(), AnyOptim::new(&net.optimizer), &device).expect("loads");
    let x_model = checkpoint::load_model(&dir, build().valid(), &device).expect("loads x");
    assert_eq!(
        flat::flatten(&x_model),
        flat::flatten(&optim.eval_model(&y_model)),
        "the saved x is the one the restored state gives"
    );
    let last = &full[3].values;
    let (x_loss, x_acc) = evaluate(&x_model, &prepared.train, net.loss, &device);
    assert_eq!((x_loss, x_acc), (last["train_loss"], last["train_acc"]));
    let (y_loss, _) = evaluate(&y_model.valid(), &prepared.train, net.loss, &device);
    assert_ne!(y_loss, last["train_loss"], "rows come from x, not y");
    let x_norm = flat::flatten(&x_model)
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt();
    assert_eq!(x_norm, last["w_norm"]);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn schedule_free_adamw_trains() {
    let _turn = one_at_a_time();
    let root = tiny_data("schedule-free-adamw");
    let ctx = TrainContext {
        data_root: root.clone(),
        ..Default::default()
    };
    let mut spec = tiny_spec(
        3,
        LossKind::CrossEntropy,
        OptimizerSpec::ScheduleFreeAdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            r: 0.0,
            weight_lr_power: 2.0,
        },
    );
    spec.schedule = warmup(0.002);
    let r = rows(&run(&spec, &ctx));
    let (first, last) = (r[0].values["train_loss"], r[3].values["train_loss"]);
    assert!(last < first, "train loss {first} -> {last}");
    assert!(r[3].values["train_acc"] > 0.3, "{:?}", r[3].values);
    let _ = std::fs::remove_dir_all(&root);
}

/// ResNet-20 as a layer list on generated CIFAR-format images: batch norm's running
/// statistics travel in checkpoints, so a resumed run and a branch repeat the uninterrupted
/// one bit for bit; and schedule-free trains it too, its rows taken at the average x with the
/// statistics recomputed there.
#[test]
fn a_layer_built_resnet_resumes_exactly_and_trains_schedule_free() {
    let _turn = one_at_a_time();
    let root = temp_dir("resnet");
    datasets::testgen::write_cifar10(&root.join("c10"), 20, 30, 5).expect("generated CIFAR files");
    let spec = |optimizer| RunSpec {
        name: String::new(),
        experiment: Experiment::Net(NetSpec {
            dataset: experiment::DatasetChoice::Cifar10,
            data_dir: Some("c10".into()),
            train_per_class: Some(4),
            test_limit: None,
            augment: true,
            model: ModelSpec::Layers {
                layers: experiment::zoo::resnet20(10),
            },
            loss: LossKind::CrossEntropy,
            optimizer,
            batch: 20,
            epochs: 3,
            checkpoint_every: 1,
        }),
        schedule: Schedule::Constant { lr: 0.05 },
        seed: 4,
        data_seed: None,
        backend: experiment::BackendChoice::Cpu,
    };
    let plain = spec(sgd());
    assert_eq!(plain.validate(), Ok(()));
    let ctx = |name: &str, resume: Option<PathBuf>| TrainContext {
        data_root: root.clone(),
        checkpoint_dir: Some(root.join(name)),
        resume_from: resume,
    };
    let full = comparable(&rows(&run(&plain, &ctx("full", None))));
    assert_eq!(full.len(), 4);
    assert!(full.iter().all(|r| r.values["train_loss"].is_finite()));
    let resumed = comparable(&rows(&run(
        &plain,
        &ctx("again", Some(root.join("full").join("epoch-000001"))),
    )));
    assert_eq!(
        resumed,
        full[2..].to_vec(),
        "statistics and weights resume exactly"
    );

    let sf = spec(sgd().schedule_free_counterpart());
    assert_eq!(sf.validate(), Ok(()), "schedule-free takes batch norm");
    let r = rows(&run(&sf, &ctx("sf", None)));
    assert_eq!(r.len(), 4);
    assert!(
        r.iter()
            .all(|m| m.values["test_loss"].is_finite() && m.values["w_norm"].is_finite()),
        "{r:?}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

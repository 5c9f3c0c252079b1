//! Network training on real files: Fashion-MNIST accuracy, and checkpoints that make resume
//! and branch repeat an uninterrupted run exactly.

use std::path::{Path, PathBuf};

use schedule::Schedule;
use spec::{Experiment, LossKind, ModelSpec, NetSpec, OptimizerSpec, RunSpec};
use trainer::{Event, MetricRow, Outcome, Sink, SinkError, StopFlag, TrainContext};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("anneal-trainer-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn rows(events: &[Event]) -> Vec<MetricRow> {
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
fn comparable(rows: &[MetricRow]) -> Vec<MetricRow> {
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
            dataset: spec::DatasetChoice::FashionMnist,
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
        backend: spec::BackendChoice::Cpu,
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

//! A network's checks, by what they check: where the data comes from and how much of it, the
//! model, the optimizer's settings, and the length of training.

use super::report::Report;
use crate::fields::net as f;
use crate::fields::net::optimizer as opt;
use crate::layers::LayerSpec;
use crate::limits;
use crate::net::{DatasetChoice, DatasetFacts, DatasetRef, ModelSpec, NetSpec, OptimizerSpec};
use crate::shape;

impl NetSpec {
    pub(crate) fn check(&self, report: &mut Report) {
        self.check_data(report);
        self.check_model(report);
        self.check_optimizer(report);
        self.check_training(report);
    }

    fn check_data(&self, report: &mut Report) {
        if let DatasetChoice::Registered(r) = &self.dataset {
            check_registered(r, self, report);
        }
        if let Some(dir) = &self.data_dir {
            // Confined to the data directory: relative, and never climbing out of it.
            let escapes = dir.starts_with('/')
                || dir.starts_with('\\')
                || dir.contains(':')
                || dir.split(['/', '\\']).any(|part| part == "..");
            if dir.trim().is_empty() || dir.len() > 1024 || dir.contains('\0') {
                report.push(f::DATA_DIR, "must be a folder name");
            } else if escapes {
                report.push(
                    f::DATA_DIR,
                    "must be a folder inside the data directory (relative, no `..`)",
                );
            }
        }
        if let Some(k) = self.train_per_class {
            let max = self
                .dataset
                .facts()
                .map_or(0, |f| f.min_train_per_class)
                .min(limits::MAX_PER_CLASS);
            if k < 1 || k > max {
                report.push(f::TRAIN_PER_CLASS, format!("must be between 1 and {max}"));
            }
        }
        if let Some(t) = self.test_limit
            && (t < 1 || t > self.dataset.test_size())
        {
            report.push(
                f::TEST_LIMIT,
                format!("must be between 1 and {}", self.dataset.test_size()),
            );
        }
    }

    fn check_model(&self, report: &mut Report) {
        match &self.model {
            ModelSpec::Mlp { hidden } => {
                if hidden.len() > limits::MAX_HIDDEN_LAYERS {
                    report.push(
                        f::MODEL_HIDDEN,
                        format!("at most {} layers", limits::MAX_HIDDEN_LAYERS),
                    );
                }
                if hidden
                    .iter()
                    .any(|&w| !(1..=limits::MAX_WIDTH).contains(&w))
                {
                    report.push(
                        f::MODEL_HIDDEN,
                        format!("widths must be between 1 and {}", limits::MAX_WIDTH),
                    );
                }
            }
            ModelSpec::Layers { layers } => {
                check_layers(layers, self.dataset.facts(), report);
                return;
            }
            ModelSpec::SmallCnn | ModelSpec::Vgg11 { .. } => {}
        }
        // Unknown facts (an unresolved registered dataset) are reported at the dataset.
        let Some(facts) = self.dataset.facts() else {
            return;
        };
        let [c, h, w] = facts.shape;
        match &self.model {
            ModelSpec::Vgg11 { .. } if [c, h, w] != [3, 32, 32] => report.push(
                f::MODEL,
                format!("VGG-11 needs 3×32×32 colour images; this dataset has {c}×{h}×{w}"),
            ),
            // Two 2×2 poolings: anything smaller than 4×4 pools away to nothing.
            ModelSpec::SmallCnn if !facts.images || h < 4 || w < 4 => report.push(
                f::MODEL,
                format!("the small CNN needs images of at least 4×4; this dataset has {c}×{h}×{w}"),
            ),
            _ => {}
        }
    }

    fn check_optimizer(&self, report: &mut Report) {
        match &self.optimizer {
            OptimizerSpec::Sgd {
                momentum,
                weight_decay,
                nesterov,
            } => {
                report.finite_in(opt::MOMENTUM, *momentum, 0.0, 0.9999);
                report.finite_in(opt::WEIGHT_DECAY, *weight_decay, 0.0, 1.0);
                if *nesterov && *momentum == 0.0 {
                    report.push(opt::NESTEROV, "needs momentum > 0");
                }
            }
            OptimizerSpec::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                report.finite_in(opt::BETA1, *beta1, 0.0, 0.9999);
                check_adam_moments(report, *beta2, *eps, *weight_decay);
            }
            OptimizerSpec::ScheduleFreeSgd {
                momentum,
                weight_decay,
                r,
                weight_lr_power,
            } => {
                // x is recovered from y and z by dividing by β, so β = 0 has no average to show.
                report.open_unit(opt::MOMENTUM, *momentum);
                report.finite_in(opt::WEIGHT_DECAY, *weight_decay, 0.0, 1.0);
                check_averaging(report, *r, *weight_lr_power);
            }
            OptimizerSpec::ScheduleFreeAdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                r,
                weight_lr_power,
            } => {
                // β₁ plays the role of SGD's β above, so it too must be above 0.
                report.open_unit(opt::BETA1, *beta1);
                check_adam_moments(report, *beta2, *eps, *weight_decay);
                check_averaging(report, *r, *weight_lr_power);
            }
        }
        // Schedule-free with batch norm is trained: the trainer recomputes the statistics at
        // the averaged weights x it evaluates (trainer::net::norm_stats).
    }

    fn check_training(&self, report: &mut Report) {
        if self.batch < 1 || self.batch > limits::MAX_BATCH.min(self.train_size().max(1)) {
            report.push(
                f::BATCH,
                format!(
                    "must be between 1 and {}",
                    self.train_size().min(limits::MAX_BATCH)
                ),
            );
        }
        if self.epochs < 1 || self.epochs > limits::MAX_EPOCHS {
            report.push(
                f::EPOCHS,
                format!("must be between 1 and {}", limits::MAX_EPOCHS),
            );
        }
        if self.checkpoint_every > self.epochs.max(1) {
            report.push(f::CHECKPOINT_EVERY, "must not exceed epochs");
        }
    }
}

/// A layer list run on the dataset's shape by shape inference. Unknown or incomplete facts are
/// reported at the dataset, so then only the settings that need no input shape are checked.
fn check_layers(layers: &[LayerSpec], facts: Option<DatasetFacts>, report: &mut Report) {
    let result = match facts {
        Some(facts) if facts.classes >= 2 && !facts.shape.contains(&0) => {
            shape::infer(layers, facts.shape, facts.classes).map(|_| ())
        }
        _ => shape::check_settings(layers),
    };
    if let Err(errors) = result {
        report.extend(errors);
    }
}

/// β₂, ε and weight decay, as AdamW and its schedule-free form both take them.
fn check_adam_moments(report: &mut Report, beta2: f64, eps: f64, weight_decay: f64) {
    report.finite_in(opt::BETA2, beta2, 0.0, 0.999_999);
    report.finite_in(opt::EPS, eps, 1e-12, 1.0);
    report.finite_in(opt::WEIGHT_DECAY, weight_decay, 0.0, 1.0);
}

/// The schedule-free averaging exponents. The upper bounds keep the weights
/// (k+1)^r · lr_max^weight_lr_power and their sum finite in f64 for any allowed run length and
/// LR (at most 1e7^10 · 100^10 per step).
fn check_averaging(report: &mut Report, r: f64, weight_lr_power: f64) {
    report.finite_in(opt::R, r, 0.0, 10.0);
    report.finite_in(opt::WEIGHT_LR_POWER, weight_lr_power, 0.0, 10.0);
}

/// A registered dataset's reference: a name the registry could hold, a well-formed hash, facts
/// that make sense, and no knob that only built-in datasets have.
fn check_registered(r: &DatasetRef, spec: &NetSpec, report: &mut Report) {
    if !crate::limits::is_dataset_name(&r.name) {
        report.push(
            f::DATASET_NAME,
            format!(
                "must be 1 to {} letters, digits, `.`, `_` or `-`, starting with a letter or digit",
                limits::MAX_DATASET_NAME
            ),
        );
    }
    if let Some(h) = &r.hash
        && !(h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    {
        report.push(
            f::DATASET_HASH,
            "must be 64 lowercase hexadecimal digits (SHA-256)",
        );
    }
    match &r.facts {
        None => report.push(
            f::DATASET,
            format!("no registered dataset named {:?} is known here", r.name),
        ),
        Some(facts) => {
            if facts.classes < 2 || facts.train == 0 || facts.test == 0 || facts.shape.contains(&0)
            {
                report.push(
                    f::DATASET,
                    "the registry's facts of this dataset are incomplete",
                );
            }
            if spec.augment && !facts.images {
                report.push(
                    f::AUGMENT,
                    "crop and flip apply to images; this dataset holds feature vectors",
                );
            }
        }
    }
    if spec.data_dir.is_some() {
        report.push(
            f::DATA_DIR,
            "a registered dataset lives in the server's registry; data_dir is for built-in datasets",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::net::VggWidth;
    use crate::run::{Experiment, RunSpec};
    use crate::validation::report::error_fields;

    use super::*;

    fn fields(spec: &RunSpec) -> Vec<String> {
        error_fields(spec.validate())
    }

    #[test]
    fn net_spec_checks_fields_and_sizes() {
        let mut net = NetSpec::fashion_mlp();
        let spec = |n: &NetSpec| RunSpec {
            experiment: Experiment::Net(n.clone()),
            ..RunSpec::toy_default()
        };
        assert_eq!(spec(&net).validate(), Ok(()));
        assert_eq!(spec(&net).steps_per_epoch(), 469);
        net.train_per_class = Some(100);
        assert_eq!(net.steps_per_epoch(), 8);
        net.model = ModelSpec::Vgg11 {
            width: VggWidth::Narrow,
            batch_norm: false,
        };
        net.optimizer = OptimizerSpec::Sgd {
            momentum: 1.5,
            nesterov: false,
            weight_decay: 0.0,
        };
        net.epochs = 0;
        let f = fields(&spec(&net));
        for want in [
            "experiment.model",
            "experiment.optimizer.momentum",
            "experiment.epochs",
        ] {
            assert!(f.iter().any(|x| x == want), "missing {want} in {f:?}");
        }
    }

    fn registered(facts: Option<crate::net::DatasetFacts>) -> NetSpec {
        NetSpec {
            dataset: DatasetChoice::Registered(DatasetRef {
                name: "leaves-v2".into(),
                hash: Some("ab".repeat(32)),
                facts,
            }),
            ..NetSpec::fashion_mlp()
        }
    }

    fn facts(shape: [u32; 3], images: bool) -> crate::net::DatasetFacts {
        crate::net::DatasetFacts {
            shape,
            classes: 4,
            train: 400,
            test: 40,
            min_train_per_class: 70,
            images,
        }
    }

    #[test]
    fn a_registered_dataset_is_checked_against_its_facts() {
        let spec = |n: &NetSpec| RunSpec {
            experiment: Experiment::Net(n.clone()),
            ..RunSpec::toy_default()
        };
        let mut net = registered(Some(facts([3, 20, 20], true)));
        assert_eq!(spec(&net).validate(), Ok(()));
        assert_eq!(net.train_size(), 400);
        net.train_per_class = Some(70);
        assert_eq!((net.train_size(), spec(&net).validate()), (280, Ok(())));
        // The rarest class bounds the subset, and the test limit the test split.
        net.train_per_class = Some(71);
        net.test_limit = Some(41);
        let errs = spec(&net).validate().expect_err("too many");
        assert_eq!(errs[0].field, "experiment.train_per_class");
        assert!(errs[0].message.contains("70"), "{errs:?}");
        assert_eq!(errs[1].field, "experiment.test_limit");
        // A model the images cannot feed is refused with the shape it got.
        net = registered(Some(facts([3, 20, 20], true)));
        net.model = ModelSpec::Vgg11 {
            width: VggWidth::Narrow,
            batch_norm: false,
        };
        let errs = spec(&net).validate().expect_err("vgg on 20×20");
        assert_eq!(errs[0].field, "experiment.model");
        assert!(errs[0].message.contains("3×20×20"), "{errs:?}");
        // Feature vectors: no convolutions, no crops.
        net = registered(Some(facts([1, 1, 12], false)));
        net.model = ModelSpec::SmallCnn;
        net.augment = true;
        assert_eq!(
            fields(&spec(&net)),
            vec!["experiment.augment", "experiment.model"]
        );
    }

    #[test]
    fn a_layer_list_is_run_on_the_datasets_shape() {
        let spec = |n: &NetSpec| RunSpec {
            experiment: Experiment::Net(n.clone()),
            ..RunSpec::toy_default()
        };
        let mut net = registered(Some(facts([3, 20, 20], true)));
        net.model = ModelSpec::Layers {
            layers: crate::zoo::resnet20(4),
        };
        assert_eq!(spec(&net).validate(), Ok(()));
        net.model = ModelSpec::Layers { layers: vec![] };
        assert_eq!(fields(&spec(&net)), vec!["experiment.model.layers"]);
        // The 3×3 input of a 5×5 kernel, with its path and its shapes.
        net = registered(Some(facts([1, 3, 3], true)));
        let conv5 = LayerSpec::Conv {
            out: 4,
            kernel: 5,
            stride: 1,
            padding: 0,
            bias: true,
        };
        let layers = vec![conv5, LayerSpec::Flatten {}, LayerSpec::linear(4)];
        net.model = ModelSpec::Layers { layers };
        let errs = spec(&net).validate().expect_err("too small");
        assert_eq!(errs[0].field, "experiment.model.layers[0].kernel");
        assert!(errs[0].message.contains("3×3 input"), "{errs:?}");
        // Unknown facts: the dataset is reported, and the settings alone are checked.
        net = registered(None);
        net.model = ModelSpec::Layers {
            layers: vec![LayerSpec::conv3(16, 0, true)],
        };
        assert_eq!(
            fields(&spec(&net))[..2],
            ["experiment.dataset", "experiment.model.layers[0].stride"]
        );
        // A sweep's main run has them under `main`.
        let mut sweep = crate::SweepSpec::fashion_cpu();
        if let Experiment::Net(n) = &mut sweep.main.experiment {
            n.model = ModelSpec::Layers {
                layers: vec![LayerSpec::Flatten {}, LayerSpec::linear(0)],
            };
        }
        assert_eq!(
            error_fields(sweep.validate()),
            vec!["main.experiment.model.layers[1].out"]
        );
    }

    #[test]
    fn a_registered_dataset_needs_a_good_name_a_good_hash_and_known_facts() {
        let spec = |n: NetSpec| RunSpec {
            experiment: Experiment::Net(n),
            ..RunSpec::toy_default()
        };
        let mut net = registered(None);
        let errs = spec(net.clone()).validate().expect_err("unresolved");
        assert_eq!(errs[0].field, "experiment.dataset");
        assert!(errs[0].message.contains("leaves-v2"), "{errs:?}");
        if let DatasetChoice::Registered(r) = &mut net.dataset {
            r.name = "../etc".into();
            r.hash = Some("AB".repeat(32));
            r.facts = Some(facts([1, 8, 8], true));
        }
        net.data_dir = Some("elsewhere".into());
        assert_eq!(
            fields(&spec(net)),
            vec![
                "experiment.dataset.registered.name",
                "experiment.dataset.registered.hash",
                "experiment.data_dir"
            ]
        );
    }

    #[test]
    fn datasets_parse_as_names_or_registered_references() {
        let parse = |v: serde_json::Value| serde_json::from_value::<DatasetChoice>(v);
        assert_eq!(
            parse(serde_json::json!("cifar10")).expect("built-in"),
            DatasetChoice::Cifar10
        );
        let r = parse(serde_json::json!({"registered": {"name": "leaves"}})).expect("registered");
        assert_eq!(r.label(), "leaves");
        assert_eq!((r.registered_hash(), r.facts()), (None, None));
        assert!(parse(serde_json::json!({"registered": {"name": "x", "path": "/etc"}})).is_err());
        assert_eq!(
            DatasetChoice::Mnist.facts().map(|f| f.min_train_per_class),
            Some(5_421)
        );
    }

    fn net_run(optimizer: OptimizerSpec) -> RunSpec {
        RunSpec {
            experiment: Experiment::Net(NetSpec {
                optimizer,
                ..NetSpec::fashion_mlp()
            }),
            ..RunSpec::toy_default()
        }
    }

    #[test]
    fn schedule_free_optimizers_validate_per_field() {
        let sgd = |momentum, weight_decay, r, weight_lr_power| {
            net_run(OptimizerSpec::ScheduleFreeSgd {
                momentum,
                weight_decay,
                r,
                weight_lr_power,
            })
        };
        assert_eq!(sgd(0.9, 0.0, 0.0, 2.0).validate(), Ok(()));
        for m in [0.0, 1.0, -0.5, f64::NAN] {
            let errs = sgd(m, 0.0, 0.0, 2.0)
                .validate()
                .expect_err("momentum refused");
            assert_eq!(errs.len(), 1, "{m}: {errs:?}");
            assert_eq!(errs[0].field, "experiment.optimizer.momentum");
        }
        let errs = sgd(0.0, 0.0, 0.0, 2.0).validate().expect_err("β = 0");
        assert!(errs[0].message.contains("greater than 0"), "{errs:?}");
        assert_eq!(
            fields(&sgd(0.9, -1e-3, -1.0, -2.0)),
            vec![
                "experiment.optimizer.weight_decay",
                "experiment.optimizer.r",
                "experiment.optimizer.weight_lr_power"
            ]
        );
        let adam = |beta1, beta2, eps| {
            net_run(OptimizerSpec::ScheduleFreeAdamW {
                beta1,
                beta2,
                eps,
                weight_decay: 0.0,
                r: 0.0,
                weight_lr_power: 2.0,
            })
        };
        assert_eq!(adam(0.9, 0.999, 1e-8).validate(), Ok(()));
        assert_eq!(
            adam(0.5, 0.0, 1e-8).validate(),
            Ok(()),
            "β₂ = 0 is RMS-free"
        );
        assert_eq!(
            fields(&adam(0.0, 1.0, 0.0)),
            vec![
                "experiment.optimizer.beta1",
                "experiment.optimizer.beta2",
                "experiment.optimizer.eps"
            ]
        );
        assert_eq!(
            fields(&adam(1.0, 0.999, 1e-8)),
            vec!["experiment.optimizer.beta1"]
        );
    }

    #[test]
    fn schedule_free_takes_batch_norm() {
        let bn = |optimizer, model| RunSpec {
            experiment: Experiment::Net(NetSpec {
                dataset: DatasetChoice::Cifar10,
                model,
                optimizer,
                ..NetSpec::fashion_mlp()
            }),
            ..RunSpec::toy_default()
        };
        let sf = OptimizerSpec::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        }
        .schedule_free_counterpart();
        let vgg_bn = ModelSpec::Vgg11 {
            width: VggWidth::Narrow,
            batch_norm: true,
        };
        assert_eq!(bn(sf.clone(), vgg_bn).validate(), Ok(()));
        let resnet = ModelSpec::Layers {
            layers: crate::zoo::resnet20(10),
        };
        assert_eq!(bn(sf, resnet).validate(), Ok(()));
    }

    #[test]
    fn schedule_free_counterparts() {
        let sgd = |momentum, nesterov| OptimizerSpec::Sgd {
            momentum,
            nesterov,
            weight_decay: 5e-4,
        };
        let sf_sgd = |momentum| OptimizerSpec::ScheduleFreeSgd {
            momentum,
            weight_decay: 5e-4,
            r: 0.0,
            weight_lr_power: 2.0,
        };
        assert_eq!(sgd(0.95, true).schedule_free_counterpart(), sf_sgd(0.95));
        assert_eq!(sgd(0.0, false).schedule_free_counterpart(), sf_sgd(0.9));
        let adam = OptimizerSpec::AdamW {
            beta1: 0.8,
            beta2: 0.99,
            eps: 1e-6,
            weight_decay: 0.1,
        };
        assert_eq!(
            adam.schedule_free_counterpart(),
            OptimizerSpec::ScheduleFreeAdamW {
                beta1: 0.8,
                beta2: 0.99,
                eps: 1e-6,
                weight_decay: 0.1,
                r: 0.0,
                weight_lr_power: 2.0,
            }
        );
        let custom = OptimizerSpec::ScheduleFreeSgd {
            momentum: 0.5,
            weight_decay: 0.0,
            r: 1.0,
            weight_lr_power: 0.0,
        };
        assert_eq!(custom.schedule_free_counterpart(), custom);
        let sf_adam = adam.schedule_free_counterpart();
        assert_eq!(sf_adam.schedule_free_counterpart(), sf_adam);
        // Every counterpart of a valid optimizer is itself valid.
        for o in [sgd(0.0, false), sgd(0.9, true), adam] {
            assert_eq!(
                net_run(o.schedule_free_counterpart()).validate(),
                Ok(()),
                "{o:?}"
            );
        }
    }

    #[test]
    fn data_dir_is_confined_to_the_data_directory() {
        for bad in ["/etc", "../secrets", "a/../../b", "C:\\x", "a\\..\\b"] {
            let net = NetSpec {
                data_dir: Some(bad.into()),
                ..NetSpec::fashion_mlp()
            };
            let spec = RunSpec {
                experiment: Experiment::Net(net),
                ..RunSpec::toy_default()
            };
            assert!(
                fields(&spec).contains(&"experiment.data_dir".to_owned()),
                "{bad} must be refused"
            );
        }
        let ok = NetSpec {
            data_dir: Some("cifar/batches".into()),
            ..NetSpec::fashion_mlp()
        };
        assert_eq!(
            RunSpec {
                experiment: Experiment::Net(ok),
                ..RunSpec::toy_default()
            }
            .validate(),
            Ok(())
        );
    }
}

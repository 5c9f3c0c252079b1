//! The specifications the form, the examples and the command line start from: the toy
//! model's paper regime, a quick Fashion-MNIST check, the paper's sweeps at CPU and GPU
//! scale, and ResNet-20 on CIFAR-10 as a layer list.

use schedule::Schedule;

use crate::net::{DatasetChoice, LossKind, ModelSpec, NetSpec, OptimizerSpec, VggWidth};
use crate::run::{BackendChoice, Experiment, RunSpec};
use crate::sweep::SweepSpec;
use crate::toy::{ToySpec, default_init_scale};
use crate::zoo;

impl RunSpec {
    /// The toy preset the home page starts from.
    pub fn toy_default() -> Self {
        Self {
            name: String::new(),
            experiment: Experiment::Toy(ToySpec::paper_default()),
            schedule: Schedule::Constant { lr: 0.05 },
            seed: 0,
            data_seed: None,
            backend: BackendChoice::Cpu,
        }
    }
}

impl ToySpec {
    /// The paper's label-noise regime (DESIGN.md §2), shortened for a quick look.
    pub fn paper_default() -> Self {
        Self {
            d: 50,
            n: 10,
            gamma: 1.0,
            label_noise: 0.3,
            batch: 1,
            steps: 20_000,
            init_scale: default_init_scale(),
            eval_every: 0,
        }
    }
}

impl NetSpec {
    /// A 2-epoch Fashion-MNIST MLP: the quick real-data check.
    pub fn fashion_mlp() -> Self {
        Self {
            dataset: DatasetChoice::FashionMnist,
            data_dir: None,
            train_per_class: None,
            test_limit: None,
            augment: false,
            model: ModelSpec::Mlp {
                hidden: vec![512, 512],
            },
            loss: LossKind::CrossEntropy,
            optimizer: OptimizerSpec::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 0.0,
            },
            batch: 128,
            epochs: 2,
            checkpoint_every: 1,
        }
    }
}

impl NetSpec {
    /// ResNet-20 ([`zoo::resnet20`], as a layer list) on 500 images per class of a CIFAR-10
    /// `dataset` (the built-in one or a registered copy such as `cifar10-jpeg`): cross-entropy,
    /// SGD with momentum 0.9 and weight decay 5e-4 as in He et al., batch 128, crop-and-flip,
    /// 5 epochs.
    pub fn resnet20_cifar10(dataset: DatasetChoice) -> Self {
        Self {
            dataset,
            data_dir: None,
            train_per_class: Some(500),
            test_limit: None,
            augment: true,
            model: ModelSpec::Layers {
                layers: zoo::resnet20(10),
            },
            loss: LossKind::CrossEntropy,
            optimizer: OptimizerSpec::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 5e-4,
            },
            batch: 128,
            epochs: 5,
            checkpoint_every: 1,
        }
    }
}

impl RunSpec {
    /// [`NetSpec::resnet20_cifar10`] at a constant LR 0.1 on the CPU (`examples/resnet20-run.toml`).
    pub fn resnet20_cifar10(dataset: DatasetChoice) -> Self {
        Self {
            name: "CIFAR-10 ResNet-20".into(),
            experiment: Experiment::Net(NetSpec::resnet20_cifar10(dataset)),
            schedule: Schedule::Constant { lr: 0.1 },
            seed: 0,
            data_seed: None,
            backend: BackendChoice::Cpu,
        }
    }
}

impl SweepSpec {
    /// ResNet-20 in the paper's experiment (`examples/resnet20-sweep.toml`): the run above for
    /// 30 epochs on a GPU, branches ×0.1 at epochs 5–30 for 10 epochs each, over 3 seeds.
    pub fn resnet20_cifar10(dataset: DatasetChoice) -> Self {
        let mut main = RunSpec::resnet20_cifar10(dataset);
        main.name = String::new();
        main.backend = BackendChoice::Cuda;
        if let Experiment::Net(n) = &mut main.experiment {
            n.epochs = 30;
        }
        Self {
            name: "CIFAR-10 ResNet-20: late decay".into(),
            main,
            branch_at: vec![5, 10, 20, 30],
            after: Schedule::Constant { lr: 0.01 },
            branch_length: 10,
            seeds: vec![0, 1, 2],
            schedule_free_baseline: false,
        }
    }
}

impl SweepSpec {
    /// The toy preset from DESIGN.md §2: label noise, decays at 1k, 5k, 20k and 40k steps.
    pub fn toy_paper() -> Self {
        let mut main = RunSpec::toy_default();
        if let Experiment::Toy(t) = &mut main.experiment {
            t.steps = 40_000;
        }
        Self {
            name: "toy: late decay".into(),
            main,
            branch_at: vec![1_000, 5_000, 20_000, 40_000],
            after: Schedule::Constant { lr: 0.005 },
            branch_length: 10_000,
            seeds: Vec::new(),
            schedule_free_baseline: false,
        }
    }

    /// Fashion-MNIST on CPU: 2,000 training images (the MLP interpolates them), MSE, SGD with
    /// momentum at LR 0.1; branches ×0.1 at epochs 5–60. About 2 minutes on 2 cores.
    pub fn fashion_cpu() -> Self {
        let net = NetSpec {
            train_per_class: Some(200),
            loss: LossKind::Mse,
            optimizer: OptimizerSpec::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 1e-4,
            },
            batch: 25,
            epochs: 60,
            ..NetSpec::fashion_mlp()
        };
        Self {
            name: "Fashion-MNIST: late decay".into(),
            main: RunSpec {
                name: String::new(),
                experiment: Experiment::Net(net),
                schedule: Schedule::Constant { lr: 0.1 },
                seed: 0,
                data_seed: None,
                backend: BackendChoice::Cpu,
            },
            branch_at: vec![5, 15, 30, 45, 60],
            after: Schedule::Constant { lr: 0.01 },
            branch_length: 15,
            seeds: Vec::new(),
            schedule_free_baseline: false,
        }
    }

    /// The paper's experiment on a real convnet that a CPU finishes: the small CNN on 2,000
    /// Fashion-MNIST images (which it interpolates), MSE, SGD with momentum at LR 0.1, branches
    /// ×0.1 at epochs 3–40 for 10 epochs each, evaluated on the first 5,000 test images.
    pub fn fashion_cnn_cpu() -> Self {
        let mut s = Self::fashion_cpu();
        s.name = "Fashion-MNIST, small CNN: late decay".into();
        if let Experiment::Net(n) = &mut s.main.experiment {
            n.model = ModelSpec::SmallCnn;
            n.batch = 50;
            n.epochs = 40;
            n.test_limit = Some(5_000);
        }
        s.branch_at = vec![3, 10, 20, 30, 40];
        s.branch_length = 10;
        s
    }

    /// The paper's setting: narrow VGG-11 on a 5,000-image CIFAR-10 subset, MSE, SGD 0.1 /
    /// momentum 0.9 / weight decay 1e-4, batch 125, branches ×0.1. Needs a GPU build.
    pub fn paper_cifar_gpu() -> Self {
        let net = NetSpec {
            dataset: DatasetChoice::Cifar10,
            data_dir: None,
            train_per_class: Some(500),
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
                weight_decay: 1e-4,
            },
            batch: 125,
            epochs: 1000,
            checkpoint_every: 1,
        };
        Self {
            name: "CIFAR-10 VGG-11 (paper)".into(),
            main: RunSpec {
                name: String::new(),
                experiment: Experiment::Net(net),
                schedule: Schedule::Constant { lr: 0.1 },
                seed: 0,
                data_seed: None,
                backend: BackendChoice::Cuda,
            },
            branch_at: vec![100, 200, 400, 600, 800, 1000],
            after: Schedule::Constant { lr: 0.01 },
            branch_length: 200,
            seeds: Vec::new(),
            schedule_free_baseline: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_convnet_preset_is_valid_and_fits_a_cpu() {
        let s = SweepSpec::fashion_cnn_cpu();
        assert_eq!(s.validate(), Ok(()));
        assert!(matches!(
            &s.main.experiment,
            Experiment::Net(n) if n.model == ModelSpec::SmallCnn && n.train_size() == 2_000
        ));
        assert_eq!(s.baseline_length(), 50);
        // The command-line example is the same sweep, with seeds and a baseline.
        let text = include_str!("../../examples/fashion-cnn-sweep.toml");
        let mut example: SweepSpec = toml::from_str(text).expect("the example parses");
        assert_eq!(example.validate(), Ok(()));
        assert_eq!(example.seeds, vec![0, 1, 2]);
        assert!(example.schedule_free_baseline);
        (example.seeds, example.schedule_free_baseline) = (Vec::new(), false);
        assert_eq!(example, s);
    }

    #[test]
    fn the_resnet20_examples_are_the_presets_and_validate_once_the_dataset_is_known() {
        let cifar10_jpeg = |facts| {
            DatasetChoice::Registered(crate::net::DatasetRef {
                name: "cifar10-jpeg".into(),
                hash: None,
                facts,
            })
        };
        let facts = crate::net::DatasetFacts {
            shape: [3, 32, 32],
            classes: 10,
            train: 50_000,
            test: 10_000,
            min_train_per_class: 5_000,
            images: true,
        };
        let layers = |net: &NetSpec| match &net.model {
            ModelSpec::Layers { layers } => layers.clone(),
            other => panic!("{other:?}"),
        };
        let mut run: RunSpec = toml::from_str(include_str!("../../examples/resnet20-run.toml"))
            .expect("the run example parses");
        let mut sweep: SweepSpec =
            toml::from_str(include_str!("../../examples/resnet20-sweep.toml"))
                .expect("the sweep example parses");
        assert_eq!(run, RunSpec::resnet20_cifar10(cifar10_jpeg(None)));
        assert_eq!(sweep, SweepSpec::resnet20_cifar10(cifar10_jpeg(None)));
        for net in [&mut run.experiment, &mut sweep.main.experiment] {
            let Experiment::Net(net) = net else {
                panic!("a network")
            };
            assert_eq!(layers(net), zoo::resnet20(10));
            // The server fills the facts in from its registry when the run is submitted.
            net.dataset = cifar10_jpeg(Some(facts.clone()));
        }
        assert_eq!(run.validate(), Ok(()));
        assert_eq!(sweep.validate(), Ok(()));
    }

    #[test]
    fn toy_preset_is_valid_and_branches_compose() {
        let s = SweepSpec::toy_paper();
        assert_eq!(s.validate(), Ok(()));
        let b = s.branch(5_000);
        assert_eq!(b.total_steps(), 15_000);
        assert_eq!(b.schedule.lr_at(4_999), 0.05);
        assert!((b.schedule.lr_at(5_000) - 0.005).abs() < 1e-15);
        assert_eq!(b.validate(), Ok(()));
    }

    #[test]
    fn network_presets_are_valid() {
        assert_eq!(SweepSpec::fashion_cpu().validate(), Ok(()));
        assert_eq!(SweepSpec::paper_cifar_gpu().validate(), Ok(()));
        let b = SweepSpec::fashion_cpu().branch(30);
        assert_eq!(b.total_steps(), 45 * 80);
        assert!((b.schedule.lr_at(30 * 80) - 0.01).abs() < 1e-15);
    }
}

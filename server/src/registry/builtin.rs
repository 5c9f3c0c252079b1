//! The three built-in datasets as registry entries: the same listing as registered data, read
//! from their official files where the apt package or `anneal data fetch` puts them.

use std::path::Path;

use domain::wire::DatasetInfo;
use experiment::{DatasetChoice, LossKind, ModelSpec, NetSpec, OptimizerSpec};

// The official splits' class counts (MNIST's are not balanced).
const MNIST_TRAIN: [u32; 10] = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const MNIST_TEST: [u32; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

pub fn is_builtin(name: &str) -> bool {
    matches!(name, "fashion_mnist" | "mnist" | "cifar10")
}

fn entry(
    choice: DatasetChoice,
    name: &str,
    kind: datasets::DatasetKind,
    train: Vec<u32>,
    test: Vec<u32>,
    data_dir: &Path,
) -> DatasetInfo {
    let facts = choice
        .facts()
        .unwrap_or_else(|| unreachable!("built-in datasets have facts"));
    // Availability is the trainer's own check of a run on it, so the two never disagree.
    let probe = NetSpec {
        dataset: choice.clone(),
        data_dir: None,
        train_per_class: None,
        test_limit: None,
        augment: false,
        model: ModelSpec::SmallCnn,
        loss: LossKind::CrossEntropy,
        optimizer: OptimizerSpec::Sgd {
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        },
        batch: 1,
        epochs: 1,
        checkpoint_every: 0,
    };
    DatasetInfo {
        name: name.into(),
        version: 1,
        hash: None,
        builtin: true,
        available: trainer::net::data::missing(&probe, data_dir).is_none(),
        kind: "images".into(),
        shape: facts.shape,
        class_names: datasets::class_names(kind)
            .iter()
            .map(|&c| c.to_owned())
            .collect(),
        train_per_class: train,
        test_per_class: test,
        mean: Vec::new(),
        std: Vec::new(),
        source: "official files".into(),
        bytes: 0,
        created_at_ms: 0,
    }
}

pub fn entries(data_dir: &Path) -> Vec<DatasetInfo> {
    vec![
        entry(
            DatasetChoice::FashionMnist,
            "fashion_mnist",
            datasets::DatasetKind::FashionMnist,
            vec![6000; 10],
            vec![1000; 10],
            data_dir,
        ),
        entry(
            DatasetChoice::Mnist,
            "mnist",
            datasets::DatasetKind::Mnist,
            MNIST_TRAIN.to_vec(),
            MNIST_TEST.to_vec(),
            data_dir,
        ),
        entry(
            DatasetChoice::Cifar10,
            "cifar10",
            datasets::DatasetKind::Cifar10,
            vec![5000; 10],
            vec![1000; 10],
            data_dir,
        ),
    ]
}

//! Datasets as the registry lists them: the built-in ones and those a user registered (an image
//! folder, arrays or a table), with what a run form and a dataset page need to know of each.

use experiment::{DatasetChoice, DatasetFacts, DatasetRef};
use serde::{Deserialize, Serialize};

/// One entry of `GET /api/datasets`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// The name runs use: `fashion_mnist`, `mnist`, `cifar10` for the built-in datasets, the
    /// registered name otherwise.
    pub name: String,
    /// 1 for the first registration of a name; registering other content under a taken name
    /// makes the next version (runs keep the hash of the version they trained on).
    pub version: u32,
    /// SHA-256 of the registered data (None for the built-in datasets, read from their
    /// official files).
    pub hash: Option<String>,
    pub builtin: bool,
    /// Whether this server can train on it now (a built-in dataset may not be installed).
    pub available: bool,
    /// `images` or `features`.
    pub kind: String,
    /// [channels, height, width]; feature vectors are [1, 1, features].
    pub shape: [u32; 3],
    pub class_names: Vec<String>,
    pub train_per_class: Vec<u32>,
    pub test_per_class: Vec<u32>,
    /// Per-channel mean and standard deviation of the training split (pixels in [0, 1]), the
    /// normalisation every run on it applies; empty where not computed (built-in datasets).
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// Where it came from: `image folder`, `zip`, `tar.gz`, `npz`, `csv`, …
    pub source: String,
    /// Size of the registered data on disk.
    pub bytes: u64,
    pub created_at_ms: i64,
}

impl DatasetInfo {
    pub fn train_count(&self) -> u32 {
        self.train_per_class.iter().sum()
    }
    pub fn test_count(&self) -> u32 {
        self.test_per_class.iter().sum()
    }

    pub fn facts(&self) -> DatasetFacts {
        DatasetFacts {
            shape: self.shape,
            classes: u32::try_from(self.class_names.len()).unwrap_or(u32::MAX),
            train: self.train_count(),
            test: self.test_count(),
            min_train_per_class: self.train_per_class.iter().copied().min().unwrap_or(0),
            images: self.kind == "images",
        }
    }

    /// How a run names this dataset, with its hash pinned and its facts filled in.
    pub fn choice(&self) -> DatasetChoice {
        match (self.builtin, self.name.as_str()) {
            (true, "fashion_mnist") => DatasetChoice::FashionMnist,
            (true, "mnist") => DatasetChoice::Mnist,
            (true, _) => DatasetChoice::Cifar10,
            (false, _) => DatasetChoice::Registered(DatasetRef {
                name: self.name.clone(),
                hash: self.hash.clone(),
                facts: Some(self.facts()),
            }),
        }
    }
}

/// The answer to a deletion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetDeleted {
    pub name: String,
    /// Versions removed.
    pub versions: u32,
}

/// The answer to a registration (an upload or `anneal data add`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetRegistered {
    pub dataset: DatasetInfo,
    /// The name already held exactly this content: nothing new was stored.
    pub existed: bool,
}

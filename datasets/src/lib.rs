//! Dataset loaders for the official on-disk formats (IDX for MNIST/Fashion-MNIST, the CIFAR-10
//! binary version), the CIFAR-10 download, in-memory dataset operations, and the paper's toy
//! Gaussian problem; and the import of users' own datasets (image folders, archives, NumPy
//! arrays, CSV) into a compact, hashed cache file with thumbnails. Pure Rust: the trainer turns
//! these buffers into tensors.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod cache;
mod cifar;
mod error;
mod fetch;
mod idx;
pub mod import;
mod ops;
pub mod testgen;
mod thumbs;
mod toy;

pub use cache::{
    CACHE_EXT, CACHE_MAGIC, CACHE_VERSION, CachedDataset, hash_file, read_cache, read_cache_raw,
    read_summary, verify_cache, write_cache,
};
pub use error::DataError;
pub use fetch::{CIFAR10_BYTES, CIFAR10_SHA256, CIFAR10_URL, fetch_cifar10};
pub use import::{
    DatasetSummary, Format, ImportError, ImportLimits, ImportOptions, ImportTimings, Imported,
    SampleKind, SplitData, ValueType, Values, import, import_as,
};
pub use ops::{Augment, augment_batch};
pub use thumbs::{sample_grid_png, sample_grid_png_from_cache};
pub use toy::ToyProblem;

/// The folder under a data directory holding registered datasets' cache files.
pub const REGISTRY_DIR: &str = "datasets";

/// The cache file of the registered dataset with content hash `hash` in `dir`.
pub fn cache_path(dir: &Path, hash: &str) -> PathBuf {
    dir.join(format!("{hash}.{CACHE_EXT}"))
}

/// Where an apt-installed dataset lives (Debian's `dataset-*` packages use this root).
pub const SYSTEM_DATASETS: &str = "/usr/share/datasets";

/// The folder name the CIFAR-10 binary tarball unpacks to.
pub const CIFAR10_DIR: &str = "cifar-10-batches-bin";

/// One split of an image-classification dataset, held in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// N·C·H·W values, row-major, raw pixels scaled to [0, 1] until [`Dataset::normalize`].
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
    /// [C, H, W].
    pub shape: [usize; 3],
    pub num_classes: usize,
    pub class_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Dataset,
    pub test: Dataset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    FashionMnist,
    Mnist,
    Cifar10,
}

impl DatasetKind {
    /// The name people know the dataset by, as used in messages.
    pub fn display_name(self) -> &'static str {
        match self {
            DatasetKind::FashionMnist => "Fashion-MNIST",
            DatasetKind::Mnist => "MNIST",
            DatasetKind::Cifar10 => "CIFAR-10",
        }
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display_name())
    }
}

/// The standard folder for `kind`. The IDX datasets live where Debian's packages put them
/// (outside `data_root`, because apt owns them); CIFAR-10 has no package, so it lives where
/// [`fetch_cifar10`] unpacks it, under `data_root`.
pub fn default_dir(kind: DatasetKind, data_root: &Path) -> PathBuf {
    match kind {
        DatasetKind::FashionMnist => Path::new(SYSTEM_DATASETS).join("fashion-mnist"),
        DatasetKind::Mnist => Path::new(SYSTEM_DATASETS).join("mnist"),
        DatasetKind::Cifar10 => data_root.join(CIFAR10_DIR),
    }
}

/// The class names of a built-in dataset, as its loader names them.
pub fn class_names(kind: DatasetKind) -> &'static [&'static str] {
    match kind {
        DatasetKind::FashionMnist => idx::FASHION_MNIST.class_names,
        DatasetKind::Mnist => idx::MNIST.class_names,
        DatasetKind::Cifar10 => &cifar::CLASS_NAMES,
    }
}

/// Loads the official train and test splits of `kind` from `dir`, validating the files.
pub fn load(kind: DatasetKind, dir: &Path) -> Result<Split, DataError> {
    match kind {
        DatasetKind::FashionMnist => idx::load_split(dir, idx::FASHION_MNIST),
        DatasetKind::Mnist => idx::load_split(dir, idx::MNIST),
        DatasetKind::Cifar10 => cifar::load_split(dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_serialises_snake_case() {
        let names: Vec<String> = [
            DatasetKind::FashionMnist,
            DatasetKind::Mnist,
            DatasetKind::Cifar10,
        ]
        .iter()
        .map(|k| serde_json::to_string(k).expect("serialises"))
        .collect();
        assert_eq!(names, ["\"fashion_mnist\"", "\"mnist\"", "\"cifar10\""]);
        let back: DatasetKind = serde_json::from_str("\"cifar10\"").expect("parses");
        assert_eq!(back, DatasetKind::Cifar10);
    }

    #[test]
    fn default_dirs() {
        let root = Path::new("/srv/anneal/data");
        assert_eq!(
            default_dir(DatasetKind::FashionMnist, root),
            Path::new("/usr/share/datasets/fashion-mnist")
        );
        assert_eq!(
            default_dir(DatasetKind::Mnist, root),
            Path::new("/usr/share/datasets/mnist")
        );
        assert_eq!(
            default_dir(DatasetKind::Cifar10, root),
            Path::new("/srv/anneal/data/cifar-10-batches-bin")
        );
    }
}

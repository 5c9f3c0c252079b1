//! Turns a run's dataset choice into normalised in-memory splits and batches them into tensors.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use datasets::{Dataset, DatasetKind};
use experiment::{DatasetChoice, NetSpec};

use crate::TrainError;

pub struct Prepared {
    pub train: Dataset,
    pub test: Dataset,
}

/// The built-in dataset `choice` names; None for a registered one.
pub fn kind(choice: &DatasetChoice) -> Option<DatasetKind> {
    match choice {
        DatasetChoice::FashionMnist => Some(DatasetKind::FashionMnist),
        DatasetChoice::Mnist => Some(DatasetKind::Mnist),
        DatasetChoice::Cifar10 => Some(DatasetKind::Cifar10),
        DatasetChoice::Registered(_) => None,
    }
}

/// Where the run's data lives: a registered dataset's cache file in the registry folder under
/// `data_root`; a built-in one's own `data_dir`, else its standard place.
pub fn data_path(spec: &NetSpec, data_root: &Path) -> PathBuf {
    match (&spec.dataset, kind(&spec.dataset), &spec.data_dir) {
        (DatasetChoice::Registered(r), ..) => datasets::cache_path(
            &data_root.join(datasets::REGISTRY_DIR),
            r.hash.as_deref().unwrap_or("unpinned"),
        ),
        (_, _, Some(d)) => data_root.join(d),
        (_, Some(k), None) => datasets::default_dir(k, data_root),
        (_, None, None) => data_root.to_path_buf(),
    }
}

/// Why the run's dataset cannot be loaded, checked cheaply (file presence only) so a server can
/// refuse a run at submission instead of failing it later. None when the files are there.
pub fn missing(spec: &NetSpec, data_root: &Path) -> Option<String> {
    let dir = data_path(spec, data_root);
    let has = |stem: &str| dir.join(stem).is_file() || dir.join(format!("{stem}.gz")).is_file();
    let present = match &spec.dataset {
        DatasetChoice::FashionMnist | DatasetChoice::Mnist => {
            has("train-images-idx3-ubyte")
                && has("train-labels-idx1-ubyte")
                && has("t10k-images-idx3-ubyte")
        }
        DatasetChoice::Cifar10 => has("data_batch_1.bin") && has("test_batch.bin"),
        DatasetChoice::Registered(r) => {
            return (!dir.is_file()).then(|| {
                format!(
                    "the registered dataset {:?} has no data in this data directory",
                    r.name
                )
            });
        }
    };
    if present {
        return None;
    }
    // The loader's own error says exactly what to install or fetch.
    let kind = kind(&spec.dataset)?;
    Some(match datasets::load(kind, &dir) {
        Err(e) => e.to_string(),
        Ok(_) => format!("{} is incomplete in the data folder", spec.dataset.label()),
    })
}

/// Loads, subsets (k per class, from the seed), trims the test set, and normalises both
/// splits with the training split's per-channel statistics.
pub fn prepare(spec: &NetSpec, data_root: &Path, seed: u64) -> Result<Prepared, TrainError> {
    let path = data_path(spec, data_root);
    let split = match kind(&spec.dataset) {
        Some(k) => datasets::load(k, &path)?,
        None => datasets::read_cache(&path)?.1,
    };
    let mut train = match spec.train_per_class {
        Some(k) => split.train.subset_per_class(k as usize, seed)?,
        None => split.train,
    };
    let mut test = split.test;
    if let Some(limit) = spec.test_limit {
        truncate(&mut test, limit as usize);
    }
    let (mean, std) = train.channel_stats();
    train.normalize(&mean, &std);
    test.normalize(&mean, &std);
    Ok(Prepared { train, test })
}

fn truncate(ds: &mut Dataset, n: usize) {
    let n = n.min(ds.labels.len());
    let per: usize = ds.shape.iter().product();
    ds.images.truncate(n * per);
    ds.labels.truncate(n);
}

/// The images at `idx`, copied into one buffer of shape [b, c, h, w].
pub fn gather(ds: &Dataset, idx: &[usize]) -> (Vec<f32>, [usize; 4]) {
    let [c, h, w] = ds.shape;
    let per = c * h * w;
    let mut out = Vec::with_capacity(idx.len() * per);
    for &i in idx {
        out.extend_from_slice(&ds.images[i * per..(i + 1) * per]);
    }
    (out, [idx.len(), c, h, w])
}

pub fn to_tensor<B: Backend>(data: Vec<f32>, dims: [usize; 4], device: &B::Device) -> Tensor<B, 4> {
    Tensor::from_data(TensorData::new(data, dims), device)
}

pub fn labels<B: Backend>(ds: &Dataset, idx: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let v: Vec<i64> = idx.iter().map(|&i| i64::from(ds.labels[i])).collect();
    Tensor::from_data(TensorData::new(v, [idx.len()]), device)
}

/// One-hot targets [b, classes] for the MSE loss.
pub fn one_hot<B: Backend>(
    ds: &Dataset,
    idx: &[usize],
    classes: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut v = vec![0.0f32; idx.len() * classes];
    for (row, &i) in idx.iter().enumerate() {
        v[row * classes + usize::from(ds.labels[i])] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [idx.len(), classes]), device)
}

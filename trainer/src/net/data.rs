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

pub fn kind(choice: DatasetChoice) -> DatasetKind {
    match choice {
        DatasetChoice::FashionMnist => DatasetKind::FashionMnist,
        DatasetChoice::Mnist => DatasetKind::Mnist,
        DatasetChoice::Cifar10 => DatasetKind::Cifar10,
    }
}

/// Where the run's data lives: its own `data_dir`, else the standard place under `data_root`.
pub fn data_dir(spec: &NetSpec, data_root: &Path) -> PathBuf {
    match &spec.data_dir {
        Some(d) => data_root.join(d),
        None => datasets::default_dir(kind(spec.dataset), data_root),
    }
}

/// Why the run's dataset cannot be loaded, checked cheaply (file presence only) so a server can
/// refuse a run at submission instead of failing it later. None when the files are there.
pub fn missing(spec: &NetSpec, data_root: &Path) -> Option<String> {
    let dir = data_dir(spec, data_root);
    let has = |stem: &str| dir.join(stem).is_file() || dir.join(format!("{stem}.gz")).is_file();
    let present = match spec.dataset {
        DatasetChoice::FashionMnist | DatasetChoice::Mnist => {
            has("train-images-idx3-ubyte")
                && has("train-labels-idx1-ubyte")
                && has("t10k-images-idx3-ubyte")
        }
        DatasetChoice::Cifar10 => has("data_batch_1.bin") && has("test_batch.bin"),
    };
    if present {
        return None;
    }
    // The loader's own error says exactly what to install or fetch.
    Some(match datasets::load(kind(spec.dataset), &dir) {
        Err(e) => e.to_string(),
        Ok(_) => format!("{} is incomplete in the data folder", spec.dataset.label()),
    })
}

/// Loads, subsets (k per class, from the seed), trims the test set, and normalises both
/// splits with the training split's per-channel statistics.
pub fn prepare(spec: &NetSpec, data_root: &Path, seed: u64) -> Result<Prepared, TrainError> {
    let split = datasets::load(kind(spec.dataset), &data_dir(spec, data_root))?;
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

//! Importing users' own datasets: image folders (plain or in zip/tar/tar.gz archives), NumPy
//! arrays (`.npy` pairs, `.npz`) and CSV tables, validated and turned into one in-memory form
//! that [`crate::cache`] writes to a compact file.
//!
//! Hidden files (names starting with `.`, such as `.DS_Store` and macOS's `._*` forks) and
//! `__MACOSX` folders are skipped everywhere; files at the top of an image-folder tree (a
//! README, a licence) are ignored.

use std::path::Path;
use std::time::Duration;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

mod archive;
mod error;
mod folder;
mod npy;
mod table;

pub use error::ImportError;

/// The formats [`import`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A folder of `train/<class>/*` and `test/<class>/*`, or of `<class>/*`.
    ImageFolder,
    Zip,
    Tar,
    TarGz,
    /// A folder holding `x.npy` + `y.npy`, or `train_x.npy`, `train_y.npy`, `test_x.npy`, `test_y.npy`.
    Npy,
    Npz,
    Csv,
}

impl Format {
    /// The name stored in a summary's `format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::ImageFolder => "image_folder",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::TarGz => "tar_gz",
            Format::Npy => "npy",
            Format::Npz => "npz",
            Format::Csv => "csv",
        }
    }

    /// The format of `path`, from its extension, or for a folder from whether it holds `.npy` files.
    pub fn detect(path: &Path) -> Result<Format, ImportError> {
        let meta = std::fs::metadata(path).map_err(|e| ImportError::io(path, e))?;
        if meta.is_dir() {
            return Ok(if npy::has_npy_pair(path) {
                Format::Npy
            } else {
                Format::ImageFolder
            });
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let format = if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Format::TarGz
        } else if name.ends_with(".tar") {
            Format::Tar
        } else if name.ends_with(".zip") {
            Format::Zip
        } else if name.ends_with(".npz") {
            Format::Npz
        } else if name.ends_with(".csv") {
            Format::Csv
        } else {
            return Err(ImportError::UnknownFormat {
                path: path.into(),
                reason: "expected a folder, .zip, .tar, .tar.gz, .tgz, .npz or .csv".into(),
            });
        };
        Ok(format)
    }
}

/// Bounds on what an archive (or folder) may unpack to, checked while streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportLimits {
    pub max_files: u64,
    pub max_unpacked_bytes: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_files: 2_000_000,
            max_unpacked_bytes: 8 << 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportOptions {
    /// The fraction of each class held out for test when the data has no test split.
    pub held_out: f64,
    /// Seeds the held-out split.
    pub seed: u64,
    /// Resize every image to (width, height) with a triangle filter; without it, images of
    /// different sizes are refused.
    pub resize: Option<(u32, u32)>,
    /// The CSV column holding the labels.
    pub label_column: String,
    pub limits: ImportLimits,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            held_out: 0.2,
            seed: 0,
            resize: None,
            label_column: "label".into(),
            limits: ImportLimits::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleKind {
    /// Pixels, shape [C, H, W].
    Images,
    /// Feature vectors, shape [1, 1, F].
    Features,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// 8-bit pixels; divide by 255 for [0, 1].
    U8,
    F32,
}

/// What a dataset is, as stored in the cache header and recorded by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub kind: SampleKind,
    /// [C, H, W]; [1, 1, F] for features.
    pub shape: [usize; 3],
    pub class_names: Vec<String>,
    pub train_count: usize,
    pub test_count: usize,
    pub train_per_class: Vec<u32>,
    pub test_per_class: Vec<u32>,
    /// Per channel, over the training split, in [0, 1] units for 8-bit images.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// [`Format::name`] of the source.
    pub format: String,
    pub value_type: ValueType,
}

/// Sample values, N·C·H·W, in the type they were imported as.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    U8(Vec<u8>),
    F32(Vec<f32>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::U8(v) => v.len(),
            Values::F32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn value_type(&self) -> ValueType {
        match self {
            Values::U8(_) => ValueType::U8,
            Values::F32(_) => ValueType::F32,
        }
    }

    /// In [0, 1] for 8-bit pixels, as is otherwise.
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Values::U8(v) => v.iter().map(|&b| f32::from(b) / 255.0).collect(),
            Values::F32(v) => v.clone(),
        }
    }

    /// The samples at `indices`, each `size` values long.
    pub(crate) fn gather(&self, indices: &[usize], size: usize) -> Values {
        fn pick<T: Copy>(v: &[T], indices: &[usize], size: usize) -> Vec<T> {
            let mut out = Vec::with_capacity(indices.len() * size);
            for &i in indices {
                out.extend_from_slice(&v[i * size..(i + 1) * size]);
            }
            out
        }
        match self {
            Values::U8(v) => Values::U8(pick(v, indices, size)),
            Values::F32(v) => Values::F32(pick(v, indices, size)),
        }
    }
}

/// One split's samples and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitData {
    pub x: Values,
    pub y: Vec<u8>,
}

/// Wall time of each phase of an import, for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ImportTimings {
    /// Reading files or archive entries into memory.
    pub read: Duration,
    /// Decoding images or parsing arrays and tables.
    pub decode: Duration,
    /// Splitting, counting and the channel statistics.
    pub stats: Duration,
}

/// A validated dataset, ready for [`crate::write_cache`].
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub summary: DatasetSummary,
    pub train: SplitData,
    pub test: SplitData,
    pub timings: ImportTimings,
}

impl Imported {
    /// Both splits as [`crate::Dataset`]s, pixels in [0, 1] (not normalised).
    pub fn to_split(&self) -> crate::Split {
        let s = &self.summary;
        let dataset = |d: &SplitData| crate::Dataset {
            images: d.x.to_f32(),
            labels: d.y.clone(),
            shape: s.shape,
            num_classes: s.class_names.len(),
            class_names: s.class_names.clone(),
        };
        crate::Split {
            train: dataset(&self.train),
            test: dataset(&self.test),
        }
    }
}

/// Imports the dataset at `path`, detecting its format (see [`Format::detect`]).
pub fn import(path: &Path, opts: &ImportOptions) -> Result<Imported, ImportError> {
    import_as(path, Format::detect(path)?, opts)
}

/// Imports the dataset at `path` as `format`.
pub fn import_as(
    path: &Path,
    format: Format,
    opts: &ImportOptions,
) -> Result<Imported, ImportError> {
    if !(opts.held_out > 0.0 && opts.held_out < 1.0) {
        return Err(ImportError::InvalidOption {
            name: "held_out",
            reason: format!(
                "{} is not a fraction strictly between 0 and 1",
                opts.held_out
            ),
        });
    }
    if let Some((w, h)) = opts.resize
        && (w == 0 || h == 0 || w > 4096 || h > 4096)
    {
        return Err(ImportError::InvalidOption {
            name: "resize",
            reason: format!("{w}×{h}: each side must be in 1..=4096"),
        });
    }
    match format {
        Format::ImageFolder => {
            let t = std::time::Instant::now();
            let files = archive::read_dir_tree(path, &opts.limits)?;
            folder::import_files(path, files, t.elapsed(), format, opts)
        }
        Format::Zip | Format::Tar | Format::TarGz => {
            let t = std::time::Instant::now();
            let files = archive::read_archive(path, format, &opts.limits)?;
            folder::import_files(path, files, t.elapsed(), format, opts)
        }
        Format::Npy | Format::Npz => npy::import(path, format, opts),
        Format::Csv => table::import(path, opts),
    }
}

/// Splits samples per class: `held_out` of each class, chosen by a seeded shuffle, go to test.
/// Both index lists come back in the original order.
pub(crate) fn held_out_split(
    labels: &[u8],
    class_names: &[String],
    opts: &ImportOptions,
) -> Result<(Vec<usize>, Vec<usize>), ImportError> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); class_names.len()];
    for (i, &l) in labels.iter().enumerate() {
        if let Some(list) = by_class.get_mut(usize::from(l)) {
            list.push(i);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (members, name) in by_class.iter_mut().zip(class_names) {
        let count = members.len();
        if count == 0 {
            return Err(ImportError::EmptyClass {
                split: "training",
                class: name.clone(),
            });
        }
        let n_test = (count as f64 * opts.held_out).round() as usize;
        if n_test == 0 || n_test == count {
            return Err(ImportError::NoTestSplit {
                class: name.clone(),
                count,
                held_out: opts.held_out,
                train: count - n_test,
                test: n_test,
            });
        }
        members.shuffle(&mut rng);
        test.extend_from_slice(&members[..n_test]);
        train.extend_from_slice(&members[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// Validates the classes of both splits and computes the summary.
pub(crate) fn assemble(
    kind: SampleKind,
    shape: [usize; 3],
    class_names: Vec<String>,
    train: SplitData,
    test: SplitData,
    format: Format,
    mut timings: ImportTimings,
) -> Result<Imported, ImportError> {
    let started = std::time::Instant::now();
    if class_names.len() < 2 {
        return Err(ImportError::TooFewClasses {
            found: class_names.len(),
            classes: class_names,
        });
    }
    let count = |y: &[u8]| {
        let mut c = vec![0u32; class_names.len()];
        for &l in y {
            if let Some(slot) = c.get_mut(usize::from(l)) {
                *slot += 1;
            }
        }
        c
    };
    let (train_per_class, test_per_class) = (count(&train.y), count(&test.y));
    for (split, counts) in [("training", &train_per_class), ("test", &test_per_class)] {
        if let Some(c) = counts.iter().position(|&n| n == 0) {
            return Err(ImportError::EmptyClass {
                split,
                class: class_names[c].clone(),
            });
        }
    }
    let (mean, std) = channel_stats(&train.x, shape);
    let summary = DatasetSummary {
        kind,
        shape,
        class_names,
        train_count: train.y.len(),
        test_count: test.y.len(),
        train_per_class,
        test_per_class,
        mean,
        std,
        format: format.name().into(),
        value_type: train.x.value_type(),
    };
    timings.stats += started.elapsed();
    Ok(Imported {
        summary,
        train,
        test,
        timings,
    })
}

/// Per-channel mean and standard deviation of N·C·H·W values, in [0, 1] units for u8.
fn channel_stats(x: &Values, shape: [usize; 3]) -> (Vec<f32>, Vec<f32>) {
    let channels = shape[0];
    let plane = shape[1] * shape[2];
    let sample = channels * plane;
    if sample == 0 || x.is_empty() {
        return (vec![0.0; channels], vec![0.0; channels]);
    }
    // Partial sums per sample, folded in sample order so float results never depend on threads.
    let partials: Vec<Vec<(f64, f64)>> = match x {
        Values::U8(v) => v
            .par_chunks(sample)
            .map(|s| {
                s.chunks(plane)
                    .map(|p| {
                        let (a, b) = p.iter().fold((0u64, 0u64), |(a, b), &q| {
                            (a + u64::from(q), b + u64::from(q) * u64::from(q))
                        });
                        (a as f64, b as f64)
                    })
                    .collect()
            })
            .collect(),
        Values::F32(v) => v
            .par_chunks(sample)
            .map(|s| {
                s.chunks(plane)
                    .map(|p| {
                        p.iter().fold((0f64, 0f64), |(a, b), &q| {
                            let q = f64::from(q);
                            (a + q, b + q * q)
                        })
                    })
                    .collect()
            })
            .collect(),
    };
    let scale = if matches!(x, Values::U8(_)) {
        255.0
    } else {
        1.0
    };
    let n = (partials.len() * plane) as f64;
    let mut mean = Vec::with_capacity(channels);
    let mut std = Vec::with_capacity(channels);
    for c in 0..channels {
        let (s, s2) = partials
            .iter()
            .fold((0.0, 0.0), |(a, b), p| (a + p[c].0, b + p[c].1));
        let m = s / n;
        let var = (s2 / n - m * m).max(0.0);
        mean.push((m / scale) as f32);
        std.push((var.sqrt() / scale) as f32);
    }
    (mean, std)
}

#[cfg(test)]
mod tests_arrays;
#[cfg(test)]
mod tests_folder;

//! Reader for the CIFAR-10 binary version: five training batches and one test batch of
//! 3073-byte records (label, then the R, G and B planes of a 32×32 image).

use std::fs;
use std::path::{Path, PathBuf};

use crate::idx::check_labels;
use crate::{DataError, Dataset, Split};

pub const SIDE: usize = 32;
pub const PIXELS: usize = 3 * SIDE * SIDE;
pub const RECORD: usize = 1 + PIXELS;
pub const CLASSES: usize = 10;
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
pub const TEST_FILE: &str = "test_batch.bin";
pub const META_FILE: &str = "batches.meta.txt";

/// The names in the official `batches.meta.txt`, used when a folder lacks that file.
pub const CLASS_NAMES: [&str; CLASSES] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

const HINT: &str = "Run `anneal data fetch cifar10` (needs internet) to download, verify and unpack it into the \
                    data directory, or point data_dir at a folder holding the binary version's files \
                    (data_batch_1.bin … data_batch_5.bin, test_batch.bin).";

pub fn load_split(dir: &Path) -> Result<Split, DataError> {
    let mut train_paths = Vec::with_capacity(TRAIN_FILES.len());
    for name in TRAIN_FILES {
        train_paths.push(locate(dir, name)?);
    }
    let test_path = locate(dir, TEST_FILE)?;
    let class_names = read_meta(dir)?;
    let train = read_batches(&train_paths, &class_names)?;
    let test = read_batches(&[test_path], &class_names)?;
    Ok(Split { train, test })
}

fn locate(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(DataError::Missing {
            dataset: "CIFAR-10",
            dir: dir.to_path_buf(),
            file: name.to_owned(),
            hint: HINT.to_owned(),
        })
    }
}

/// Class names from `batches.meta.txt` when present (one per line; the official file ends with
/// blank lines), else the official names.
fn read_meta(dir: &Path) -> Result<Vec<String>, DataError> {
    let path = dir.join(META_FILE);
    if !path.is_file() {
        return Ok(CLASS_NAMES.iter().map(|s| (*s).to_owned()).collect());
    }
    let text = fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if names.len() != CLASSES {
        return Err(DataError::corrupt(
            path,
            format!("lists {} class names, expected {CLASSES}", names.len()),
        ));
    }
    Ok(names)
}

fn read_batches(paths: &[PathBuf], class_names: &[String]) -> Result<Dataset, DataError> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for path in paths {
        let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(DataError::BadSize {
                path: path.clone(),
                size: bytes.len() as u64,
                record: RECORD,
            });
        }
        let file_labels: Vec<u8> = bytes.chunks_exact(RECORD).map(|r| r[0]).collect();
        check_labels(path, &file_labels, CLASSES)?;
        images.reserve(file_labels.len() * PIXELS);
        // The record's pixel bytes are already C,H,W row-major, the layout `Dataset` uses.
        for record in bytes.chunks_exact(RECORD) {
            images.extend(record[1..].iter().map(|&p| f32::from(p) / 255.0));
        }
        labels.extend(file_labels);
    }
    Ok(Dataset {
        images,
        labels,
        shape: [3, SIDE, SIDE],
        num_classes: CLASSES,
        class_names: class_names.to_vec(),
    })
}

//! IDX reader for MNIST and Fashion-MNIST: the four official files, gzipped or not.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::{DataError, Dataset, Split};

pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Magic numbers: two zero bytes, type 0x08 (unsigned byte), then the number of dimensions.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
pub const LABELS_MAGIC: u32 = 0x0000_0801;

const IMAGES_HEADER: usize = 16;
const LABELS_HEADER: usize = 8;

/// What differs between the two IDX datasets: names, and how to get the files.
pub struct IdxSpec {
    pub dataset: &'static str,
    pub class_names: &'static [&'static str],
    pub hint: &'static str,
}

pub const FASHION_MNIST: IdxSpec = IdxSpec {
    dataset: "Fashion-MNIST",
    class_names: &[
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    hint: "Install it with `sudo apt-get install dataset-fashion-mnist`, or point data_dir at a folder \
           holding the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, \
           t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; each may be gzipped as .gz).",
};

// Checked with `apt-cache search mnist`: Debian/Ubuntu package only Fashion-MNIST.
pub const MNIST: IdxSpec = IdxSpec {
    dataset: "MNIST",
    class_names: &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    hint: "No apt package ships MNIST (`apt-cache search mnist` finds only dataset-fashion-mnist): \
           place the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
           t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; gzipped or not) in that folder, \
           or point data_dir at a folder holding them.",
};

pub fn load_split(dir: &Path, spec: IdxSpec) -> Result<Split, DataError> {
    // Every file is located before any is parsed, so a missing one is reported as missing
    // rather than as whatever parse error its neighbours might produce.
    let train_images = locate(dir, TRAIN_IMAGES, &spec)?;
    let train_labels = locate(dir, TRAIN_LABELS, &spec)?;
    let test_images = locate(dir, TEST_IMAGES, &spec)?;
    let test_labels = locate(dir, TEST_LABELS, &spec)?;
    let train = load_pair(&train_images, &train_labels, &spec)?;
    let test = load_pair(&test_images, &test_labels, &spec)?;
    if train.shape != test.shape {
        return Err(DataError::corrupt(
            test_images,
            format!(
                "images are {}×{} but the training images are {}×{}",
                test.shape[1], test.shape[2], train.shape[1], train.shape[2]
            ),
        ));
    }
    Ok(Split { train, test })
}

/// The file for `base`, under either official name: the download's `.gz` or the unpacked one.
fn locate(dir: &Path, base: &str, spec: &IdxSpec) -> Result<PathBuf, DataError> {
    let gz = format!("{base}.gz");
    for name in [gz.as_str(), base] {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(DataError::Missing {
        dataset: spec.dataset,
        dir: dir.to_path_buf(),
        file: gz,
        hint: spec.hint.to_owned(),
    })
}

/// The file's bytes, gunzipped if they start with the gzip magic (names are not trusted:
/// some mirrors serve unpacked files under `.gz` names and vice versa).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = fs::read(path).map_err(|e| DataError::io(path, e))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| {
            DataError::corrupt(path, format!("gzip stream is truncated or corrupt ({e})"))
        })?;
    Ok(out)
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        word.copy_from_slice(src);
    }
    u32::from_be_bytes(word)
}

/// Checks the magic and returns the header's dimensions; the caller checks the payload size.
fn header(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    len: usize,
    what: &'static str,
) -> Result<Vec<usize>, DataError> {
    if bytes.len() < 4 {
        return Err(DataError::Truncated {
            path: path.into(),
            expected: len as u64,
            actual: bytes.len() as u64,
        });
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.into(),
            found,
            expected: magic,
            what,
        });
    }
    if bytes.len() < len {
        return Err(DataError::Truncated {
            path: path.into(),
            expected: len as u64,
            actual: bytes.len() as u64,
        });
    }
    Ok((4..len)
        .step_by(4)
        .map(|at| be_u32(bytes, at) as usize)
        .collect())
}

/// Requires exactly `header + payload` bytes: a short file is truncated, a long one is not IDX.
fn check_size(
    path: &Path,
    bytes: &[u8],
    header: usize,
    payload: Option<usize>,
    what: &str,
) -> Result<(), DataError> {
    let need = payload.and_then(|p| p.checked_add(header)).ok_or_else(|| {
        DataError::corrupt(path, format!("the header's {what} dimensions overflow"))
    })?;
    if bytes.len() < need {
        return Err(DataError::Truncated {
            path: path.into(),
            expected: need as u64,
            actual: bytes.len() as u64,
        });
    }
    if bytes.len() > need {
        return Err(DataError::corrupt(
            path,
            format!(
                "{} bytes follow the {} the header declares",
                bytes.len() - need,
                what
            ),
        ));
    }
    Ok(())
}

/// Parses an IDX3 image file: (count, rows, cols, pixels).
pub fn parse_images<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<(usize, usize, usize, &'a [u8]), DataError> {
    let dims = header(path, bytes, IMAGES_MAGIC, IMAGES_HEADER, "images")?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(DataError::corrupt(
            path,
            format!("the header declares {rows}×{cols} images"),
        ));
    }
    check_size(
        path,
        bytes,
        IMAGES_HEADER,
        n.checked_mul(rows).and_then(|v| v.checked_mul(cols)),
        "images",
    )?;
    Ok((n, rows, cols, &bytes[IMAGES_HEADER..]))
}

/// Parses an IDX1 label file.
pub fn parse_labels<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a [u8], DataError> {
    let dims = header(path, bytes, LABELS_MAGIC, LABELS_HEADER, "labels")?;
    check_size(path, bytes, LABELS_HEADER, Some(dims[0]), "labels")?;
    Ok(&bytes[LABELS_HEADER..])
}

fn load_pair(images_path: &Path, labels_path: &Path, spec: &IdxSpec) -> Result<Dataset, DataError> {
    let image_bytes = read_maybe_gz(images_path)?;
    let (n, rows, cols, pixels) = parse_images(images_path, &image_bytes)?;
    let label_bytes = read_maybe_gz(labels_path)?;
    let labels = parse_labels(labels_path, &label_bytes)?;
    if labels.len() != n {
        return Err(DataError::CountMismatch {
            images: images_path.into(),
            labels: labels_path.into(),
            n_images: n,
            n_labels: labels.len(),
        });
    }
    let classes = spec.class_names.len();
    check_labels(labels_path, labels, classes)?;
    Ok(Dataset {
        images: pixels.iter().map(|&p| f32::from(p) / 255.0).collect(),
        labels: labels.to_vec(),
        shape: [1, rows, cols],
        num_classes: classes,
        class_names: spec.class_names.iter().map(|s| (*s).to_owned()).collect(),
    })
}

pub fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<(), DataError> {
    match labels.iter().position(|&l| usize::from(l) >= classes) {
        Some(index) => Err(DataError::BadLabel {
            path: path.into(),
            index,
            label: labels[index],
            classes,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [IMAGES_MAGIC, n, rows, cols] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        b.extend((0..n * rows * cols).map(|i| (i % 256) as u8));
        b
    }

    #[test]
    fn parses_header_and_pixels() {
        let b = images(3, 2, 4);
        let (n, r, c, px) = parse_images(Path::new("x"), &b).expect("valid");
        assert_eq!((n, r, c, px.len()), (3, 2, 4, 24));
        assert_eq!(px[5], 5);
    }

    #[test]
    fn short_header_is_truncated_not_bad_magic() {
        let b = images(3, 2, 4);
        let err = parse_images(Path::new("x"), &b[..10]).expect_err("short");
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 16,
                    actual: 10,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_images(Path::new("x"), &b[..2]).expect_err("short");
        assert!(
            matches!(err, DataError::Truncated { actual: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn trailing_bytes_and_zero_dims_are_corrupt() {
        let mut b = images(1, 2, 2);
        b.push(0);
        let err = parse_images(Path::new("x"), &b).expect_err("long");
        assert!(
            err.to_string().contains("1 bytes follow the images"),
            "{err}"
        );
        let err = parse_images(Path::new("x"), &images(1, 0, 2)).expect_err("zero rows");
        assert!(matches!(err, DataError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn huge_declared_dims_do_not_allocate_or_overflow() {
        let mut b = Vec::new();
        for w in [IMAGES_MAGIC, u32::MAX, u32::MAX, u32::MAX] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        let err = parse_images(Path::new("x"), &b).expect_err("absurd");
        assert!(
            matches!(err, DataError::Corrupt { .. } | DataError::Truncated { .. }),
            "{err}"
        );
    }

    #[test]
    fn labels_file_given_as_images_is_bad_magic() {
        let mut b = LABELS_MAGIC.to_be_bytes().to_vec();
        b.extend_from_slice(&1u32.to_be_bytes());
        b.push(3);
        let err = parse_images(Path::new("x"), &b).expect_err("wrong kind");
        assert!(
            matches!(
                err,
                DataError::BadMagic {
                    found: 2049,
                    expected: 2051,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            parse_labels(Path::new("x"), &b).expect("valid labels"),
            &[3]
        );
    }
}

//! Loader tests on files written by `testgen` in the official formats, valid and broken, and
//! on the real Fashion-MNIST when apt has installed it.

use std::fs;
use std::path::{Path, PathBuf};

use datasets::{DataError, DatasetKind, load, testgen};

/// A fresh folder under the system temp dir, removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let p = std::env::temp_dir().join(format!(
            "anneal-loaders-{name}-{}-{nanos}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&p);
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[test]
fn gz_and_plain_idx_load_identically() {
    let (gz, plain) = (TempDir::new("gz"), TempDir::new("plain"));
    testgen::write_idx(gz.path(), 120, 30, true, 5).expect("writes gz");
    testgen::write_idx(plain.path(), 120, 30, false, 5).expect("writes plain");
    assert!(gz.path().join("train-images-idx3-ubyte.gz").is_file());
    assert!(plain.path().join("train-images-idx3-ubyte").is_file());
    let a = load(DatasetKind::FashionMnist, gz.path()).expect("gz loads");
    let b = load(DatasetKind::FashionMnist, plain.path()).expect("plain loads");
    assert_eq!(a, b);
    assert_eq!((a.train.len(), a.test.len()), (120, 30));
    assert_eq!(a.train.shape, [1, 28, 28]);
    assert_eq!(a.train.images.len(), 120 * 784);
    assert_eq!(a.train.num_classes, 10);
    assert_eq!(a.train.class_names[0], "T-shirt/top");
    assert!(a.train.images.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(
        a.train.images.iter().any(|&v| v > 0.75),
        "class blocks are bright"
    );
    for c in 0..10u8 {
        assert_eq!(a.train.labels.iter().filter(|&&l| l == c).count(), 12);
    }
    let mnist = load(DatasetKind::Mnist, gz.path()).expect("the same files load as MNIST");
    assert_eq!(mnist.train.class_names[3], "3");
    assert_eq!(mnist.train.images, a.train.images);
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let dir = TempDir::new("swapped");
    testgen::write_idx(dir.path(), 20, 10, true, 2).expect("writes");
    // Unpack one file but keep its .gz name, and unpack another under its plain name.
    let p = dir.path().join("train-images-idx3-ubyte.gz");
    let raw = gunzip(&fs::read(&p).expect("read"));
    fs::write(&p, &raw).expect("write");
    let q = dir.path().join("t10k-labels-idx1-ubyte.gz");
    let raw_labels = gunzip(&fs::read(&q).expect("read"));
    fs::remove_file(&q).expect("rm");
    fs::write(dir.path().join("t10k-labels-idx1-ubyte"), raw_labels).expect("write");
    let split = load(DatasetKind::FashionMnist, dir.path()).expect("loads");
    assert_eq!((split.train.len(), split.test.len()), (20, 10));
}

#[test]
fn missing_files_say_how_to_get_them() {
    let dir = TempDir::new("missing");
    let err = load(DatasetKind::FashionMnist, dir.path()).expect_err("empty");
    assert!(
        matches!(err, DataError::Missing { ref file, .. } if file == "train-images-idx3-ubyte.gz"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "Fashion-MNIST not found in {} (missing train-images-idx3-ubyte.gz). Install it with `sudo apt-get install \
             dataset-fashion-mnist`, or point data_dir at a folder holding the four IDX files (train-images-idx3-ubyte, \
             train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; each may be gzipped as .gz).",
            dir.path().display()
        )
    );

    let err = load(DatasetKind::Mnist, dir.path()).expect_err("empty");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("MNIST not found in {}", dir.path().display())),
        "{msg}"
    );
    assert!(
        msg.contains("No apt package ships MNIST") && msg.contains("place the four IDX files"),
        "{msg}"
    );

    let err = load(DatasetKind::Cifar10, dir.path()).expect_err("empty");
    let msg = err.to_string();
    assert!(msg.starts_with(&format!(
        "CIFAR-10 not found in {} (missing data_batch_1.bin).",
        dir.path().display()
    )));
    assert!(
        msg.contains("Run `anneal data fetch cifar10` (needs internet)"),
        "{msg}"
    );

    // One file short: that file is named.
    testgen::write_idx(dir.path(), 10, 10, false, 1).expect("writes");
    fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).expect("rm");
    let err = load(DatasetKind::FashionMnist, dir.path()).expect_err("one missing");
    assert!(
        err.to_string()
            .contains("(missing t10k-labels-idx1-ubyte.gz)"),
        "{err}"
    );
}

#[test]
fn bad_magic_is_reported_with_both_numbers() {
    let dir = TempDir::new("magic");
    testgen::write_idx(dir.path(), 10, 10, false, 1).expect("writes");
    // Labels where images belong.
    let labels = fs::read(dir.path().join("train-labels-idx1-ubyte")).expect("read");
    fs::write(dir.path().join("train-images-idx3-ubyte"), labels).expect("write");
    let err = load(DatasetKind::Mnist, dir.path()).expect_err("bad magic");
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
    assert!(
        err.to_string()
            .contains("bad magic number 2049 (expected 2051 for an IDX images file)"),
        "{err}"
    );

    let dir = TempDir::new("magic2");
    testgen::write_idx(dir.path(), 10, 10, false, 1).expect("writes");
    let mut labels = fs::read(dir.path().join("t10k-labels-idx1-ubyte")).expect("read");
    labels[3] = 0x99;
    fs::write(dir.path().join("t10k-labels-idx1-ubyte"), labels).expect("write");
    let err = load(DatasetKind::Mnist, dir.path()).expect_err("bad magic");
    assert!(
        matches!(err, DataError::BadMagic { expected: 2049, .. }),
        "{err}"
    );
}

#[test]
fn truncated_files_are_errors_not_panics() {
    let dir = TempDir::new("trunc");
    testgen::write_idx(dir.path(), 10, 10, false, 1).expect("writes");
    let p = dir.path().join("train-images-idx3-ubyte");
    let bytes = fs::read(&p).expect("read");
    fs::write(&p, &bytes[..bytes.len() - 100]).expect("write");
    let err = load(DatasetKind::FashionMnist, dir.path()).expect_err("truncated");
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 7856,
                actual: 7756,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("truncated: its header needs 7856 bytes, the file has 7756"),
        "{err}"
    );

    // A gzip stream cut short.
    let dir = TempDir::new("truncgz");
    testgen::write_idx(dir.path(), 10, 10, true, 1).expect("writes");
    let p = dir.path().join("train-images-idx3-ubyte.gz");
    let bytes = fs::read(&p).expect("read");
    fs::write(&p, &bytes[..bytes.len() / 2]).expect("write");
    let err = load(DatasetKind::FashionMnist, dir.path()).expect_err("truncated gzip");
    assert!(matches!(err, DataError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("gzip stream is truncated or corrupt"),
        "{err}"
    );

    // An empty file.
    fs::write(&p, b"").expect("write");
    let err = load(DatasetKind::FashionMnist, dir.path()).expect_err("empty");
    assert!(
        matches!(err, DataError::Truncated { actual: 0, .. }),
        "{err}"
    );
}

#[test]
fn image_and_label_counts_must_match() {
    let (dir, other) = (TempDir::new("count"), TempDir::new("count2"));
    testgen::write_idx(dir.path(), 10, 10, false, 1).expect("writes");
    testgen::write_idx(other.path(), 11, 10, false, 1).expect("writes");
    fs::copy(
        other.path().join("train-labels-idx1-ubyte"),
        dir.path().join("train-labels-idx1-ubyte"),
    )
    .expect("copy");
    let err = load(DatasetKind::FashionMnist, dir.path()).expect_err("mismatch");
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                n_images: 10,
                n_labels: 11,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("holds 10 images but"), "{err}");
    assert!(
        err.to_string()
            .contains("train-labels-idx1-ubyte holds 11 labels"),
        "{err}"
    );
}

#[test]
fn labels_must_be_below_ten() {
    let dir = TempDir::new("label");
    testgen::write_idx(dir.path(), 10, 10, false, 1).expect("writes");
    let p = dir.path().join("train-labels-idx1-ubyte");
    let mut bytes = fs::read(&p).expect("read");
    bytes[8 + 4] = 10;
    fs::write(&p, bytes).expect("write");
    let err = load(DatasetKind::FashionMnist, dir.path()).expect_err("label 10");
    assert!(
        matches!(
            err,
            DataError::BadLabel {
                index: 4,
                label: 10,
                classes: 10,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("record 4 has label 10, but the dataset has only 10 classes"),
        "{err}"
    );
}

#[test]
fn cifar10_loads_in_chw_order() {
    let dir = TempDir::new("cifar");
    testgen::write_cifar10(dir.path(), 7, 9, 3).expect("writes");
    let split = load(DatasetKind::Cifar10, dir.path()).expect("loads");
    assert_eq!((split.train.len(), split.test.len()), (35, 9));
    assert_eq!(split.train.shape, [3, 32, 32]);
    assert_eq!(split.test.images.len(), 9 * 3072);
    assert_eq!(
        split.train.class_names,
        [
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck"
        ]
    );
    // Record 2 of batch 1: pixel (row 5, col 7) of the G plane.
    let raw = fs::read(dir.path().join("data_batch_1.bin")).expect("read");
    let rec = &raw[2 * 3073..3 * 3073];
    assert_eq!(split.train.labels[2], rec[0]);
    let want = f32::from(rec[1 + 1024 + 5 * 32 + 7]) / 255.0;
    assert_eq!(split.train.images[2 * 3072 + 1024 + 5 * 32 + 7], want);
    // Batches are concatenated in order: record 0 of batch 2 is image 7.
    let raw2 = fs::read(dir.path().join("data_batch_2.bin")).expect("read");
    assert_eq!(split.train.labels[7], raw2[0]);

    // Without batches.meta.txt the official names are used.
    fs::remove_file(dir.path().join("batches.meta.txt")).expect("rm");
    assert_eq!(
        load(DatasetKind::Cifar10, dir.path())
            .expect("loads")
            .train
            .class_names[0],
        "airplane"
    );
}

#[test]
fn cifar10_rejects_bad_sizes_labels_and_meta() {
    let dir = TempDir::new("cifarbad");
    testgen::write_cifar10(dir.path(), 3, 3, 1).expect("writes");
    let p = dir.path().join("data_batch_4.bin");
    let bytes = fs::read(&p).expect("read");
    fs::write(&p, &bytes[..bytes.len() - 1]).expect("write");
    let err = load(DatasetKind::Cifar10, dir.path()).expect_err("bad size");
    assert!(
        matches!(
            err,
            DataError::BadSize {
                size: 9218,
                record: 3073,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("data_batch_4.bin: 9218 bytes is not a positive multiple of the 3073-byte"),
        "{err}"
    );
    fs::write(&p, b"").expect("write");
    assert!(matches!(
        load(DatasetKind::Cifar10, dir.path()),
        Err(DataError::BadSize { size: 0, .. })
    ));

    let dir = TempDir::new("cifarlabel");
    testgen::write_cifar10(dir.path(), 3, 3, 1).expect("writes");
    let p = dir.path().join("test_batch.bin");
    let mut bytes = fs::read(&p).expect("read");
    bytes[3073] = 200;
    fs::write(&p, bytes).expect("write");
    let err = load(DatasetKind::Cifar10, dir.path()).expect_err("label 200");
    assert!(
        matches!(
            err,
            DataError::BadLabel {
                index: 1,
                label: 200,
                ..
            }
        ),
        "{err}"
    );

    let dir = TempDir::new("cifarmeta");
    testgen::write_cifar10(dir.path(), 3, 3, 1).expect("writes");
    fs::write(
        dir.path().join("batches.meta.txt"),
        "airplane\nautomobile\n",
    )
    .expect("write");
    let err = load(DatasetKind::Cifar10, dir.path()).expect_err("short meta");
    assert!(
        err.to_string().contains("lists 2 class names, expected 10"),
        "{err}"
    );

    fs::remove_file(dir.path().join("test_batch.bin")).expect("rm");
    let err = load(DatasetKind::Cifar10, dir.path()).expect_err("missing test batch");
    assert!(
        err.to_string().contains("(missing test_batch.bin)"),
        "{err}"
    );
}

#[test]
fn trainer_pipeline_subset_then_normalise() {
    let dir = TempDir::new("pipeline");
    testgen::write_cifar10(dir.path(), 100, 50, 9).expect("writes");
    let split = load(DatasetKind::Cifar10, dir.path()).expect("loads");
    let mut train = split
        .train
        .subset_per_class(50, 1)
        .expect("500 have 50 per class");
    assert_eq!(train.len(), 500);
    assert_eq!(train, split.train.subset_per_class(50, 1).expect("again"));
    let err = split
        .train
        .subset_per_class(51, 1)
        .expect_err("only 50 per class");
    assert!(
        matches!(
            err,
            DataError::NotEnoughPerClass {
                have: 50,
                want: 51,
                ..
            }
        ),
        "{err}"
    );
    let mut test = split.test;
    let (mean, std) = train.channel_stats();
    assert_eq!(mean.len(), 3);
    assert!(mean.iter().all(|m| (0.0..1.0).contains(m)) && std.iter().all(|s| *s > 0.0));
    train.normalize(&mean, &std);
    test.normalize(&mean, &std);
    let (m2, s2) = train.channel_stats();
    assert!(
        m2.iter().all(|m| m.abs() < 1e-4) && s2.iter().all(|s| (s - 1.0).abs() < 1e-4),
        "{m2:?} {s2:?}"
    );
    assert!(test.images.iter().all(|v| v.is_finite()));
}

/// The real dataset, when `dataset-fashion-mnist` is installed; otherwise a note and a pass.
#[test]
fn system_fashion_mnist_if_installed() {
    let dir = datasets::default_dir(DatasetKind::FashionMnist, Path::new("/unused"));
    if !dir.join("train-images-idx3-ubyte.gz").is_file()
        && !dir.join("train-images-idx3-ubyte").is_file()
    {
        eprintln!(
            "note: {} is absent (apt-get install dataset-fashion-mnist); skipping the real-data check",
            dir.display()
        );
        return;
    }
    let split = load(DatasetKind::FashionMnist, &dir).expect("the installed Fashion-MNIST loads");
    assert_eq!((split.train.len(), split.test.len()), (60_000, 10_000));
    assert_eq!(split.train.shape, [1, 28, 28]);
    assert_eq!(split.test.shape, [1, 28, 28]);
    for c in 0..10u8 {
        assert_eq!(
            split.train.labels.iter().filter(|&&l| l == c).count(),
            6000,
            "class {c}"
        );
        assert_eq!(
            split.test.labels.iter().filter(|&&l| l == c).count(),
            1000,
            "class {c}"
        );
    }
    // Fashion-MNIST's published training mean and std are about 0.286 and 0.353.
    let (mean, std) = split.train.channel_stats();
    assert!(
        (mean[0] - 0.286).abs() < 0.01 && (std[0] - 0.353).abs() < 0.01,
        "{mean:?} {std:?}"
    );
}

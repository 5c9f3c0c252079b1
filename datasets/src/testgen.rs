//! Small datasets written in the exact official formats, for tests here and in other crates.
//! Each class has its own bright block (and, for CIFAR-10, its own colour) over noise, so a
//! model can learn them; labels are balanced and shuffled like the real files.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cifar::{CLASS_NAMES, META_FILE, RECORD, SIDE, TEST_FILE, TRAIN_FILES};
use crate::idx::{
    IMAGES_MAGIC, LABELS_MAGIC, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
};
use crate::{CIFAR10_DIR, DataError};

const CLASSES: u8 = 10;
const MNIST_SIDE: usize = 28;

/// `n` labels, as equal per class as `n` allows, in a seeded random order.
fn balanced_labels(n: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut labels: Vec<u8> = (0..n).map(|i| (i % usize::from(CLASSES)) as u8).collect();
    labels.shuffle(rng);
    labels
}

/// One `side`×`side` plane: noise in 0..60, plus a block in 200..=255 whose place encodes the
/// class (a 5×2 grid of blocks, so all ten classes are distinct).
fn plane(class: u8, side: usize, rng: &mut ChaCha8Rng) -> impl Iterator<Item = (bool, u8)> {
    let (bw, bh) = (side / 5, side / 2);
    let (bx, by) = (usize::from(class % 5) * bw, usize::from(class / 5) * bh);
    let noise: Vec<u8> = (0..side * side).map(|_| rng.random_range(0..56)).collect();
    noise.into_iter().enumerate().map(move |(i, r)| {
        let (x, y) = (i % side, i / side);
        let on = (bx..bx + bw).contains(&x) && (by..by + bh).contains(&y);
        (on, r)
    })
}

/// Raw (uncompressed) IDX image and label files for `n` 28×28 images.
pub fn idx_bytes(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    idx_bytes_from(n, &mut ChaCha8Rng::seed_from_u64(seed))
}

fn idx_bytes_from(n: usize, rng: &mut ChaCha8Rng) -> (Vec<u8>, Vec<u8>) {
    let labels = balanced_labels(n, rng);
    let mut images = Vec::with_capacity(16 + n * MNIST_SIDE * MNIST_SIDE);
    for word in [IMAGES_MAGIC, n as u32, MNIST_SIDE as u32, MNIST_SIDE as u32] {
        images.extend_from_slice(&word.to_be_bytes());
    }
    for &class in &labels {
        let pixels: Vec<u8> = plane(class, MNIST_SIDE, rng)
            .map(|(on, r)| if on { 200 + r } else { r })
            .collect();
        images.extend(pixels);
    }
    let mut label_file = Vec::with_capacity(8 + n);
    for word in [LABELS_MAGIC, n as u32] {
        label_file.extend_from_slice(&word.to_be_bytes());
    }
    label_file.extend_from_slice(&labels);
    (images, label_file)
}

/// Gzips `bytes` as the official `.gz` downloads are.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    // Writing to a Vec cannot fail, so the empty fallback is never taken.
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .unwrap_or_default()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    std::fs::write(path, bytes).map_err(|e| DataError::io(path, e))
}

/// The four MNIST-style IDX files (28×28, ten classes) in `dir`, under their official names;
/// with `gz`, gzipped and named `.gz` as downloaded.
pub fn write_idx(
    dir: &Path,
    n_train: usize,
    n_test: usize,
    gz: bool,
    seed: u64,
) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (n, images_name, labels_name) in [
        (n_train, TRAIN_IMAGES, TRAIN_LABELS),
        (n_test, TEST_IMAGES, TEST_LABELS),
    ] {
        let (images, labels) = idx_bytes_from(n, &mut rng);
        for (name, bytes) in [(images_name, images), (labels_name, labels)] {
            if gz {
                write(&dir.join(format!("{name}.gz")), &gzip(&bytes))?;
            } else {
                write(&dir.join(name), &bytes)?;
            }
        }
    }
    Ok(())
}

/// Each class's colour, so CIFAR-style classes also differ in their channel means.
fn tint(class: u8, channel: usize) -> u8 {
    const PALETTE: [[u8; 3]; 10] = [
        [255, 40, 40],
        [40, 255, 40],
        [40, 40, 255],
        [255, 255, 40],
        [255, 40, 255],
        [40, 255, 255],
        [255, 140, 40],
        [140, 40, 255],
        [200, 200, 200],
        [120, 255, 140],
    ];
    PALETTE[usize::from(class % CLASSES)][channel]
}

/// One CIFAR-10 binary batch of `n` records: label byte, then the R, G, B planes.
pub fn cifar10_batch(n: usize, seed: u64) -> Vec<u8> {
    cifar10_batch_from(n, &mut ChaCha8Rng::seed_from_u64(seed))
}

fn cifar10_batch_from(n: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * RECORD);
    for class in balanced_labels(n, rng) {
        out.push(class);
        for ch in 0..3 {
            let top = tint(class, ch);
            out.extend(
                plane(class, SIDE, rng).map(|(on, r)| if on { top.saturating_sub(r) } else { r }),
            );
        }
    }
    out
}

/// The `batches.meta.txt` of the official archive: one name per line, then a blank line.
pub fn cifar10_meta() -> String {
    let mut meta: String = CLASS_NAMES.iter().map(|c| format!("{c}\n")).collect();
    meta.push('\n');
    meta
}

/// (file name, contents) of every member of `cifar-10-batches-bin/`, in the official order.
fn cifar10_members(n_per_batch: usize, n_test: usize, seed: u64) -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut members = vec![(META_FILE, cifar10_meta().into_bytes())];
    for name in TRAIN_FILES {
        members.push((name, cifar10_batch_from(n_per_batch, &mut rng)));
    }
    members.push(("readme.html", b"<meta HTTP-EQUIV=\"REFRESH\" content=\"0; url=https://www.cs.toronto.edu/~kriz/cifar.html\">\n".to_vec()));
    members.push((TEST_FILE, cifar10_batch_from(n_test, &mut rng)));
    members
}

/// A `cifar-10-batches-bin`-style folder at `dir` itself: five training batches of
/// `n_per_batch` records, a test batch of `n_test`, and `batches.meta.txt`.
pub fn write_cifar10(
    dir: &Path,
    n_per_batch: usize,
    n_test: usize,
    seed: u64,
) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    for (name, bytes) in cifar10_members(n_per_batch, n_test, seed) {
        write(&dir.join(name), &bytes)?;
    }
    Ok(())
}

/// `cifar-10-binary.tar.gz` as the official server sends it: a gzipped tar whose members sit
/// under `cifar-10-batches-bin/`. Holds the same files `write_cifar10` writes for this seed.
pub fn cifar10_tarball(n_per_batch: usize, n_test: usize, seed: u64) -> Result<Vec<u8>, DataError> {
    let err = |e: std::io::Error| DataError::Archive {
        reason: format!("building the test tarball: {e}"),
    };
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    tar.append_data(&mut dir, format!("{CIFAR10_DIR}/"), std::io::empty())
        .map_err(err)?;
    for (name, bytes) in cifar10_members(n_per_batch, n_test, seed) {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(bytes.len() as u64);
        tar.append_data(&mut h, format!("{CIFAR10_DIR}/{name}"), bytes.as_slice())
            .map_err(err)?;
    }
    tar.into_inner().and_then(GzEncoder::finish).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_balanced_and_shuffled() {
        let labels = balanced_labels(103, &mut ChaCha8Rng::seed_from_u64(1));
        for c in 0..10u8 {
            let k = labels.iter().filter(|&&l| l == c).count();
            assert!(k == 10 || k == 11, "class {c}: {k}");
        }
        assert_ne!(&labels[..10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn classes_are_separable_by_their_block() {
        // The mean brightness inside class c's block is high only for images of class c.
        let (images, labels) = idx_bytes(200, 4);
        let px = &images[16..];
        for (i, &label) in labels[8..].iter().enumerate() {
            let img = &px[i * 784..(i + 1) * 784];
            let block_mean = |c: u8| {
                let (bx, by) = (usize::from(c % 5) * 5, usize::from(c / 5) * 14);
                let sum: u32 = (by..by + 14)
                    .flat_map(|y| (bx..bx + 5).map(move |x| y * 28 + x))
                    .map(|j| u32::from(img[j]))
                    .sum();
                sum / 70
            };
            let best = (0..10u8).max_by_key(|&c| block_mean(c));
            assert_eq!(best, Some(label));
        }
    }

    #[test]
    fn batch_has_whole_records_and_same_seed_same_bytes() {
        let b = cifar10_batch(7, 3);
        assert_eq!(b.len(), 7 * RECORD);
        assert_eq!(b, cifar10_batch(7, 3));
        assert!(b.chunks(RECORD).all(|r| r[0] < 10));
    }
}

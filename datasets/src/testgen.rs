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

/// Image encodings for [`image_folder_files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageCodec {
    Png,
    Jpeg,
    Bmp,
}

/// H·W·C pixels of image `index` of `class`: a deterministic pattern, different per class.
pub fn pattern_pixels(
    width: u32,
    height: u32,
    channels: usize,
    class: usize,
    index: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(width as usize * height as usize * channels);
    for y in 0..height as usize {
        for x in 0..width as usize {
            for c in 0..channels {
                out.push(((class * 60 + index * 7 + x * 3 + y * 5 + c * 50) % 256) as u8);
            }
        }
    }
    out
}

/// `pixels` (H·W·C, C 1 or 3) encoded as `codec`.
pub fn encode_image(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: usize,
    codec: ImageCodec,
) -> Result<Vec<u8>, DataError> {
    use image::ImageEncoder;
    let color = if channels == 3 {
        image::ExtendedColorType::Rgb8
    } else {
        image::ExtendedColorType::L8
    };
    let mut out = Vec::new();
    let result =
        match codec {
            ImageCodec::Png => image::codecs::png::PngEncoder::new(&mut out)
                .write_image(pixels, width, height, color),
            ImageCodec::Jpeg => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
                .write_image(pixels, width, height, color),
            ImageCodec::Bmp => image::codecs::bmp::BmpEncoder::new(&mut out)
                .write_image(pixels, width, height, color),
        };
    result.map_err(|e| DataError::Invalid(e.to_string()))?;
    Ok(out)
}

/// The files of an image-folder dataset as (relative path, bytes): for each of `splits` (say
/// `["train/", "test/"]`, or `[""]` for class folders at the top), `per_class` images per
/// class, named `img{index:03}.{ext}`, under `prefix` (a wrapper folder such as `"cifar/"`).
pub fn image_folder_files(
    prefix: &str,
    splits: &[&str],
    classes: &[&str],
    per_class: usize,
    (width, height): (u32, u32),
    channels: usize,
    codec: ImageCodec,
) -> Result<Vec<(String, Vec<u8>)>, DataError> {
    let ext = match codec {
        ImageCodec::Png => "png",
        ImageCodec::Jpeg => "jpg",
        ImageCodec::Bmp => "bmp",
    };
    let mut files = Vec::new();
    for (s, split) in splits.iter().enumerate() {
        for (c, class) in classes.iter().enumerate() {
            for i in 0..per_class {
                let pixels = pattern_pixels(width, height, channels, c, i + s * per_class);
                let bytes = encode_image(&pixels, width, height, channels, codec)?;
                files.push((format!("{prefix}{split}{class}/img{i:03}.{ext}"), bytes));
            }
        }
    }
    Ok(files)
}

/// Writes (relative path, bytes) files under `root`, creating folders.
pub fn write_files(root: &Path, files: &[(String, Vec<u8>)]) -> Result<(), DataError> {
    for (name, bytes) in files {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
        }
        write(&path, bytes)?;
    }
    Ok(())
}

/// A zip (deflated) of (name, bytes) files.
pub fn zip_bytes(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, DataError> {
    use zip::write::SimpleFileOptions;
    let err = |e: zip::result::ZipError| DataError::Invalid(e.to_string());
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(name.as_str(), opts).map_err(err)?;
        zip.write_all(bytes).map_err(|e| DataError::io(name, e))?;
    }
    Ok(zip.finish().map_err(err)?.into_inner())
}

/// A tar entry written as given, bypassing the tar crate's path checks, for hostile archives.
#[derive(Debug, Clone)]
pub struct RawTarEntry {
    pub name: String,
    pub kind: tar::EntryType,
    pub data: Vec<u8>,
    pub link: Option<String>,
}

/// A tar of the regular files `files` followed by the `raw` entries.
pub fn tar_bytes(files: &[(String, Vec<u8>)], raw: &[RawTarEntry]) -> Result<Vec<u8>, DataError> {
    let mut builder = tar::Builder::new(Vec::new());
    let entries = files
        .iter()
        .map(|(n, b)| RawTarEntry {
            name: n.clone(),
            kind: tar::EntryType::Regular,
            data: b.clone(),
            link: None,
        })
        .chain(raw.iter().cloned());
    for e in entries {
        let mut header = tar::Header::new_old();
        let name = e.name.as_bytes();
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name);
        if let Some(link) = &e.link {
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(e.kind);
        header.set_size(e.data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append(&header, e.data.as_slice())
            .map_err(|err| DataError::io(&e.name, err))?;
    }
    builder.into_inner().map_err(|e| DataError::io("tar", e))
}

/// A `.npy` file of `raw` little-endian values of dtype `descr` (such as `"|u1"`, `"<f4"`).
pub fn npy_bytes(descr: &str, shape: &[usize], raw: &[u8], fortran: bool) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let order = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    // NumPy pads the header with spaces to a multiple of 64 bytes, ending in a newline.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(raw);
    out
}

/// `.npy` of f32 values.
pub fn npy_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy_bytes("<f4", shape, &raw, false)
}

/// `.npy` of i64 values.
pub fn npy_i64(shape: &[usize], values: &[i64]) -> Vec<u8> {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy_bytes("<i8", shape, &raw, false)
}

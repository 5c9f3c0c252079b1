//! Tests of image folders and archives: round trips through the cache, and every refusal.

use std::path::{Path, PathBuf};

use crate::testgen::{
    ImageCodec, RawTarEntry, gzip, image_folder_files, tar_bytes, write_files, zip_bytes,
};
use crate::{
    ImportError, ImportLimits, ImportOptions, SampleKind, ValueType, Values, import, read_cache,
    read_cache_raw, read_summary, sample_grid_png, verify_cache, write_cache,
};

/// A scratch folder, removed on drop.
pub(super) struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("anneal-import-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const CLASSES: [&str; 3] = ["cat", "dog", "eel"];

fn split_files(codec: ImageCodec, channels: usize) -> Vec<(String, Vec<u8>)> {
    image_folder_files(
        "",
        &["train/", "test/"],
        &CLASSES,
        3,
        (6, 4),
        channels,
        codec,
    )
    .expect("files")
}

/// Imports, caches, reads back, and checks both agree; returns the cache hash.
fn round_trip(path: &Path, opts: &ImportOptions) -> (crate::Imported, String) {
    let imported = import(path, opts).expect("imports");
    let out = Scratch::new("cache");
    let cached = write_cache(&imported, out.path()).expect("writes cache");
    assert_eq!(cached.path, out.path().join(format!("{}.ads", cached.hash)));
    verify_cache(&cached.path, &cached.hash).expect("hash verifies");
    assert_eq!(
        read_summary(&cached.path).expect("summary"),
        imported.summary
    );
    let raw = read_cache_raw(&cached.path).expect("raw");
    assert_eq!((&raw.train, &raw.test), (&imported.train, &imported.test));
    let (summary, split) = read_cache(&cached.path).expect("reads cache");
    assert_eq!(summary, imported.summary);
    assert_eq!(split, imported.to_split());
    (imported, cached.hash)
}

#[test]
fn png_split_folders_round_trip_exactly() {
    let dir = Scratch::new("png");
    let files = split_files(ImageCodec::Png, 3);
    write_files(dir.path(), &files).expect("write");
    // Junk a Mac leaves behind is skipped.
    dir.file(".DS_Store", b"junk");
    dir.file("README.txt", b"top-level files are ignored");
    std::fs::write(dir.path().join("train/cat/._img000.png"), b"fork").expect("write");
    let (imported, hash) = round_trip(dir.path(), &ImportOptions::default());
    let s = &imported.summary;
    assert_eq!(s.shape, [3, 4, 6]);
    assert_eq!(s.kind, SampleKind::Images);
    assert_eq!(s.value_type, ValueType::U8);
    assert_eq!(s.class_names, ["cat", "dog", "eel"]);
    assert_eq!((s.train_count, s.test_count), (9, 9));
    assert_eq!(s.train_per_class, [3, 3, 3]);
    assert_eq!(s.format, "image_folder");
    // The first training image is cat/img000: its HWC pattern, laid out CHW.
    let hwc = crate::testgen::pattern_pixels(6, 4, 3, 0, 0);
    let Values::U8(x) = &imported.train.x else {
        panic!("u8 pixels")
    };
    for c in 0..3 {
        for p in 0..24 {
            assert_eq!(x[c * 24 + p], hwc[p * 3 + c]);
        }
    }
    assert_eq!(imported.train.y, [0, 0, 0, 1, 1, 1, 2, 2, 2]);
    // Deterministic: a second import gives the same bytes.
    let (_, again) = round_trip(dir.path(), &ImportOptions::default());
    assert_eq!(hash, again);
}

#[test]
fn jpeg_and_bmp_gray_and_rgb() {
    // (The BMP encoder writes gray as a palette, which decodes as RGB.)
    for (codec, channels) in [
        (ImageCodec::Jpeg, 3),
        (ImageCodec::Jpeg, 1),
        (ImageCodec::Bmp, 3),
        (ImageCodec::Png, 1),
    ] {
        let dir = Scratch::new("codec");
        write_files(dir.path(), &split_files(codec, channels)).expect("write");
        let (imported, _) = round_trip(dir.path(), &ImportOptions::default());
        assert_eq!(imported.summary.shape, [channels, 4, 6], "{codec:?}");
    }
}

#[test]
fn mixed_gray_and_rgb_become_rgb() {
    let dir = Scratch::new("mixed");
    let mut files = split_files(ImageCodec::Png, 3);
    let gray =
        image_folder_files("", &["train/"], &["cat"], 1, (6, 4), 1, ImageCodec::Png).expect("gray");
    files[0].1 = gray[0].1.clone();
    write_files(dir.path(), &files).expect("write");
    let imported = import(dir.path(), &ImportOptions::default()).expect("imports");
    assert_eq!(imported.summary.shape, [3, 4, 6]);
    let Values::U8(x) = &imported.train.x else {
        panic!("u8")
    };
    assert_eq!(x[..24], x[24..48], "gray replicated to R, G and B");
}

#[test]
fn class_folders_split_by_seed_deterministically() {
    let dir = Scratch::new("heldout");
    let files = image_folder_files("data/", &[""], &CLASSES, 10, (4, 4), 1, ImageCodec::Png)
        .expect("files");
    write_files(dir.path(), &files).expect("write");
    let opts = ImportOptions {
        held_out: 0.3,
        seed: 7,
        ..Default::default()
    };
    let (a, hash_a) = round_trip(dir.path(), &opts);
    assert_eq!(a.summary.train_per_class, [7, 7, 7]);
    assert_eq!(a.summary.test_per_class, [3, 3, 3]);
    let (_, hash_b) = round_trip(dir.path(), &opts);
    assert_eq!(hash_a, hash_b);
    let (c, _) = round_trip(dir.path(), &ImportOptions { seed: 8, ..opts });
    assert_ne!(c.test, a.test, "another seed holds out other images");
}

#[test]
fn archives_round_trip_like_the_folder() {
    let files = image_folder_files(
        "cifar/",
        &["train/", "test/"],
        &CLASSES,
        2,
        (5, 5),
        3,
        ImageCodec::Png,
    )
    .expect("files");
    let dir = Scratch::new("arch");
    write_files(&dir.path().join("tree"), &files).expect("write");
    let base = import(&dir.path().join("tree"), &ImportOptions::default()).expect("folder");
    let tar = tar_bytes(&files, &[]).expect("tar");
    for (name, bytes) in [
        ("d.zip", zip_bytes(&files).expect("zip")),
        ("d.tar", tar.clone()),
        ("d.tar.gz", gzip(&tar)),
        ("d.tgz", gzip(&tar)),
    ] {
        let path = dir.file(name, &bytes);
        let (imported, _) = round_trip(&path, &ImportOptions::default());
        assert_eq!(
            (&imported.train, &imported.test),
            (&base.train, &base.test),
            "{name}"
        );
        assert_eq!(imported.summary.class_names, base.summary.class_names);
    }
}

#[test]
fn resize_makes_sizes_agree() {
    let dir = Scratch::new("resize");
    let mut files = split_files(ImageCodec::Png, 3);
    let big =
        image_folder_files("", &["train/"], &["dog"], 1, (12, 8), 3, ImageCodec::Png).expect("big");
    files[4].1 = big[0].1.clone();
    write_files(dir.path(), &files).expect("write");
    let err = import(dir.path(), &ImportOptions::default()).expect_err("mixed sizes");
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            ImportError::MixedSizes {
                count: 1,
                majority: (6, 4),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(msg.contains("train/dog/img001.png (12×8)"), "{msg}");
    let opts = ImportOptions {
        resize: Some((3, 2)),
        ..Default::default()
    };
    assert_eq!(
        import(dir.path(), &opts).expect("resized").summary.shape,
        [3, 2, 3]
    );
}

fn import_err(path: &Path) -> (ImportError, String) {
    import_err_with(path, &ImportOptions::default())
}

fn import_err_with(path: &Path, opts: &ImportOptions) -> (ImportError, String) {
    let err = import(path, opts).expect_err("must be refused");
    let msg = err.to_string();
    (err, msg)
}

#[test]
fn corrupt_images_are_named() {
    let dir = Scratch::new("corrupt");
    let mut files = split_files(ImageCodec::Png, 3);
    files[2].1 = b"not an image".to_vec();
    files[5].1.truncate(20);
    write_files(dir.path(), &files).expect("write");
    let (err, msg) = import_err(dir.path());
    assert!(
        matches!(err, ImportError::CorruptImages { count: 2, .. }),
        "{err:?}"
    );
    assert!(
        msg.contains("train/cat/img002.png") && msg.contains("train/dog/img002.png"),
        "{msg}"
    );
}

#[test]
fn class_problems() {
    // A class folder in train but not in test.
    let dir = Scratch::new("classes");
    let mut files = split_files(ImageCodec::Png, 1);
    files.retain(|(n, _)| !n.starts_with("test/eel/"));
    write_files(dir.path(), &files).expect("write");
    let (err, msg) = import_err(dir.path());
    assert!(matches!(err, ImportError::ClassMismatch { .. }), "{err:?}");
    assert!(msg.contains("missing from test: [eel]"), "{msg}");
    // One class only.
    let one = Scratch::new("one");
    let files =
        image_folder_files("", &[""], &["cat"], 5, (4, 4), 1, ImageCodec::Png).expect("files");
    write_files(one.path(), &files).expect("write");
    let (err, _) = import_err(one.path());
    assert!(
        matches!(err, ImportError::TooFewClasses { found: 1, .. }),
        "{err:?}"
    );
    // Too few images to hold any out.
    let few = Scratch::new("few");
    let files =
        image_folder_files("", &[""], &["a", "b"], 2, (4, 4), 1, ImageCodec::Png).expect("files");
    write_files(few.path(), &files).expect("write");
    let (err, msg) = import_err(few.path());
    assert!(
        matches!(
            err,
            ImportError::NoTestSplit {
                count: 2,
                test: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(msg.contains("\"a\""), "{msg}");
    // An empty class folder has no files, so it is no class; an empty test class is a mismatch.
    let nested = Scratch::new("nested");
    let mut files = split_files(ImageCodec::Png, 1);
    files[0].0 = "train/cat/deeper/img000.png".into();
    write_files(nested.path(), &files).expect("write");
    let (err, msg) = import_err(nested.path());
    assert!(
        matches!(err, ImportError::Layout { .. }) && msg.contains("deeper"),
        "{msg}"
    );
}

fn hostile(raw: RawTarEntry) -> (ImportError, String) {
    let dir = Scratch::new("hostile");
    let files = split_files(ImageCodec::Png, 1);
    let path = dir.file(
        "evil.tar.gz",
        &gzip(&tar_bytes(&files, &[raw]).expect("tar")),
    );
    import_err(&path)
}

#[test]
fn hostile_tar_entries_are_refused() {
    let entry = |name: &str, kind, link: Option<&str>| RawTarEntry {
        name: name.into(),
        kind,
        data: if link.is_some() {
            Vec::new()
        } else {
            b"x".to_vec()
        },
        link: link.map(str::to_string),
    };
    for (raw, needle) in [
        (entry("../evil", tar::EntryType::Regular, None), "../evil"),
        (
            entry("train/../../evil", tar::EntryType::Regular, None),
            "..",
        ),
        (
            entry("/etc/evil", tar::EntryType::Regular, None),
            "/etc/evil",
        ),
        (
            entry(
                "train/cat/link.png",
                tar::EntryType::Symlink,
                Some("/etc/passwd"),
            ),
            "link.png",
        ),
        (
            entry(
                "train/cat/hard.png",
                tar::EntryType::Link,
                Some("train/cat/img000.png"),
            ),
            "hard.png",
        ),
    ] {
        let (err, msg) = hostile(raw);
        assert!(matches!(err, ImportError::UnsafeEntry { .. }), "{err:?}");
        assert!(msg.contains(needle) && msg.contains("evil.tar.gz"), "{msg}");
    }
}

#[test]
fn hostile_zip_entries_are_refused() {
    let dir = Scratch::new("zip");
    let mut files = split_files(ImageCodec::Png, 1);
    files.push(("../evil.png".into(), b"x".to_vec()));
    let path = dir.file("evil.zip", &zip_bytes(&files).expect("zip"));
    let (err, msg) = import_err(&path);
    assert!(
        matches!(err, ImportError::UnsafeEntry { .. }) && msg.contains("../evil.png"),
        "{msg}"
    );
    // A symbolic link.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.add_symlink(
        "train/cat/x.png",
        "/etc/passwd",
        zip::write::SimpleFileOptions::default(),
    )
    .expect("symlink");
    let bytes = zip.finish().expect("zip").into_inner();
    let path = dir.file("link.zip", &bytes);
    let (err, msg) = import_err(&path);
    assert!(
        matches!(err, ImportError::UnsafeEntry { .. }) && msg.contains("x.png"),
        "{msg}"
    );
}

#[test]
fn archive_limits_stop_early() {
    let dir = Scratch::new("limits");
    let files = split_files(ImageCodec::Png, 1);
    let tar = tar_bytes(&files, &[]).expect("tar");
    let path = dir.file("d.tar.gz", &gzip(&tar));
    let zip = dir.file("d.zip", &zip_bytes(&files).expect("zip"));
    for p in [&path, &zip] {
        let opts = ImportOptions {
            limits: ImportLimits {
                max_files: 5,
                max_unpacked_bytes: 1 << 30,
            },
            ..Default::default()
        };
        let (err, msg) = import_err_with(p, &opts);
        assert!(
            matches!(
                err,
                ImportError::LimitExceeded {
                    what: "files",
                    limit: 5,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(msg.contains("more than 5 files"), "{msg}");
        let opts = ImportOptions {
            limits: ImportLimits {
                max_files: 100,
                max_unpacked_bytes: 300,
            },
            ..Default::default()
        };
        let (err, _) = import_err_with(p, &opts);
        assert!(
            matches!(
                err,
                ImportError::LimitExceeded {
                    what: "bytes unpacked",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn truncated_archives_are_errors() {
    let dir = Scratch::new("trunc");
    let files = split_files(ImageCodec::Png, 1);
    let tar = tar_bytes(&files, &[]).expect("tar");
    let gz = gzip(&tar);
    let cut_gz = dir.file("cut.tar.gz", &gz[..gz.len() / 2]);
    let (err, msg) = import_err(&cut_gz);
    assert!(
        matches!(err, ImportError::Truncated { .. }) && msg.contains("cut.tar.gz"),
        "{msg}"
    );
    // Cut just before the gzip trailer: every entry is whole, the CRC is missing.
    let (err, _) = import_err(&dir.file("tail.tar.gz", &gz[..gz.len() - 4]));
    assert!(matches!(err, ImportError::Truncated { .. }), "{err:?}");
    // A plain tar cut at an entry boundary (no end-of-archive block), and mid-entry.
    let (err, _) = import_err(&dir.file("cut.tar", &tar[..1024]));
    assert!(matches!(err, ImportError::Truncated { .. }), "{err:?}");
    let (err, _) = import_err(&dir.file("mid.tar", &tar[..700]));
    assert!(matches!(err, ImportError::Truncated { .. }), "{err:?}");
    let zip = zip_bytes(&files).expect("zip");
    let (err, _) = import_err(&dir.file("cut.zip", &zip[..zip.len() / 2]));
    assert!(matches!(err, ImportError::Truncated { .. }), "{err:?}");
}

#[test]
fn failed_write_leaves_nothing_behind() {
    let dir = Scratch::new("fail");
    write_files(dir.path(), &split_files(ImageCodec::Png, 1)).expect("write");
    let imported = import(dir.path(), &ImportOptions::default()).expect("imports");
    let first = Scratch::new("first");
    let hash = write_cache(&imported, first.path()).expect("writes").hash;
    // A folder where the cache file should go makes the final rename fail.
    let dest = Scratch::new("dest");
    std::fs::create_dir(dest.path().join(format!("{hash}.ads"))).expect("mkdir");
    std::fs::write(dest.path().join(format!("{hash}.ads/keep")), b"x").expect("write");
    write_cache(&imported, dest.path()).expect_err("rename fails");
    let left: Vec<_> = std::fs::read_dir(dest.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from(format!("{hash}.ads"))]);
    // A missing destination fails before anything is written.
    write_cache(&imported, &dest.path().join("absent")).expect_err("no such dir");
}

#[test]
fn damaged_cache_files_are_refused() {
    let dir = Scratch::new("damaged");
    write_files(dir.path(), &split_files(ImageCodec::Png, 1)).expect("write");
    let imported = import(dir.path(), &ImportOptions::default()).expect("imports");
    let out = Scratch::new("damaged-out");
    let cached = write_cache(&imported, out.path()).expect("writes");
    let bytes = std::fs::read(&cached.path).expect("read");
    let cut = out.file("cut.ads", &bytes[..bytes.len() - 1]);
    assert!(matches!(
        read_cache(&cut),
        Err(crate::DataError::Truncated { .. })
    ));
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(
        read_cache(&out.file("bad.ads", &bad)),
        Err(crate::DataError::Corrupt { .. })
    ));
    let err = verify_cache(&cut, &cached.hash).expect_err("hash differs");
    assert!(err.to_string().contains(&cached.hash), "{err}");
}

#[test]
fn thumbnail_grid_has_a_row_per_class() {
    let dir = Scratch::new("thumbs");
    write_files(dir.path(), &split_files(ImageCodec::Png, 3)).expect("write");
    let imported = import(dir.path(), &ImportOptions::default()).expect("imports");
    let png = sample_grid_png(&imported, 2, 2).expect("png");
    let img = image::load_from_memory(&png).expect("decodes").into_rgb8();
    // 2 per class of 6×4 at scale 2 with 2-pixel gaps; 3 classes.
    assert_eq!((img.width(), img.height()), (2 + 2 * 14, 2 + 3 * 10));
    assert_eq!(
        png,
        sample_grid_png(&imported, 2, 2).expect("again"),
        "deterministic"
    );
    // Top-left pixel of the first cell is cat/img000's first pixel.
    let hwc = crate::testgen::pattern_pixels(6, 4, 3, 0, 0);
    assert_eq!(img.get_pixel(2, 2).0, [hwc[0], hwc[1], hwc[2]]);
}

#[test]
fn formats_are_detected_from_the_path() {
    use crate::Format;
    let dir = Scratch::new("detect");
    for (name, format) in [
        ("a.zip", Format::Zip),
        ("a.tar", Format::Tar),
        ("a.TAR.GZ", Format::TarGz),
        ("a.tgz", Format::TarGz),
        ("a.npz", Format::Npz),
        ("a.csv", Format::Csv),
    ] {
        assert_eq!(Format::detect(&dir.file(name, b"")).expect(name), format);
    }
    assert_eq!(
        Format::detect(dir.path()).expect("dir"),
        Format::ImageFolder
    );
    dir.file("x.npy", b"");
    assert_eq!(Format::detect(dir.path()).expect("dir"), Format::Npy);
    let (err, msg) = import_err(&dir.file("a.rar", b""));
    assert!(
        matches!(err, ImportError::UnknownFormat { .. }) && msg.contains("a.rar"),
        "{msg}"
    );
    let (err, _) = import_err_with(
        dir.path(),
        &ImportOptions {
            held_out: 1.0,
            ..Default::default()
        },
    );
    assert!(
        matches!(
            err,
            ImportError::InvalidOption {
                name: "held_out",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn windows_separators_in_zips_are_folders() {
    let dir = Scratch::new("win");
    let files: Vec<(String, Vec<u8>)> = split_files(ImageCodec::Png, 1)
        .into_iter()
        .map(|(n, b)| (n.replace('/', "\\"), b))
        .collect();
    let path = dir.file("win.zip", &zip_bytes(&files).expect("zip"));
    let imported = import(&path, &ImportOptions::default()).expect("imports");
    assert_eq!(imported.summary.class_names, CLASSES);
}

//! Tests of NumPy arrays and CSV tables: round trips through the cache, and every refusal.

use std::path::Path;

use super::tests_folder::Scratch;
use crate::testgen::{npy_bytes, npy_f32, npy_i64, zip_bytes};
use crate::{
    ImportError, ImportOptions, SampleKind, ValueType, Values, import, read_cache, write_cache,
};

fn round_trip(path: &Path, opts: &ImportOptions) -> (crate::Imported, String) {
    let imported = import(path, opts).expect("imports");
    let out = Scratch::new("arr-cache");
    let cached = write_cache(&imported, out.path()).expect("writes");
    let (summary, split) = read_cache(&cached.path).expect("reads");
    assert_eq!(summary, imported.summary);
    assert_eq!(split, imported.to_split());
    (imported, cached.hash)
}

fn err_of(path: &Path, opts: &ImportOptions) -> (ImportError, String) {
    let err = import(path, opts).expect_err("must be refused");
    let msg = err.to_string();
    (err, msg)
}

/// 10 samples, labels 0,1,0,1…
fn labels10() -> Vec<i64> {
    (0..10).map(|i| i % 2).collect()
}

#[test]
fn npy_pair_u8_nhwc_images() {
    let dir = Scratch::new("npy");
    let x: Vec<u8> = (0..10 * 2 * 2 * 3).map(|v| v as u8).collect();
    dir.file("x.npy", &npy_bytes("|u1", &[10, 2, 2, 3], &x, false));
    dir.file("y.npy", &npy_i64(&[10], &labels10()));
    let (imported, hash) = round_trip(dir.path(), &ImportOptions::default());
    let s = &imported.summary;
    assert_eq!(
        (s.kind, s.shape, s.value_type),
        (SampleKind::Images, [3, 2, 2], ValueType::U8)
    );
    assert_eq!(s.class_names, ["0", "1"]);
    assert_eq!((s.train_count, s.test_count), (8, 2));
    assert_eq!(s.format, "npy");
    let (_, again) = round_trip(dir.path(), &ImportOptions::default());
    crate::sample_grid_png(&imported, 2, 1).expect("arrays of images have thumbnails");
    assert_eq!(hash, again);
    let Values::U8(v) = &imported.train.x else {
        panic!("u8")
    };
    // Whatever sample comes first, its R plane is every third byte of its HWC block.
    let k = v[0] as usize / 12;
    assert_eq!(
        v[..4],
        [x[k * 12], x[k * 12 + 3], x[k * 12 + 6], x[k * 12 + 9]]
    );
}

#[test]
fn npy_split_files_and_shapes() {
    let dir = Scratch::new("npy-split");
    let x: Vec<f32> = (0..6 * 5).map(|v| v as f32 / 30.0).collect();
    dir.file("train_x.npy", &npy_f32(&[6, 5], &x));
    dir.file("train_y.npy", &npy_i64(&[6], &[0, 1, 2, 0, 1, 2]));
    dir.file("test_x.npy", &npy_f32(&[3, 5], &x[..15]));
    dir.file("test_y.npy", &npy_bytes("|u1", &[3], &[2, 1, 0], false));
    let (imported, _) = round_trip(dir.path(), &ImportOptions::default());
    let s = &imported.summary;
    assert_eq!(
        (s.kind, s.shape, s.value_type),
        (SampleKind::Features, [1, 1, 5], ValueType::F32)
    );
    assert_eq!(imported.train.x, Values::F32(x.clone()));
    assert_eq!(imported.test.y, [2, 1, 0]);
    let err = crate::sample_grid_png(&imported, 2, 1).expect_err("no pixels");
    assert!(matches!(err, ImportError::NotImages { .. }), "{err:?}");
    // (N, C, H, W) with C = 1 and (N, H, W).
    for shape in [[6usize, 1, 1, 5], [6, 1, 5, 1]] {
        dir.file("train_x.npy", &npy_f32(&shape, &x));
        let t: Vec<usize> = shape.iter().map(|&d| if d == 6 { 3 } else { d }).collect();
        dir.file("test_x.npy", &npy_f32(&t, &x[..15]));
        let imported = import(dir.path(), &ImportOptions::default()).expect("imports");
        assert_eq!(imported.summary.kind, SampleKind::Images);
        assert_eq!(imported.summary.shape.iter().product::<usize>(), 5);
    }
}

#[test]
fn npz_with_split_and_held_out() {
    let dir = Scratch::new("npz");
    let x: Vec<f32> = (0..10 * 4 * 4).map(|v| (v % 7) as f32).collect();
    let held = zip_bytes(&[
        ("x.npy".into(), npy_f32(&[10, 4, 4], &x)),
        ("y.npy".into(), npy_i64(&[10], &labels10())),
    ])
    .expect("zip");
    let (a, _) = round_trip(&dir.file("held.npz", &held), &ImportOptions::default());
    assert_eq!(
        (a.summary.shape, a.summary.format.as_str()),
        ([1, 4, 4], "npz")
    );
    let split = zip_bytes(&[
        ("x_train.npy".into(), npy_f32(&[10, 4, 4], &x)),
        ("y_train.npy".into(), npy_i64(&[10], &labels10())),
        ("x_test.npy".into(), npy_f32(&[2, 4, 4], &x[..32])),
        ("y_test.npy".into(), npy_i64(&[2], &[1, 0])),
    ])
    .expect("zip");
    let (b, _) = round_trip(&dir.file("split.npz", &split), &ImportOptions::default());
    assert_eq!((b.summary.train_count, b.summary.test_count), (10, 2));
}

#[test]
fn bad_arrays_are_refused_with_the_file_named() {
    let dir = Scratch::new("npy-bad");
    let x = vec![0.5f32; 10 * 3];
    dir.file("x.npy", &npy_f32(&[10, 3], &x));
    let opts = ImportOptions::default();
    // Labels out of range, negative, non-integer.
    for (y, needle) in [
        (npy_i64(&[10], &[0, 1, 0, 1, 300, 1, 0, 1, 0, 1]), "300"),
        (npy_i64(&[10], &[0, 1, 0, -1, 0, 1, 0, 1, 0, 1]), "-1"),
        (
            npy_f32(&[10], &[0.0, 1.0, 0.5, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]),
            "0.5",
        ),
    ] {
        dir.file("y.npy", &y);
        let (err, msg) = err_of(dir.path(), &opts);
        assert!(matches!(err, ImportError::BadLabel { .. }), "{err:?}");
        assert!(msg.contains("y.npy") && msg.contains(needle), "{msg}");
    }
    // A class with no samples (labels 0 and 2 only).
    dir.file("y.npy", &npy_i64(&[10], &[0, 2, 0, 2, 0, 2, 0, 2, 0, 2]));
    let (err, _) = err_of(dir.path(), &opts);
    assert!(
        matches!(err, ImportError::EmptyClass { ref class, .. } if class == "1"),
        "{err:?}"
    );
    // Count mismatch.
    dir.file("y.npy", &npy_i64(&[9], &labels10()[..9]));
    let (err, _) = err_of(dir.path(), &opts);
    assert!(
        matches!(
            err,
            ImportError::CountMismatch {
                n_x: 10,
                n_y: 9,
                ..
            }
        ),
        "{err:?}"
    );
    dir.file("y.npy", &npy_i64(&[10], &labels10()));
    // NaN, Fortran order, truncation, an unsupported dtype.
    let mut nan = x.clone();
    nan[7] = f32::NAN;
    dir.file("x.npy", &npy_f32(&[10, 3], &nan));
    let (err, msg) = err_of(dir.path(), &opts);
    assert!(
        matches!(err, ImportError::NonFinite { .. })
            && msg.contains("flat index 7 (sample 2)")
            && msg.contains("x.npy"),
        "{msg}"
    );
    let raw: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    dir.file("x.npy", &npy_bytes("<f4", &[10, 3], &raw, true));
    let (err, msg) = err_of(dir.path(), &opts);
    assert!(
        matches!(err, ImportError::Malformed { .. }) && msg.contains("Fortran"),
        "{msg}"
    );
    dir.file("x.npy", &npy_bytes("<f4", &[10, 3], &raw[..50], false));
    let (err, msg) = err_of(dir.path(), &opts);
    assert!(
        matches!(err, ImportError::Truncated { .. }) && msg.contains("x.npy"),
        "{msg}"
    );
    dir.file("x.npy", &npy_bytes("<c8", &[10, 3], &raw, false));
    let (err, msg) = err_of(dir.path(), &opts);
    assert!(
        matches!(err, ImportError::Malformed { .. }) && msg.contains("c8"),
        "{msg}"
    );
    dir.file("x.npy", &npy_f32(&[10, 3, 2, 2, 1], &[0.0; 120]));
    let (err, msg) = err_of(dir.path(), &opts);
    assert!(
        matches!(err, ImportError::Malformed { .. }) && msg.contains("shape"),
        "{msg}"
    );
}

const CSV: &str = "a,b,species\n1,2,setosa\n1.5,2.5,virginica\n\"3\",4,setosa\n5,6,virginica\n7,8,setosa\n9,10,virginica\n1,1,setosa\n2,2,virginica\n3,3,setosa\n4,4,virginica\n";

#[test]
fn csv_with_named_classes() {
    let dir = Scratch::new("csv");
    let path = dir.file("iris.csv", CSV.as_bytes());
    let opts = ImportOptions {
        label_column: "species".into(),
        ..Default::default()
    };
    let (imported, hash) = round_trip(&path, &opts);
    let s = &imported.summary;
    assert_eq!(
        (s.kind, s.shape, s.value_type),
        (SampleKind::Features, [1, 1, 2], ValueType::F32)
    );
    assert_eq!(s.class_names, ["setosa", "virginica"]);
    assert_eq!((s.train_count, s.test_count), (8, 2));
    assert_eq!(s.format, "csv");
    assert_eq!(round_trip(&path, &opts).1, hash);
    // Integer labels are class indices.
    let ints = CSV.replace("setosa", "0").replace("virginica", "1");
    let (imported, _) = round_trip(&dir.file("ints.csv", ints.as_bytes()), &opts);
    assert_eq!(imported.summary.class_names, ["0", "1"]);
}

#[test]
fn bad_csv_is_refused_with_row_and_column() {
    let dir = Scratch::new("csv-bad");
    let path = dir.file("t.csv", CSV.as_bytes());
    let (err, msg) = err_of(&path, &ImportOptions::default());
    assert!(
        matches!(err, ImportError::MissingLabelColumn { .. }),
        "{err:?}"
    );
    assert!(
        msg.contains("\"label\"") && msg.contains("a, b, species"),
        "{msg}"
    );
    let opts = ImportOptions {
        label_column: "species".into(),
        ..Default::default()
    };
    let (err, msg) = err_of(
        &dir.file("t.csv", CSV.replace("1.5,", "wide,").as_bytes()),
        &opts,
    );
    assert!(
        matches!(err, ImportError::NonNumeric { row: 3, .. })
            && msg.contains("\"a\"")
            && msg.contains("wide"),
        "{msg}"
    );
    let (err, msg) = err_of(
        &dir.file("t.csv", CSV.replace("1.5,", "NaN,").as_bytes()),
        &opts,
    );
    assert!(
        matches!(err, ImportError::NonFinite { .. }) && msg.contains("row 3"),
        "{msg}"
    );
    let ints = CSV.replace("setosa", "0").replace("virginica", "1");
    let (err, msg) = err_of(
        &dir.file("t.csv", ints.replacen(",1\n", ",-1\n", 1).as_bytes()),
        &opts,
    );
    assert!(
        matches!(err, ImportError::BadLabel { .. }) && msg.contains("-1"),
        "{msg}"
    );
    let (err, _) = err_of(
        &dir.file("t.csv", ints.replacen(",1\n", ",1.5\n", 1).as_bytes()),
        &opts,
    );
    assert!(matches!(err, ImportError::BadLabel { .. }), "{err:?}");
    let (err, _) = err_of(
        &dir.file("t.csv", CSV.replace("5,6,", "5,").as_bytes()),
        &opts,
    );
    assert!(matches!(err, ImportError::Malformed { .. }), "{err:?}");
    let one = "x,label\n1,a\n2,a\n3,a\n";
    let (err, _) = err_of(
        &dir.file("t.csv", one.as_bytes()),
        &ImportOptions::default(),
    );
    assert!(matches!(err, ImportError::TooFewClasses { .. }), "{err:?}");
}

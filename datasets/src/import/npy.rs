//! NumPy arrays: a small `.npy` reader (C order, little endian; u1, i1/i2/i4/i8, u2/u4/u8, f4,
//! f8) and the `.npy` pairs and `.npz` archives holding `x`/`y` or `x_train`…`y_test`.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::archive::{read_limited, read_zip};
use super::{
    Format, ImportError, ImportOptions, ImportTimings, Imported, SampleKind, SplitData, Values,
    assemble, held_out_split,
};

/// An array's values, widened to one type per family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NpyData {
    U8(Vec<u8>),
    Int(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NpyArray {
    pub shape: Vec<usize>,
    pub data: NpyData,
}

/// The value of `key` in the header's Python dict literal, up to the next top-level comma.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim())
}

/// Parses a whole `.npy` file; `name` is used in errors.
pub(crate) fn parse_npy(name: &Path, bytes: &[u8]) -> Result<NpyArray, ImportError> {
    let bad = |reason: String| ImportError::malformed(name, reason);
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a NumPy .npy file (bad magic)".into()));
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => {
            let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (n as usize, 12)
        }
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or_else(|| ImportError::Truncated {
            path: name.into(),
            reason: "the .npy header is cut off".into(),
        })?;
    let header = String::from_utf8_lossy(header);
    let descr = dict_value(&header, "descr")
        .map(|d| d.trim_matches(['\'', '"']).to_string())
        .ok_or_else(|| bad("the .npy header has no 'descr'".into()))?;
    if dict_value(&header, "fortran_order") == Some("True") {
        return Err(bad(
            "the array is stored in Fortran order; save it with np.ascontiguousarray(x) first"
                .into(),
        ));
    }
    let shape_text =
        dict_value(&header, "shape").ok_or_else(|| bad("the .npy header has no 'shape'".into()))?;
    let shape = shape_text
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(format!("bad shape {shape_text}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let (order, code) = descr.split_at(1.min(descr.len()));
    if order == ">" {
        return Err(bad(format!(
            "big-endian dtype {descr}; convert with x.astype('<{code}')"
        )));
    }
    if !matches!(order, "<" | "|" | "=") {
        return Err(bad(format!("unsupported dtype {descr}")));
    }
    let width = match code {
        "u1" | "i1" | "b1" => 1,
        "i2" | "u2" => 2,
        "i4" | "u4" | "f4" => 4,
        "i8" | "u8" | "f8" => 8,
        _ => {
            return Err(bad(format!(
                "unsupported dtype {descr} (use uint8, int8/16/32/64, float32 or float64)"
            )));
        }
    };
    let body = &bytes[start + header_len..];
    let want = count.and_then(|c| c.checked_mul(width));
    if want != Some(body.len()) {
        return Err(ImportError::Truncated {
            path: name.into(),
            reason: format!(
                "shape {shape_text} of {descr} needs {want:?} bytes of data, the file has {}",
                body.len()
            ),
        });
    }
    Ok(NpyArray {
        shape,
        data: decode_body(code, body),
    })
}

/// The little-endian values of dtype `code`, whose length the caller has checked.
fn decode_body(code: &str, body: &[u8]) -> NpyData {
    let words = |w: usize| body.chunks_exact(w);
    match code {
        "u1" | "b1" => NpyData::U8(body.to_vec()),
        "i1" => NpyData::Int(body.iter().map(|&b| i64::from(b as i8)).collect()),
        "i2" => NpyData::Int(
            words(2)
                .map(|b| i64::from(i16::from_le_bytes([b[0], b[1]])))
                .collect(),
        ),
        "u2" => NpyData::Int(
            words(2)
                .map(|b| i64::from(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
        ),
        "i4" => NpyData::Int(
            words(4)
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
        ),
        "u4" => NpyData::Int(
            words(4)
                .map(|b| i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
        ),
        "i8" | "u8" => NpyData::Int(
            words(8)
                .map(|b| {
                    let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
                    if code == "u8" {
                        i64::try_from(u64::from_le_bytes(a)).unwrap_or(i64::MAX)
                    } else {
                        i64::from_le_bytes(a)
                    }
                })
                .collect(),
        ),
        "f4" => NpyData::F32(
            words(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        _ => NpyData::F64(
            words(8)
                .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect(),
        ),
    }
}

/// Whether `dir` holds an `x.npy`/`y.npy` or `train_x.npy`/`train_y.npy` pair.
pub(crate) fn has_npy_pair(dir: &Path) -> bool {
    ["x.npy", "train_x.npy"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// The x array as samples of shape [C, H, W], C·H·W order.
fn samples(name: &Path, x: NpyArray) -> Result<(SampleKind, [usize; 3], Values), ImportError> {
    let s = &x.shape;
    let (kind, shape, nhwc) = match s.len() {
        2 => (SampleKind::Features, [1, 1, s[1]], false),
        3 => (SampleKind::Images, [1, s[1], s[2]], false),
        4 if matches!(s[3], 1 | 3) => (SampleKind::Images, [s[3], s[1], s[2]], true),
        4 if matches!(s[1], 1 | 3) => (SampleKind::Images, [s[1], s[2], s[3]], false),
        _ => {
            return Err(ImportError::malformed(
                name,
                format!(
                    "x has shape {s:?}; expected (N,F) features, (N,H,W) gray images, or (N,H,W,C)/(N,C,H,W) images with C 1 or 3"
                ),
            ));
        }
    };
    let values = match x.data {
        NpyData::U8(v) => Values::U8(v),
        NpyData::F32(v) => Values::F32(v),
        NpyData::F64(v) => Values::F32(v.into_iter().map(|f| f as f32).collect()),
        NpyData::Int(v) => Values::F32(v.into_iter().map(|i| i as f32).collect()),
    };
    if let Values::F32(v) = &values
        && let Some(i) = v.iter().position(|f| !f.is_finite())
    {
        let sample = shape.iter().product::<usize>().max(1);
        return Err(ImportError::NonFinite {
            path: name.into(),
            location: format!("flat index {i} (sample {})", i / sample),
            value: format!("{}", v[i]),
        });
    }
    let values = if nhwc && shape[0] == 3 {
        to_chw(values, shape)
    } else {
        values
    };
    Ok((kind, shape, values))
}

/// N·H·W·C to N·C·H·W.
fn to_chw(values: Values, [c, h, w]: [usize; 3]) -> Values {
    fn go<T: Copy>(v: &[T], c: usize, plane: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(v.len());
        for s in v.chunks_exact(c * plane) {
            for ch in 0..c {
                out.extend(s.iter().skip(ch).step_by(c));
            }
        }
        out
    }
    match values {
        Values::U8(v) => Values::U8(go(&v, c, h * w)),
        Values::F32(v) => Values::F32(go(&v, c, h * w)),
    }
}

/// Integer class labels from a y array.
fn labels(name: &Path, y: NpyArray) -> Result<Vec<u8>, ImportError> {
    if y.shape.len() != 1 && !(y.shape.len() == 2 && y.shape[1] == 1) {
        return Err(ImportError::malformed(
            name,
            format!("y has shape {:?}; expected (N,) integer labels", y.shape),
        ));
    }
    let bad = |index: usize, reason: String| ImportError::BadLabel {
        path: name.into(),
        index,
        reason,
    };
    let check = |i: usize, v: i64| -> Result<u8, ImportError> {
        u8::try_from(v).map_err(|_| {
            bad(
                i,
                format!("{v} is outside 0..=255 (labels are class indices 0..K-1)"),
            )
        })
    };
    let float = |i: usize, f: f64| -> Result<u8, ImportError> {
        if !f.is_finite() || f.fract() != 0.0 {
            return Err(bad(i, format!("{f} is not an integer class index")));
        }
        check(i, f as i64)
    };
    match y.data {
        NpyData::U8(v) => Ok(v),
        NpyData::Int(v) => v.iter().enumerate().map(|(i, &l)| check(i, l)).collect(),
        NpyData::F32(v) => v
            .iter()
            .enumerate()
            .map(|(i, &f)| float(i, f64::from(f)))
            .collect(),
        NpyData::F64(v) => v.iter().enumerate().map(|(i, &f)| float(i, f)).collect(),
    }
}

/// A loaded (x, y) pair with the paths to name in errors.
struct Pair {
    x_name: PathBuf,
    y_name: PathBuf,
    kind: SampleKind,
    shape: [usize; 3],
    x: Values,
    y: Vec<u8>,
}

fn pair(x_name: PathBuf, x: NpyArray, y_name: PathBuf, y: NpyArray) -> Result<Pair, ImportError> {
    let n_x = x.shape.first().copied().unwrap_or(0);
    let (kind, shape, x) = samples(&x_name, x)?;
    let y = labels(&y_name, y)?;
    if n_x != y.len() {
        return Err(ImportError::CountMismatch {
            x: x_name,
            y: y_name,
            n_x,
            n_y: y.len(),
        });
    }
    Ok(Pair {
        x_name,
        y_name,
        kind,
        shape,
        x,
        y,
    })
}

/// The `.npy` arrays of a folder or `.npz` as (key such as `x_train`, path for errors, bytes).
fn read_arrays(
    path: &Path,
    format: Format,
    opts: &ImportOptions,
) -> Result<Vec<(String, PathBuf, Vec<u8>)>, ImportError> {
    let files = match format {
        Format::Npz => {
            let bytes = read_limited(path, &opts.limits)?;
            read_zip(path, Cursor::new(bytes), &opts.limits, |n| {
                n.ends_with(".npy")
            })?
            .into_iter()
            .map(|f| {
                let key = f.path.trim_end_matches(".npy").to_string();
                (key, path.join(&f.path), f.bytes)
            })
            .collect()
        }
        _ => ["x", "y", "train_x", "train_y", "test_x", "test_y"]
            .iter()
            .filter_map(|k| {
                let p = path.join(format!("{k}.npy"));
                p.is_file()
                    .then(|| read_limited(&p, &opts.limits).map(|b| (k.to_string(), p.clone(), b)))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(files)
}

/// Imports a `.npy` folder or an `.npz`: a train/test pair of arrays, or x and y split by
/// the held-out fraction. Classes are named `0`..`K-1`, K one more than the largest label.
pub(crate) fn import(
    path: &Path,
    format: Format,
    opts: &ImportOptions,
) -> Result<Imported, ImportError> {
    let started = Instant::now();
    let files = read_arrays(path, format, opts)?;
    let read = started.elapsed();
    let started = Instant::now();
    let get = |keys: &[&str]| -> Option<(PathBuf, Result<NpyArray, ImportError>)> {
        let i = files.iter().position(|f| keys.contains(&f.0.as_str()))?;
        Some((files[i].1.clone(), parse_npy(&files[i].1, &files[i].2)))
    };
    let load = |xk: &[&str], yk: &[&str]| -> Result<Option<Pair>, ImportError> {
        match (get(xk), get(yk)) {
            (Some((xn, x)), Some((yn, y))) => pair(xn, x?, yn, y?).map(Some),
            (None, None) => Ok(None),
            (Some((n, _)), None) | (None, Some((n, _))) => Err(ImportError::malformed(
                n,
                "found without its partner (x needs y)",
            )),
        }
    };
    let split = load(&["train_x", "x_train"], &["train_y", "y_train"])?;
    let test = load(&["test_x", "x_test"], &["test_y", "y_test"])?;
    let whole = load(&["x"], &["y"])?;
    let decode = started.elapsed();
    let timings = ImportTimings {
        read,
        decode,
        ..Default::default()
    };
    match (split, test, whole) {
        (Some(train), Some(test), _) => {
            if test.shape != train.shape || test.x.value_type() != train.x.value_type() {
                return Err(ImportError::malformed(
                    test.x_name,
                    format!(
                        "test samples are {:?} {:?}, training samples {:?} {:?}",
                        test.shape,
                        test.x.value_type(),
                        train.shape,
                        train.x.value_type()
                    ),
                ));
            }
            let k = train
                .y
                .iter()
                .chain(&test.y)
                .max()
                .map_or(0, |&m| usize::from(m) + 1);
            let classes: Vec<String> = (0..k).map(|c| c.to_string()).collect();
            let _ = &train.y_name;
            let (tr, te) = (
                SplitData {
                    x: train.x,
                    y: train.y,
                },
                SplitData {
                    x: test.x,
                    y: test.y,
                },
            );
            assemble(train.kind, train.shape, classes, tr, te, format, timings)
        }
        (None, None, Some(all)) => {
            let k = all.y.iter().max().map_or(0, |&m| usize::from(m) + 1);
            let classes: Vec<String> = (0..k).map(|c| c.to_string()).collect();
            let t = Instant::now();
            let (tr, te) = held_out_split(&all.y, &classes, opts)?;
            let size: usize = all.shape.iter().product();
            let take = |idx: &[usize]| SplitData {
                x: all.x.gather(idx, size),
                y: idx.iter().map(|&i| all.y[i]).collect(),
            };
            let (train, test) = (take(&tr), take(&te));
            let timings = ImportTimings {
                stats: t.elapsed(),
                ..timings
            };
            assemble(all.kind, all.shape, classes, train, test, format, timings)
        }
        _ => Err(ImportError::malformed(
            path,
            "expected x and y, or train_x/x_train, train_y/y_train, test_x/x_test and test_y/y_test arrays",
        )),
    }
}

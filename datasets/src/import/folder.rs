//! Image-folder datasets: `train/<class>/*` + `test/<class>/*`, or `<class>/*` split by a seeded
//! held-out fraction, possibly inside one wrapper folder; PNG, JPEG and BMP decoded in parallel.
//!
//! Files at the top of the tree and folders next to `train/` and `test/` (a `val/`, say) are
//! ignored. Classes are the sorted class-folder names; files are taken in name order, so the
//! same input always gives the same dataset.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use image::imageops::FilterType;
use rayon::prelude::*;

use super::archive::FileEntry;
use super::{
    Format, ImportError, ImportOptions, ImportTimings, Imported, SampleKind, SplitData, Values,
    assemble, held_out_split,
};

/// How many offending names an error lists.
const SHOWN: usize = 10;

/// One image file of the dataset: which split (0 train, 1 test, 2 to be split), class, file.
struct Item {
    split: u8,
    class: u8,
    file: usize,
}

/// The files' split and class, from their paths.
fn layout(root: &Path, files: &[FileEntry]) -> Result<(Vec<String>, Vec<Item>), ImportError> {
    let parts: Vec<Vec<&str>> = files.iter().map(|f| f.path.split('/').collect()).collect();
    let mut depth = 0;
    // Descend through wrapper folders: a level with a single folder that holds only folders.
    loop {
        let dirs: BTreeSet<&str> = parts
            .iter()
            .filter(|p| p.len() > depth + 1)
            .map(|p| p[depth])
            .collect();
        let only = dirs.iter().next().copied();
        let direct_files = parts
            .iter()
            .any(|p| p.len() == depth + 2 && p.last().is_some_and(|l| !l.is_empty()));
        if dirs.len() == 1 && !is_split_name(only) && !direct_files && depth < 8 {
            depth += 1;
        } else {
            break;
        }
    }
    let level: BTreeSet<&str> = parts
        .iter()
        .filter(|p| p.len() > depth + 1)
        .map(|p| p[depth])
        .collect();
    let train = level.iter().find(|d| d.eq_ignore_ascii_case("train"));
    let test = level.iter().find(|d| d.eq_ignore_ascii_case("test"));
    let split_dirs = match (train, test) {
        (Some(a), Some(b)) => Some([*a, *b]),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(ImportError::Layout {
                path: root.into(),
                reason: "found only one of train/ and test/; provide both, or put the class folders at the top for a held-out split".into(),
            });
        }
    };
    // (split, class name, file index) for every image file; (split, class) for class folders.
    let mut found: Vec<(u8, &str, usize)> = Vec::new();
    let mut folders: BTreeSet<(u8, &str)> = BTreeSet::new();
    for (i, p) in parts.iter().enumerate() {
        let rest = &p[depth.min(p.len())..];
        let (split, rest) = match split_dirs {
            Some(dirs) => match dirs.iter().position(|d| rest.first() == Some(d)) {
                Some(s) => (s as u8, &rest[1..]),
                None => continue,
            },
            None => (2, rest),
        };
        match rest.len() {
            0 | 1 => continue,
            // A folder's own entry: the class exists, whether or not it holds any image.
            2 if rest[1].is_empty() => {
                folders.insert((split, rest[0]));
            }
            3 if rest[2].is_empty() => {
                return Err(ImportError::Layout {
                    path: root.into(),
                    reason: format!(
                        "{}: folders inside a class folder are not supported (expected <class>/<image>)",
                        files[i].path
                    ),
                });
            }
            2 => found.push((split, rest[0], i)),
            _ => {
                return Err(ImportError::Layout {
                    path: root.into(),
                    reason: format!(
                        "{}: folders inside a class folder are not supported (expected <class>/<image>)",
                        files[i].path
                    ),
                });
            }
        }
    }
    let classes_of = |s: u8| -> BTreeSet<&str> {
        found
            .iter()
            .map(|f| (f.0, f.1))
            .chain(folders.iter().copied())
            .filter(|f| f.0 == s)
            .map(|f| f.1)
            .collect()
    };
    // A class folder without an image in a split cannot be trained or tested on.
    for &(s, class) in &folders {
        if !found.iter().any(|f| f.0 == s && f.1 == class) {
            return Err(ImportError::EmptyClass {
                split: match s {
                    1 => "test",
                    _ => "training",
                },
                class: class.to_owned(),
            });
        }
    }
    let classes: Vec<String> = if split_dirs.is_some() {
        let (tr, te) = (classes_of(0), classes_of(1));
        if tr != te {
            return Err(ImportError::ClassMismatch {
                missing_in_test: tr.difference(&te).map(|s| s.to_string()).collect(),
                extra_in_test: te.difference(&tr).map(|s| s.to_string()).collect(),
            });
        }
        tr.iter().map(|s| s.to_string()).collect()
    } else {
        classes_of(2).iter().map(|s| s.to_string()).collect()
    };
    if classes.len() > 256 {
        return Err(ImportError::TooManyClasses {
            path: root.into(),
            found: classes.len(),
        });
    }
    let index: BTreeMap<&str, u8> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u8))
        .collect();
    let items = found
        .into_iter()
        .map(|(split, class, file)| Item {
            split,
            class: index.get(class).copied().unwrap_or(0),
            file,
        })
        .collect();
    Ok((classes, items))
}

fn is_split_name(dir: Option<&str>) -> bool {
    dir.is_some_and(|d| d.eq_ignore_ascii_case("train") || d.eq_ignore_ascii_case("test"))
}

/// One decoded image, row-major H·W·C with C 1 (gray) or 3.
struct Decoded {
    width: u32,
    height: u32,
    gray: bool,
    pixels: Vec<u8>,
}

fn decode(bytes: &[u8], resize: Option<(u32, u32)>) -> Result<Decoded, String> {
    let img = image::load_from_memory(bytes).map_err(|e| e.to_string())?;
    let img = match resize {
        Some((w, h)) if (img.width(), img.height()) != (w, h) => {
            img.resize_exact(w, h, FilterType::Triangle)
        }
        _ => img,
    };
    let gray = !img.color().has_color();
    let (width, height) = (img.width(), img.height());
    let pixels = if gray {
        img.into_luma8().into_raw()
    } else {
        img.into_rgb8().into_raw()
    };
    Ok(Decoded {
        width,
        height,
        gray,
        pixels,
    })
}

/// Refuses undecodable files and, unless resizing, images of more than one size.
fn check_decoded(
    files: &[FileEntry],
    items: &[Item],
    decoded: &[Result<Decoded, String>],
) -> Result<(u32, u32), ImportError> {
    let bad: Vec<usize> = (0..items.len()).filter(|&i| decoded[i].is_err()).collect();
    if let Some(&first) = bad.first() {
        let first_error = match &decoded[first] {
            Err(e) => format!("{}: {e}", files[items[first].file].path),
            Ok(_) => String::new(),
        };
        return Err(ImportError::CorruptImages {
            count: bad.len(),
            names: bad
                .iter()
                .take(SHOWN)
                .map(|&i| files[items[i].file].path.clone())
                .collect(),
            first_error,
        });
    }
    let size =
        |d: &Result<Decoded, String>| d.as_ref().map(|d| (d.width, d.height)).unwrap_or((0, 0));
    let mut counts: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    for d in decoded {
        *counts.entry(size(d)).or_default() += 1;
    }
    // The most common size; among equals the smallest, so the choice is deterministic.
    let (majority, majority_count) = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(s, n)| (*s, *n))
        .unwrap_or(((0, 0), 0));
    if counts.len() > 1 {
        let off: Vec<usize> = (0..items.len())
            .filter(|&i| size(&decoded[i]) != majority)
            .collect();
        return Err(ImportError::MixedSizes {
            majority,
            majority_count,
            count: off.len(),
            offenders: off
                .iter()
                .take(SHOWN)
                .map(|&i| (files[items[i].file].path.clone(), size(&decoded[i])))
                .collect(),
        });
    }
    Ok(majority)
}

/// The images at `which` as C·H·W bytes, freeing each decoded image once copied.
fn pack(decoded: &mut [Option<Decoded>], which: &[usize], channels: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for &i in which {
        let Some(d) = decoded[i].take() else { continue };
        let plane = d.pixels.len() / if d.gray { 1 } else { 3 };
        out.reserve(which.len() * plane * channels);
        match (d.gray, channels) {
            (true, 1) => out.extend_from_slice(&d.pixels),
            (true, _) => {
                for _ in 0..channels {
                    out.extend_from_slice(&d.pixels);
                }
            }
            (false, _) => {
                for c in 0..3 {
                    out.extend(d.pixels.iter().skip(c).step_by(3));
                }
            }
        }
    }
    out
}

pub(crate) fn import_files(
    root: &Path,
    files: Vec<FileEntry>,
    read: Duration,
    format: Format,
    opts: &ImportOptions,
) -> Result<Imported, ImportError> {
    let started = Instant::now();
    let (classes, items) = layout(root, &files)?;
    if items.is_empty() {
        return Err(ImportError::Layout {
            path: root.into(),
            reason: "no images found: expected train/<class>/<image> and test/<class>/<image>, or <class>/<image>".into(),
        });
    }
    let decoded: Vec<Result<Decoded, String>> = items
        .par_iter()
        .map(|it| decode(&files[it.file].bytes, opts.resize))
        .collect();
    let (width, height) = check_decoded(&files, &items, &decoded)?;
    drop(files);
    let channels = if decoded.iter().flatten().all(|d| d.gray) {
        1
    } else {
        3
    };
    let mut decoded: Vec<Option<Decoded>> = decoded.into_iter().map(Result::ok).collect();
    let labels: Vec<u8> = items.iter().map(|it| it.class).collect();
    let split_start = Instant::now();
    let (train_idx, test_idx) = if items.iter().any(|it| it.split == 2) {
        held_out_split(&labels, &classes, opts)?
    } else {
        let of = |s: u8| (0..items.len()).filter(|&i| items[i].split == s).collect();
        (of(0), of(1))
    };
    let split_time = split_start.elapsed();
    let take = |decoded: &mut [Option<Decoded>], idx: &[usize]| SplitData {
        x: Values::U8(pack(decoded, idx, channels)),
        y: idx.iter().map(|&i| labels[i]).collect(),
    };
    let train = take(&mut decoded, &train_idx);
    let test = take(&mut decoded, &test_idx);
    let timings = ImportTimings {
        read,
        decode: started.elapsed() - split_time,
        stats: split_time,
    };
    let shape = [channels, height as usize, width as usize];
    assemble(
        SampleKind::Images,
        shape,
        classes,
        train,
        test,
        format,
        timings,
    )
}

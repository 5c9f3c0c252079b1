//! The compact dataset cache: one file, `ANNEALDS`, a version, a JSON header (the
//! [`DatasetSummary`]) and the raw samples and labels of both splits, named by its SHA-256.
//!
//! Layout, all integers little endian:
//! `b"ANNEALDS"` · u32 version · u32 header length · header JSON ·
//! train x · train y · test x · test y,
//! where x is N·C·H·W u8 or f32 values (per the header's `value_type`) and y one u8 per sample.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::import::{
    DatasetSummary, ImportError, ImportTimings, Imported, SplitData, ValueType, Values,
};
use crate::{DataError, Split};

pub const CACHE_MAGIC: &[u8; 8] = b"ANNEALDS";
pub const CACHE_VERSION: u32 = 1;
/// The cache files' extension.
pub const CACHE_EXT: &str = "ads";
/// Headers are small; a larger length means a damaged file, not a big dataset.
const MAX_HEADER: u32 = 16 << 20;

/// A cache file written by [`write_cache`].
#[derive(Debug, Clone, PartialEq)]
pub struct CachedDataset {
    /// `<dest_dir>/<hash>.ads`.
    pub path: PathBuf,
    /// SHA-256 of the whole file, lowercase hex.
    pub hash: String,
    pub bytes: u64,
    pub summary: DatasetSummary,
}

/// Hashes everything written through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn write_values(w: &mut impl Write, x: &Values) -> io::Result<()> {
    match x {
        Values::U8(v) => w.write_all(v),
        Values::F32(v) => {
            let mut buf = Vec::with_capacity(4 << 14);
            for chunk in v.chunks(1 << 14) {
                buf.clear();
                buf.extend(chunk.iter().flat_map(|f| f.to_le_bytes()));
                w.write_all(&buf)?;
            }
            Ok(())
        }
    }
}

fn write_body(w: &mut impl Write, imported: &Imported) -> io::Result<()> {
    let header = serde_json::to_vec(&imported.summary).map_err(io::Error::other)?;
    w.write_all(CACHE_MAGIC)?;
    w.write_all(&CACHE_VERSION.to_le_bytes())?;
    let len = u32::try_from(header.len()).map_err(io::Error::other)?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&header)?;
    for split in [&imported.train, &imported.test] {
        write_values(w, &split.x)?;
        w.write_all(&split.y)?;
    }
    Ok(())
}

/// Writes `imported` to `<dest_dir>/<sha256>.ads`: through a temporary file in `dest_dir`,
/// synced and then renamed, so the cache is either whole or absent; on error nothing is left.
pub fn write_cache(imported: &Imported, dest_dir: &Path) -> Result<CachedDataset, ImportError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = dest_dir.join(format!(
        ".import-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_to(imported, dest_dir, &tmp);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_to(
    imported: &Imported,
    dest_dir: &Path,
    tmp: &Path,
) -> Result<CachedDataset, ImportError> {
    let file = File::create(tmp).map_err(|e| ImportError::io(tmp, e))?;
    let mut w = Hashing {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        written: 0,
    };
    write_body(&mut w, imported).map_err(|e| ImportError::io(tmp, e))?;
    let Hashing {
        inner,
        hasher,
        written,
    } = w;
    let file = inner
        .into_inner()
        .map_err(|e| ImportError::io(tmp, e.into_error()))?;
    file.sync_all().map_err(|e| ImportError::io(tmp, e))?;
    drop(file);
    let hash = hex(&hasher.finalize());
    let path = dest_dir.join(format!("{hash}.{CACHE_EXT}"));
    std::fs::rename(tmp, &path).map_err(|e| ImportError::io(&path, e))?;
    // The rename is durable only once the folder is synced; not every platform can open one.
    if let Ok(dir) = File::open(dest_dir) {
        let _ = dir.sync_all();
    }
    Ok(CachedDataset {
        path,
        hash,
        bytes: written,
        summary: imported.summary.clone(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads and checks the fixed prefix and the header; returns the summary and the header's end.
fn parse_header(path: &Path, r: &mut impl Read) -> Result<(DatasetSummary, u64), DataError> {
    let mut prefix = [0u8; 16];
    r.read_exact(&mut prefix)
        .map_err(|_| DataError::Truncated {
            path: path.into(),
            expected: 16,
            actual: 0,
        })?;
    if &prefix[..8] != CACHE_MAGIC {
        return Err(DataError::corrupt(
            path,
            "not an Anneal dataset cache (bad magic)",
        ));
    }
    let word =
        |i: usize| u32::from_le_bytes([prefix[i], prefix[i + 1], prefix[i + 2], prefix[i + 3]]);
    let (version, len) = (word(8), word(12));
    if version != CACHE_VERSION {
        return Err(DataError::corrupt(
            path,
            format!(
                "cache version {version}, this build reads version {CACHE_VERSION}; import the dataset again"
            ),
        ));
    }
    if len > MAX_HEADER {
        return Err(DataError::corrupt(
            path,
            format!("header length {len} is implausible"),
        ));
    }
    let mut header = vec![0u8; len as usize];
    r.read_exact(&mut header)
        .map_err(|_| DataError::corrupt(path, "truncated inside its header"))?;
    let summary: DatasetSummary = serde_json::from_slice(&header)
        .map_err(|e| DataError::corrupt(path, format!("unreadable header: {e}")))?;
    Ok((summary, 16 + u64::from(len)))
}

/// The summary in a cache file's header, without reading the samples.
pub fn read_summary(path: &Path) -> Result<DatasetSummary, DataError> {
    let mut file = File::open(path).map_err(|e| DataError::io(path, e))?;
    Ok(parse_header(path, &mut io::BufReader::new(&mut file))?.0)
}

/// The payload's size in bytes for `s`, or None on overflow.
fn payload_len(s: &DatasetSummary) -> Option<u64> {
    let sample = s
        .shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64))?;
    let width = match s.value_type {
        ValueType::U8 => 1,
        ValueType::F32 => 4,
    };
    let n = (s.train_count as u64).checked_add(s.test_count as u64)?;
    n.checked_mul(sample)?.checked_mul(width)?.checked_add(n)
}

/// The whole cache in its stored form (u8 pixels stay u8), read straight into place.
pub fn read_cache_raw(path: &Path) -> Result<Imported, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let actual = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let mut r = io::BufReader::with_capacity(1 << 20, file);
    let (summary, start) = parse_header(path, &mut r)?;
    let want = payload_len(&summary).and_then(|p| p.checked_add(start));
    if want != Some(actual) {
        return Err(DataError::Truncated {
            path: path.into(),
            expected: want.unwrap_or(u64::MAX),
            actual,
        });
    }
    let sample: usize = summary.shape.iter().product();
    let value_type = summary.value_type;
    let mut split = |n: usize| -> io::Result<SplitData> {
        let x = match value_type {
            ValueType::U8 => {
                let mut v = vec![0u8; n * sample];
                r.read_exact(&mut v)?;
                Values::U8(v)
            }
            ValueType::F32 => {
                let mut v = Vec::with_capacity(n * sample);
                let mut buf = vec![0u8; 4 << 14];
                let mut left = n * sample;
                while left > 0 {
                    let k = left.min(1 << 14);
                    r.read_exact(&mut buf[..4 * k])?;
                    v.extend(
                        buf[..4 * k]
                            .chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    );
                    left -= k;
                }
                Values::F32(v)
            }
        };
        let mut y = vec![0u8; n];
        r.read_exact(&mut y)?;
        Ok(SplitData { x, y })
    };
    let train = split(summary.train_count).map_err(|e| DataError::io(path, e))?;
    let test = split(summary.test_count).map_err(|e| DataError::io(path, e))?;
    let classes = summary.class_names.len();
    if let Some(l) = train
        .y
        .iter()
        .chain(&test.y)
        .find(|&&l| usize::from(l) >= classes)
    {
        return Err(DataError::corrupt(
            path,
            format!("label {l} with only {classes} classes"),
        ));
    }
    Ok(Imported {
        summary,
        train,
        test,
        timings: ImportTimings::default(),
    })
}

/// Both splits of a cache file, pixels in [0, 1] (not normalised), and its summary.
pub fn read_cache(path: &Path) -> Result<(DatasetSummary, Split), DataError> {
    let imported = read_cache_raw(path)?;
    let split = imported.to_split();
    Ok((imported.summary, split))
}

/// The SHA-256 of a file, lowercase hex.
pub fn hash_file(path: &Path) -> Result<String, DataError> {
    let mut file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Checks that the file's SHA-256 is `expected_hash` (hex, any case).
pub fn verify_cache(path: &Path, expected_hash: &str) -> Result<(), DataError> {
    let actual = hash_file(path)?;
    if !actual.eq_ignore_ascii_case(expected_hash) {
        return Err(DataError::CacheMismatch {
            path: path.into(),
            expected: expected_hash.to_string(),
            actual,
        });
    }
    Ok(())
}

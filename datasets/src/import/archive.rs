//! Reading a folder tree or a zip/tar/tar.gz archive into memory as (relative path, bytes)
//! pairs, streaming, with the entry checks and size limits applied before anything is read.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path};

use super::{Format, ImportError, ImportLimits};

/// One regular file: its path relative to the root, `/`-separated, and its contents. A folder
/// is an entry too, its path ending in `/` and no bytes, so that an empty class folder is seen.
#[derive(Debug, Clone)]
pub(crate) struct FileEntry {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Whether a relative path is junk the user did not mean as data (macOS and editor leftovers).
pub(crate) fn is_hidden(path: &str) -> bool {
    path.split('/')
        .any(|c| c.starts_with('.') || c == "__MACOSX" || c == "Thumbs.db")
}

/// Counts files and bytes against the limits, refusing as soon as one is passed.
struct Budget<'a> {
    limits: &'a ImportLimits,
    archive: &'a Path,
    files: u64,
    bytes: u64,
}

impl Budget<'_> {
    fn take(&mut self, size: u64) -> Result<(), ImportError> {
        self.files += 1;
        self.bytes = self.bytes.saturating_add(size);
        if self.files > self.limits.max_files {
            return Err(ImportError::LimitExceeded {
                archive: self.archive.into(),
                what: "files",
                limit: self.limits.max_files,
            });
        }
        if self.bytes > self.limits.max_unpacked_bytes {
            return Err(ImportError::LimitExceeded {
                archive: self.archive.into(),
                what: "bytes unpacked",
                limit: self.limits.max_unpacked_bytes,
            });
        }
        Ok(())
    }
}

/// Every regular file under `root`, sorted by path. Symbolic links are refused, like in archives,
/// so a dataset never reaches outside its folder.
pub(crate) fn read_dir_tree(
    root: &Path,
    limits: &ImportLimits,
) -> Result<Vec<FileEntry>, ImportError> {
    let mut budget = Budget {
        limits,
        archive: root,
        files: 0,
        bytes: 0,
    };
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let listing = std::fs::read_dir(&dir).map_err(|e| ImportError::io(&dir, e))?;
        for item in listing {
            let item = item.map_err(|e| ImportError::io(&dir, e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let rel_path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let path = item.path();
            let kind = item.file_type().map_err(|e| ImportError::io(&path, e))?;
            if is_hidden(&rel_path) {
                continue;
            }
            if kind.is_symlink() {
                return Err(ImportError::UnsafeEntry {
                    archive: root.into(),
                    entry: rel_path,
                    reason: "symbolic links are not followed",
                });
            } else if kind.is_dir() {
                out.push(folder_marker(&rel_path));
                stack.push((path, rel_path));
            } else if kind.is_file() {
                let size = item
                    .metadata()
                    .map_err(|e| ImportError::io(&path, e))?
                    .len();
                budget.take(size)?;
                let bytes = std::fs::read(&path).map_err(|e| ImportError::io(&path, e))?;
                out.push(FileEntry {
                    path: rel_path,
                    bytes,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// A whole file, refused if larger than the byte limit.
pub(crate) fn read_limited(path: &Path, limits: &ImportLimits) -> Result<Vec<u8>, ImportError> {
    let size = std::fs::metadata(path)
        .map_err(|e| ImportError::io(path, e))?
        .len();
    if size > limits.max_unpacked_bytes {
        return Err(ImportError::LimitExceeded {
            archive: path.into(),
            what: "bytes",
            limit: limits.max_unpacked_bytes,
        });
    }
    std::fs::read(path).map_err(|e| ImportError::io(path, e))
}

/// Every regular, non-hidden file in the archive at `path`, sorted by path.
pub(crate) fn read_archive(
    path: &Path,
    format: Format,
    limits: &ImportLimits,
) -> Result<Vec<FileEntry>, ImportError> {
    let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut out = match format {
        Format::Zip => read_zip(path, file, limits, |_| true)?,
        Format::Tar => read_tar(path, BufReader::new(file), limits)?,
        Format::TarGz => {
            let gz = flate2::read::GzDecoder::new(BufReader::new(file));
            read_tar(path, gz, limits)?
        }
        _ => {
            return Err(ImportError::UnknownFormat {
                path: path.into(),
                reason: "not an archive".into(),
            });
        }
    };
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Why an entry name may not be unpacked, if it may not.
fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.starts_with('/') || name.starts_with('\\') || name.get(1..2) == Some(":") {
        return Some("absolute paths are not allowed");
    }
    let parent = Path::new(name).components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    });
    if parent || name.split(['/', '\\']).any(|c| c == "..") {
        return Some("paths with `..` would reach outside the archive");
    }
    None
}

/// `name` with `/` separators (Windows zips use `\\`), without a leading `./` or trailing `/`.
/// The entry that stands for the folder `path` (relative, without a trailing `/`).
fn folder_marker(path: &str) -> FileEntry {
    FileEntry {
        path: format!("{path}/"),
        bytes: Vec::new(),
    }
}

fn clean_name(name: &str) -> String {
    let name = name.replace('\\', "/");
    let mut s = name.as_str();
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    s.trim_end_matches('/').to_string()
}

fn truncated(path: &Path, e: &io::Error) -> ImportError {
    ImportError::Truncated {
        path: path.into(),
        reason: e.to_string(),
    }
}

fn read_tar<R: Read>(
    path: &Path,
    reader: R,
    limits: &ImportLimits,
) -> Result<Vec<FileEntry>, ImportError> {
    let mut budget = Budget {
        limits,
        archive: path,
        files: 0,
        bytes: 0,
    };
    let mut archive = tar::Archive::new(Counting {
        inner: reader,
        read: 0,
    });
    let mut out = Vec::new();
    // Where the last entry's data ends: a complete archive has its end-of-archive block after it.
    let mut data_end = 0u64;
    let entries = archive.entries().map_err(|e| truncated(path, &e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| truncated(path, &e))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if let Some(reason) = unsafe_name(&raw) {
            return Err(ImportError::UnsafeEntry {
                archive: path.into(),
                entry: raw,
                reason,
            });
        }
        let kind = entry.header().entry_type();
        let size = entry.size();
        data_end = entry.raw_file_position() + size.div_ceil(512) * 512;
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(ImportError::UnsafeEntry {
                archive: path.into(),
                entry: raw,
                reason: "links are not allowed in dataset archives",
            });
        }
        if kind.is_dir() {
            let name = clean_name(&raw);
            if !name.is_empty() && !is_hidden(&name) {
                out.push(folder_marker(&name));
            }
            continue;
        }
        if !(kind.is_file() || kind.is_contiguous()) {
            continue;
        }
        budget.take(size)?;
        let name = clean_name(&raw);
        if is_hidden(&name) {
            continue;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 26));
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| truncated(path, &e))?;
        if bytes.len() as u64 != size {
            return Err(ImportError::Truncated {
                path: path.into(),
                reason: format!(
                    "entry {name:?} ends after {} of its {size} bytes",
                    bytes.len()
                ),
            });
        }
        out.push(FileEntry { path: name, bytes });
    }
    // A stream cut at an entry boundary reads as a shorter archive: insist on the end block, and
    // read gzip to its end so its length and CRC trailer are checked.
    let mut rest = archive.into_inner();
    if rest.read < data_end + 512 {
        return Err(ImportError::Truncated {
            path: path.into(),
            reason: "the archive stops without its end-of-archive block".into(),
        });
    }
    io::copy(&mut rest, &mut io::sink()).map_err(|e| truncated(path, &e))?;
    Ok(out)
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Every regular, non-hidden file in a zip archive whose name passes `keep`.
pub(crate) fn read_zip<R: Read + io::Seek>(
    path: &Path,
    reader: R,
    limits: &ImportLimits,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<FileEntry>, ImportError> {
    let mut budget = Budget {
        limits,
        archive: path,
        files: 0,
        bytes: 0,
    };
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| ImportError::Truncated {
        path: path.into(),
        reason: format!("not a complete zip archive: {e}"),
    })?;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).map_err(|e| ImportError::Truncated {
            path: path.into(),
            reason: e.to_string(),
        })?;
        let raw = file.name().to_string();
        if let Some(reason) = unsafe_name(&raw) {
            return Err(ImportError::UnsafeEntry {
                archive: path.into(),
                entry: raw,
                reason,
            });
        }
        if file.is_symlink() {
            return Err(ImportError::UnsafeEntry {
                archive: path.into(),
                entry: raw,
                reason: "links are not allowed in dataset archives",
            });
        }
        if file.is_dir() {
            let name = clean_name(&raw);
            if !name.is_empty() && !is_hidden(&name) && keep(&format!("{name}/")) {
                out.push(folder_marker(&name));
            }
            continue;
        }
        let size = file.size();
        budget.take(size)?;
        let name = clean_name(&raw);
        if is_hidden(&name) || !keep(&name) {
            continue;
        }
        // The declared size may lie: read at most one byte past it to find out.
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 26));
        (&mut file)
            .take(size + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| truncated(path, &e))?;
        if bytes.len() as u64 != size {
            return Err(ImportError::Truncated {
                path: path.into(),
                reason: format!(
                    "entry {name:?} holds {} bytes, its header says {size}",
                    bytes.len()
                ),
            });
        }
        out.push(FileEntry { path: name, bytes });
    }
    Ok(out)
}

//! The crate's one error type: every failure names the file and says what to do about it.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The caller asked to stop while the data was being prepared (a long solve, say).
    #[error("stopped while preparing the data")]
    Stopped,

    /// A dataset file is absent; `hint` says how to get it.
    #[error("{dataset} not found in {} (missing {file}). {hint}", dir.display())]
    Missing {
        dataset: &'static str,
        dir: PathBuf,
        file: String,
        hint: String,
    },

    #[error("cannot access {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{}: bad magic number {found} (expected {expected} for an IDX {what} file)", path.display())]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        what: &'static str,
    },

    #[error("{}: truncated: its header needs {expected} bytes, the file has {actual}", path.display())]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },

    /// Anything else wrong inside a file: bad dimensions, trailing bytes, broken gzip.
    #[error("{}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },

    #[error("{} holds {n_images} images but {} holds {n_labels} labels", images.display(), labels.display())]
    CountMismatch {
        images: PathBuf,
        labels: PathBuf,
        n_images: usize,
        n_labels: usize,
    },

    #[error("{}: record {index} has label {label}, but the dataset has only {classes} classes", path.display())]
    BadLabel {
        path: PathBuf,
        index: usize,
        label: u8,
        classes: usize,
    },

    #[error(
        "{}: {size} bytes is not a positive multiple of the {record}-byte CIFAR-10 record (1 label byte + 3072 pixel bytes)",
        path.display()
    )]
    BadSize {
        path: PathBuf,
        size: u64,
        record: usize,
    },

    #[error("class {class} ({name}) has {have} images, fewer than the {want} per class asked for")]
    NotEnoughPerClass {
        class: usize,
        name: String,
        have: usize,
        want: usize,
    },

    #[error("invalid argument: {0}")]
    Invalid(String),

    #[error(
        "the Gram matrix XXᵀ is numerically singular (Cholesky pivot {pivot:e} at row {row}): the data rows are linearly dependent, so no unique minimum-norm interpolant exists; try another seed"
    )]
    Singular { row: usize, pivot: f64 },

    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },

    #[error(
        "the file downloaded from {url} has SHA-256 {actual}, expected {expected}; it was deleted and nothing was extracted (a broken transfer, or the URL serves a different file)"
    )]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },

    #[error(
        "{}: SHA-256 {actual}, expected {expected}: the dataset cache was changed or damaged; import the dataset again",
        path.display()
    )]
    CacheMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("cannot unpack the CIFAR-10 archive: {reason}")]
    Archive { reason: String },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DataError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

//! The import layer's error type: each message names the file, entry, column or class at fault
//! and, where there is one, what the user can do about it.

use std::io;
use std::path::PathBuf;

/// A list of names for a message: the first few, then how many more.
fn name_list(names: &[String], total: usize) -> String {
    let mut s = names.join(", ");
    if total > names.len() {
        s.push_str(&format!(" and {} more", total - names.len()));
    }
    s
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("cannot access {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{}: cannot tell the dataset format: {reason}", path.display())]
    UnknownFormat { path: PathBuf, reason: String },

    /// The image folders are not laid out as `train/<class>/*` + `test/<class>/*` or `<class>/*`.
    #[error("{}: {reason}", path.display())]
    Layout { path: PathBuf, reason: String },

    #[error("{count} file(s) are not readable PNG, JPEG or BMP images: {} (first error: {first_error})", name_list(names, *count))]
    CorruptImages {
        count: usize,
        names: Vec<String>,
        first_error: String,
    },

    #[error(
        "images differ in size: most ({majority_count}) are {}×{}, but {count} are not: {} — resize them, or import with a resize option",
        majority.0, majority.1,
        offenders.iter().map(|(n, (w, h))| format!("{n} ({w}×{h})")).collect::<Vec<_>>().join(", ")
    )]
    MixedSizes {
        majority: (u32, u32),
        majority_count: usize,
        count: usize,
        /// The first offenders (at most ten) with their width × height.
        offenders: Vec<(String, (u32, u32))>,
    },

    #[error("class {class:?} has no {split} samples")]
    EmptyClass { split: &'static str, class: String },

    #[error(
        "the train and test splits have different classes: missing from test: [{}]; only in test: [{}]",
        missing_in_test.join(", "), extra_in_test.join(", ")
    )]
    ClassMismatch {
        missing_in_test: Vec<String>,
        extra_in_test: Vec<String>,
    },

    #[error("a classification dataset needs at least 2 classes, found {found}: [{}]", classes.join(", "))]
    TooFewClasses { found: usize, classes: Vec<String> },

    #[error("{}: {found} classes, more than the 256 a dataset may have", path.display())]
    TooManyClasses { path: PathBuf, found: usize },

    #[error(
        "class {class:?} has {count} samples: holding out {held_out} of them leaves {test} for test and {train} for training; both need at least one (add samples, or provide train/ and test/ splits)"
    )]
    NoTestSplit {
        class: String,
        count: usize,
        held_out: f64,
        train: usize,
        test: usize,
    },

    #[error("{}: label at index {index}: {reason}", path.display())]
    BadLabel {
        path: PathBuf,
        index: usize,
        reason: String,
    },

    #[error("{}: {value} at {location}: values must be finite numbers", path.display())]
    NonFinite {
        path: PathBuf,
        location: String,
        value: String,
    },

    #[error("{}: no label column {column:?}; the columns are [{}]", path.display(), found.join(", "))]
    MissingLabelColumn {
        path: PathBuf,
        column: String,
        found: Vec<String>,
    },

    #[error("{}: row {row}, column {column:?}: {value:?} is not a number (every column but the label must be numeric)", path.display())]
    NonNumeric {
        path: PathBuf,
        row: usize,
        column: String,
        value: String,
    },

    /// A malformed file: a CSV that does not parse, an `.npy` header, an unsupported shape.
    #[error("{}: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },

    #[error("{} holds {n_x} samples but {} holds {n_y} labels", x.display(), y.display())]
    CountMismatch {
        x: PathBuf,
        y: PathBuf,
        n_x: usize,
        n_y: usize,
    },

    #[error("{}: entry {entry:?} is refused: {reason}", archive.display())]
    UnsafeEntry {
        archive: PathBuf,
        entry: String,
        reason: &'static str,
    },

    #[error("{}: more than {limit} {what}; refused before unpacking further", archive.display())]
    LimitExceeded {
        archive: PathBuf,
        what: &'static str,
        limit: u64,
    },

    #[error("{}: truncated or damaged ({reason}); upload the complete file again", path.display())]
    Truncated { path: PathBuf, reason: String },

    #[error("the dataset has no images ({what}), so it has no thumbnails")]
    NotImages { what: String },

    #[error("invalid option {name}: {reason}")]
    InvalidOption { name: &'static str, reason: String },
}

impl ImportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ImportError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        ImportError::Malformed {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

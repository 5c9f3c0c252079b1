//! CSV tables: a header row, one label column (integers 0..K-1 or class names), every other
//! column numeric, each row one feature vector of shape [1, 1, F]; split by a held-out fraction.

use std::path::Path;
use std::time::Instant;

use super::{
    Format, ImportError, ImportOptions, ImportTimings, Imported, SampleKind, SplitData, Values,
    assemble, held_out_split,
};

/// Class names and per-row class indices for the raw label cells.
fn classes_of(path: &Path, raw: &[String]) -> Result<(Vec<String>, Vec<u8>), ImportError> {
    let bad = |index: usize, reason: String| ImportError::BadLabel {
        path: path.into(),
        index,
        reason,
    };
    if let Some(i) = raw.iter().position(|s| s.is_empty()) {
        return Err(bad(i, "the label is empty".into()));
    }
    let numbers: Option<Vec<f64>> = raw.iter().map(|s| s.parse::<f64>().ok()).collect();
    if let Some(numbers) = numbers {
        // Numeric labels are class indices, so they must be whole numbers in 0..=255.
        let mut y = Vec::with_capacity(numbers.len());
        for (i, &v) in numbers.iter().enumerate() {
            if !v.is_finite() || v.fract() != 0.0 {
                return Err(bad(
                    i,
                    format!("{:?} is not an integer class index", raw[i]),
                ));
            }
            if !(0.0..=255.0).contains(&v) {
                return Err(bad(
                    i,
                    format!("{v} is outside 0..=255 (labels are class indices 0..K-1)"),
                ));
            }
            y.push(v as u8);
        }
        let k = y.iter().max().map_or(0, |&m| usize::from(m) + 1);
        return Ok(((0..k).map(|c| c.to_string()).collect(), y));
    }
    let mut names: Vec<String> = raw.to_vec();
    names.sort();
    names.dedup();
    if names.len() > 256 {
        return Err(ImportError::TooManyClasses {
            path: path.into(),
            found: names.len(),
        });
    }
    let y = raw
        .iter()
        .map(|s| names.binary_search(s).map_or(0, |i| i as u8))
        .collect();
    Ok((names, y))
}

/// Imports a CSV table, split by the held-out fraction.
pub(crate) fn import(path: &Path, opts: &ImportOptions) -> Result<Imported, ImportError> {
    let started = Instant::now();
    let bytes = super::archive::read_limited(path, &opts.limits)?;
    let read = started.elapsed();
    let started = Instant::now();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let csv_err =
        |e: csv::Error| ImportError::malformed(path, format!("not a valid CSV table: {e}"));
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(str::to_string)
        .collect();
    let label_at = header
        .iter()
        .position(|h| *h == opts.label_column)
        .ok_or_else(|| ImportError::MissingLabelColumn {
            path: path.into(),
            column: opts.label_column.clone(),
            found: header.clone(),
        })?;
    let features = header.len() - 1;
    if features == 0 {
        return Err(ImportError::malformed(
            path,
            "the table has no feature columns besides the label",
        ));
    }
    let mut x: Vec<f32> = Vec::new();
    let mut raw_labels: Vec<String> = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_err)? {
        // Row numbers as a spreadsheet shows them: the header is row 1.
        let row = raw_labels.len() + 2;
        for (c, cell) in record.iter().enumerate() {
            if c == label_at {
                raw_labels.push(cell.to_string());
                continue;
            }
            let value: f32 = cell.parse().map_err(|_| ImportError::NonNumeric {
                path: path.into(),
                row,
                column: header[c].clone(),
                value: cell.to_string(),
            })?;
            if !value.is_finite() {
                return Err(ImportError::NonFinite {
                    path: path.into(),
                    location: format!("row {row}, column {:?}", header[c]),
                    value: cell.to_string(),
                });
            }
            x.push(value);
        }
    }
    let (classes, y) = classes_of(path, &raw_labels)?;
    let decode = started.elapsed();
    let t = Instant::now();
    let (tr, te) = held_out_split(&y, &classes, opts)?;
    let all = Values::F32(x);
    let take = |idx: &[usize]| SplitData {
        x: all.gather(idx, features),
        y: idx.iter().map(|&i| y[i]).collect(),
    };
    let (train, test) = (take(&tr), take(&te));
    let timings = ImportTimings {
        read,
        decode,
        stats: t.elapsed(),
    };
    assemble(
        SampleKind::Features,
        [1, 1, features],
        classes,
        train,
        test,
        Format::Csv,
        timings,
    )
}

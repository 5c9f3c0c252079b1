//! The report every check writes into: field errors in the order they were found, with the
//! value rules that several specs share. Paths come from [`crate::fields`]; a spec checked
//! inside another has its errors moved under the outer field here, so no check writes a path
//! by hand.

use schedule::FieldError;

use crate::fields;

#[derive(Default)]
pub(crate) struct Report(Vec<FieldError>);

impl Report {
    pub(crate) fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Errors already under their full paths (shape inference's).
    pub(crate) fn extend(&mut self, errors: Vec<FieldError>) {
        self.0.extend(errors);
    }

    /// The errors of a spec that sits at `outer` in the one being checked.
    pub(crate) fn nest(&mut self, outer: &str, errors: Vec<FieldError>) {
        self.0.extend(errors.into_iter().map(|e| FieldError {
            field: fields::nested(outer, &e.field),
            message: e.message,
        }));
    }

    /// A finite number between `lo` and `hi`, both included.
    pub(crate) fn finite_in(&mut self, field: &str, v: f64, lo: f64, hi: f64) {
        if !v.is_finite() {
            self.push(field, "must be a finite number");
        } else if v < lo || v > hi {
            self.push(field, format!("must be between {lo} and {hi}"));
        }
    }

    /// A value strictly between 0 and 1, as schedule-free's interpolation weights need.
    pub(crate) fn open_unit(&mut self, field: &str, v: f64) {
        if !v.is_finite() {
            self.push(field, "must be a finite number");
        } else if v <= 0.0 || v >= 1.0 {
            self.push(
                field,
                "must be greater than 0 and less than 1 (schedule-free needs it above 0)",
            );
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_errors(self) -> Vec<FieldError> {
        self.0
    }

    pub(crate) fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// The fields a validation names, in order; none when it passes.
#[cfg(test)]
pub(crate) fn error_fields(result: Result<(), Vec<FieldError>>) -> Vec<String> {
    result
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.field)
        .collect()
}

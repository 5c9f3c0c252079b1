//! Loss-landscape requests: what the user asks for (plane, grid, margin), validated at the
//! boundary. The finished picture is a result, not a specification: it is
//! `domain::wire::Landscape`.

use schedule::FieldError;
use serde::{Deserialize, Serialize};

/// Grid points per axis: a G×G grid costs G² full evaluations of both splits.
pub const MIN_GRID: u32 = 3;
pub const MAX_GRID: u32 = 51;
/// Extra room on each side of the trajectory's range, as a fraction of that range.
pub const MAX_MARGIN: f64 = 2.0;

/// Which 2-D slice of parameter space the maps show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LandscapeMethod {
    /// The plane through the checkpoints' mean spanned by their first two principal components.
    Pca,
    /// The paper's curved sheet: PC3 fitted as a quadratic in PC1, and every grid point lifted
    /// onto that sheet along PC3.
    CurvedPca,
    /// Two Gaussian directions, normalised filter by filter to the final point's norms
    /// (Li et al. 2018), centred on the final point of the main path.
    RandomFilterNormalized { seed: u64 },
}

impl LandscapeMethod {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Pca => "PCA plane",
            Self::CurvedPca => "curved PCA sheet",
            Self::RandomFilterNormalized { .. } => "filter-normalised random directions",
        }
    }
}

/// A landscape request's numeric settings, validated at the boundary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandscapeSpec {
    /// Grid points per axis.
    pub grid: u32,
    /// Extra room around the trajectory's range on each side, as a fraction of the range.
    pub margin: f64,
    pub method: LandscapeMethod,
}

impl Default for LandscapeSpec {
    fn default() -> Self {
        Self {
            grid: 21,
            margin: 0.25,
            method: LandscapeMethod::Pca,
        }
    }
}

impl LandscapeSpec {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errs = Vec::new();
        if !(MIN_GRID..=MAX_GRID).contains(&self.grid) {
            errs.push(FieldError {
                field: "grid".into(),
                message: format!("must be between {MIN_GRID} and {MAX_GRID}"),
            });
        }
        if !self.margin.is_finite() || !(0.0..=MAX_MARGIN).contains(&self.margin) {
            errs.push(FieldError {
                field: "margin".into(),
                message: format!("must be a number between 0 and {MAX_MARGIN}"),
            });
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_per_field() {
        let bad = LandscapeSpec {
            grid: 52,
            margin: f64::NAN,
            method: LandscapeMethod::Pca,
        };
        let errs = bad.validate().unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["grid", "margin"]);
        assert!(LandscapeSpec::default().validate().is_ok());
    }

    #[test]
    fn method_is_tagged_and_strict() {
        let m: LandscapeMethod =
            serde_json::from_str(r#"{"kind":"random_filter_normalized","seed":3}"#).unwrap();
        assert_eq!(m, LandscapeMethod::RandomFilterNormalized { seed: 3 });
        assert!(
            serde_json::from_str::<LandscapeMethod>(
                r#"{"kind":"random_filter_normalized","seed":3,"x":1}"#
            )
            .is_err()
        );
    }
}

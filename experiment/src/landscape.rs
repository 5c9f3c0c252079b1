//! Loss-landscape jobs: what the user asks for (plane, grid, margin) and the finished picture
//! (grids of train/test loss, projected trajectories, explained variance), shared as serde data
//! by the trainer that computes it, the server that stores it and the UI that draws it.

use schedule::FieldError;
use serde::{Deserialize, Serialize};

/// Grid points per axis: a G×G grid costs G² full evaluations of both splits.
pub const MIN_GRID: u32 = 3;
pub const MAX_GRID: u32 = 51;
/// Extra room on each side of the trajectory's range, as a fraction of that range.
pub const MAX_MARGIN: f64 = 2.0;
/// Below this share of variance in PC1+PC2 the plane misrepresents the trajectory.
pub const LOW_EXPLAINED_VARIANCE: f64 = 0.6;
/// Above this relative distance of a checkpoint to the plane, its projection is misleading.
pub const HIGH_PROJECTION_ERROR: f64 = 0.3;

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

/// One trajectory (the main run or a branch) in the map's coordinates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathProjection {
    /// "main", "k=30", ... as the UI shows it.
    pub label: String,
    /// The run the checkpoints came from; the trainer passes it through untouched.
    pub run_id: Option<String>,
    pub epochs: Vec<f64>,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// Euclidean distance of each checkpoint to the plane (or sheet) it is drawn on.
    pub dist_to_plane: Vec<f64>,
}

/// A finished landscape. Grids are indexed `[iy][ix]`; a point whose loss overflowed is `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Landscape {
    pub method: LandscapeMethod,
    pub num_params: u64,
    pub num_checkpoints: u32,
    /// Explained-variance ratios of PC1, PC2 (and PC3 for the curved sheet); empty when the axes
    /// are not principal components.
    pub explained_variance: Vec<f64>,
    pub x_label: String,
    pub y_label: String,
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub train_loss: Vec<Vec<Option<f64>>>,
    pub test_loss: Vec<Vec<Option<f64>>>,
    /// Absent for models without a notion of accuracy (the toy regression).
    pub train_acc: Option<Vec<Vec<Option<f64>>>>,
    pub test_acc: Option<Vec<Vec<Option<f64>>>>,
    pub paths: Vec<PathProjection>,
    /// The largest distance of a checkpoint to the plane, relative to the checkpoints' RMS
    /// distance from the plane's centre; 0 when every checkpoint lies on it.
    pub max_rel_projection_error: f64,
    /// Toy model with d = 2: the curve(s) of training-loss minima in (w₁, w₂).
    #[serde(default)]
    pub manifold: Vec<Vec<[f64; 2]>>,
    /// Toy model with d = 2: the minimum-norm interpolant in (w₁, w₂).
    #[serde(default)]
    pub w_mn: Option<[f64; 2]>,
    pub elapsed_secs: f64,
}

impl Landscape {
    /// Plain-language cautions about how faithful the 2-D picture is.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.explained_variance.len() >= 2 {
            let two = self.explained_variance[0] + self.explained_variance[1];
            if two < LOW_EXPLAINED_VARIANCE {
                out.push(format!(
                    "PC1 and PC2 explain only {:.0}% of the trajectory's variance: much of the \
                     movement happens off this plane.",
                    two * 100.0
                ));
            }
        }
        if self.max_rel_projection_error > HIGH_PROJECTION_ERROR {
            out.push(format!(
                "Some checkpoints lie far from the plane (up to {:.0}% of the trajectory's RMS \
                 distance from its centre): their positions on the map are approximate.",
                self.max_rel_projection_error * 100.0
            ));
        }
        out
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

//! Landscapes on the wire: the request (what to compute it over, and `LandscapeSpec` from the
//! experiment crate), the job as lists show it, and the finished picture (grids of train/test
//! loss, projected trajectories, explained variance) that the trainer computes, the server
//! stores and the UI draws.

use serde::{Deserialize, Serialize};

use super::runs::RunStatus;
use experiment::landscape::{LandscapeMethod, LandscapeSpec};

/// Below this share of variance in PC1+PC2 the plane misrepresents the trajectory.
pub const LOW_EXPLAINED_VARIANCE: f64 = 0.6;
/// Above this relative distance of a checkpoint to the plane, its projection is misleading.
pub const HIGH_PROJECTION_ERROR: f64 = 0.3;

/// What a landscape is computed over: one run's trajectory, or a sweep's main path and branches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LandscapeSource {
    Run { id: i64 },
    Sweep { id: i64 },
}

/// A request to compute a loss landscape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandscapeRequest {
    pub source: LandscapeSource,
    pub spec: LandscapeSpec,
}

/// A landscape job as lists and pages show it; the computed maps are fetched separately.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LandscapeSummary {
    pub id: i64,
    pub name: String,
    pub source: LandscapeSource,
    pub spec: LandscapeSpec,
    pub status: RunStatus,
    pub progress: Option<LandscapeProgress>,
    pub message: Option<String>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

/// Where a running landscape job stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LandscapeProgress {
    /// "loading", "pca" or "grid".
    pub phase: String,
    pub done: u64,
    pub total: u64,
}

/// Which landscapes a list shows: one run's, one sweep's, or (neither) all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandscapeFilter {
    #[serde(default)]
    pub run: Option<i64>,
    #[serde(default)]
    pub sweep: Option<i64>,
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
    /// How batch norm's running statistics were set at the grid's weights (which nobody
    /// trained), for a network that has batch norm; shown beside the plot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_norm: Option<String>,
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

//! Wire types: what crosses between server and browser (JSON over server functions, REST and SSE),
//! what the service's operations answer, and what the database stores as JSON. Every serde type
//! of the domain that travels lives here, one file per resource; the modules that compute them
//! (`crate::analysis`, `crate::prediction`) hold functions only. Their serde shape is stored and
//! snapshotted: a change to it is a change of the wire format.

mod datasets;
mod landscape;
mod prediction;
mod report;
mod runs;
mod shares;
mod sweeps;

pub use experiment::RunSpec;
pub use experiment::landscape::{LandscapeMethod, LandscapeSpec};
pub use schedule::FieldError;

pub use datasets::{DatasetDeleted, DatasetInfo, DatasetRegistered};
pub use landscape::{
    HIGH_PROJECTION_ERROR, LOW_EXPLAINED_VARIANCE, Landscape, LandscapeFilter, LandscapeProgress,
    LandscapeRequest, LandscapeSource, LandscapeSummary, PathProjection,
};
pub use prediction::{
    BranchPrediction, LawPrediction, PredictedPoint, Recommendation, ReferenceFit, ReferenceLaw,
    SweepPrediction,
};
pub use report::{
    BaselineSummary, BranchResult, BranchSummary, FINAL_METRICS, PearsonReport, Spread, SweepReport,
};
pub use runs::{
    Cancelled, Created, Lineage, MetricPoint, MetricRow, Progress, ReplicateRequest, Resumed,
    RunMetrics, RunStatus, RunSummary, RunsCreated, StatusChange, events_url,
};
pub use shares::{
    MAX_SHARE_HOURS, Revoked, ShareCreated, ShareInfo, ShareKind, ShareRequest, SharedBody,
    SharedPage,
};
pub use sweeps::{AddSeeds, BASELINE_LABEL, SweepCreated, SweepItem, SweepRun, SweepSummary};

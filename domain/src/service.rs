//! The service: every operation Anneal offers, as one trait that the server implements once.
//! The JSON API, the server functions the pages call and the CLI are thin doors onto it, so a
//! limit, a 404 or a validation rule is decided here and nowhere else.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::prediction::{ReferenceLaw, SweepPrediction};

use crate::wire::{
    AddSeeds, Cancelled, Created, DatasetDeleted, DatasetInfo, FieldError, Landscape,
    LandscapeFilter, LandscapeRequest, LandscapeSummary, MetricRow, ReplicateRequest, Resumed,
    Revoked, RunMetrics, RunSpec, RunSummary, RunsCreated, ShareCreated, ShareInfo, ShareRequest,
    SharedPage, SweepCreated, SweepItem, SweepReport, SweepSummary,
};

/// A boxed future, so the trait stays object-safe without an async runtime in this crate.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an operation answers: its value, or why not.
pub type Answer<'a, T> = BoxFut<'a, Result<T, Failure>>;

/// Lists return at most this many items, newest first.
pub const LIST_LIMIT: i64 = 500;

/// Why an operation did not happen, as every door shows it: the HTTP status, a message safe to
/// show (never a path or an internal detail: those go to the server's log) and, for a request
/// that parsed but is wrong, one message per field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub status: u16,
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldError>>,
}

impl Failure {
    /// A refusal with this HTTP status and message, and no field errors.
    pub fn new(status: u16, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            fields: None,
        }
    }

    /// 404: `what` (a run, a sweep…) does not exist.
    pub fn not_found(what: &str) -> Self {
        Self::new(404, format!("{what} not found"))
    }

    /// 422: the request parsed, but these fields are wrong.
    pub fn invalid(fields: Vec<FieldError>) -> Self {
        Self {
            status: 422,
            error: "invalid request".into(),
            fields: Some(fields),
        }
    }

    /// 422 on one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// 409: the request is well formed, but the thing is not in a state that allows it.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    /// 400: the request could not be read at all.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 500: something failed that the user cannot fix; the detail belongs in the log.
    pub fn internal() -> Self {
        Self::new(500, "internal error")
    }

    /// The field errors, if the request was refused field by field.
    pub fn field_errors(&self) -> &[FieldError] {
        self.fields.as_deref().unwrap_or_default()
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)?;
        for e in self.field_errors() {
            write!(f, "; {}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// Every operation, whichever door it is called through.
pub trait Lab: Send + Sync + 'static {
    /// Validates and queues a run.
    /// Validates and queues one run per seed (1–16), on the spec's data.
    fn create_replicates(&self, req: ReplicateRequest) -> Answer<'_, RunsCreated>;
    fn create_run(&self, spec: RunSpec) -> Answer<'_, Created>;
    fn list_runs(&self) -> Answer<'_, Vec<RunSummary>>;
    fn get_run(&self, id: i64) -> Answer<'_, RunSummary>;
    /// Cancels a queued or running run.
    fn cancel_run(&self, id: i64) -> Answer<'_, Cancelled>;
    /// Puts an interrupted run back in the queue, to continue from its last checkpoint.
    fn resume_run(&self, id: i64) -> Answer<'_, Resumed>;
    /// Every stored metric row of a run, oldest first.
    fn run_metrics(&self, id: i64) -> Answer<'_, Vec<MetricRow>>;

    /// Validates and queues a decay sweep: the main run and one branch per decay point.
    fn create_sweep(&self, spec: experiment::SweepSpec) -> Answer<'_, SweepCreated>;
    /// Queues more seeds of a sweep (each a main path and its branches); the existing runs
    /// are kept as they are. Answers the new runs.
    fn add_sweep_seeds(&self, id: i64, req: AddSeeds) -> Answer<'_, SweepCreated>;
    fn list_sweeps(&self) -> Answer<'_, Vec<SweepItem>>;
    fn get_sweep(&self, id: i64) -> Answer<'_, SweepSummary>;
    /// The metric rows of every run of a sweep, for the overlaid charts.
    fn sweep_metrics(&self, id: i64) -> Answer<'_, Vec<RunMetrics>>;
    /// Final metrics per finished branch, Pearson r and the conclusion.
    fn sweep_summary(&self, id: i64) -> Answer<'_, SweepReport>;
    /// Each loss law fitted on the main path and earliest finished branch, and its prediction
    /// of every other branch beside the measured one; 409 until two paths of a seed finished.
    fn sweep_prediction(&self, id: i64) -> Answer<'_, SweepPrediction>;
    /// A finished sweep's laws as a what-if reference for the schedule editor.
    fn sweep_reference(&self, id: i64) -> Answer<'_, ReferenceLaw>;
    /// A finished run's laws (fitted on its curve, validated on its tail) as a reference.
    fn run_reference(&self, id: i64) -> Answer<'_, ReferenceLaw>;

    /// Freezes a run, sweep or landscape behind a new read-only link.
    fn create_share(&self, req: ShareRequest) -> Answer<'_, ShareCreated>;
    /// The links, never with their tokens.
    fn list_shares(&self) -> Answer<'_, Vec<ShareInfo>>;
    fn revoke_share(&self, id: i64) -> Answer<'_, Revoked>;
    /// The frozen page behind a live link; unknown, revoked and expired links are 404.
    fn open_share(&self, token: String) -> Answer<'_, SharedPage>;

    /// Validates a landscape request against what is stored and queues it.
    fn create_landscape(&self, req: LandscapeRequest) -> Answer<'_, Created>;
    fn list_landscapes(&self, filter: LandscapeFilter) -> Answer<'_, Vec<LandscapeSummary>>;
    fn get_landscape(&self, id: i64) -> Answer<'_, LandscapeSummary>;
    /// The computed maps; 404 until the job has finished.
    fn landscape_result(&self, id: i64) -> Answer<'_, Landscape>;
    fn cancel_landscape(&self, id: i64) -> Answer<'_, Cancelled>;
    /// The built-in datasets and every registered one (newest version of each name first).
    fn list_datasets(&self) -> Answer<'_, Vec<DatasetInfo>>;
    /// A dataset by name: its newest version.
    fn get_dataset(&self, name: String) -> Answer<'_, DatasetInfo>;
    /// Deletes every version of a registered dataset; refused (409, with their ids) while runs
    /// use it.
    fn delete_dataset(&self, name: String) -> Answer<'_, DatasetDeleted>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_serialise_as_the_api_error_body() {
        let f = Failure::field("seed", "must be at most 2^53");
        let json = serde_json::to_value(&f).expect("serialises");
        assert_eq!(json["status"], 422);
        assert_eq!(json["error"], "invalid request");
        assert_eq!(json["fields"][0]["field"], "seed");
        let back: Failure = serde_json::from_value(json).expect("parses back");
        assert_eq!(back, f);
        let nf = serde_json::to_value(Failure::not_found("run")).expect("serialises");
        assert_eq!(nf["error"], "run not found");
        assert!(nf.get("fields").is_none());
        assert_eq!(
            Failure::field("k", "too big").to_string(),
            "invalid request; k: too big"
        );
    }
}

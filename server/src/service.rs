//! The service, implemented once: every operation of `domain::Lab` over storage, the run queue
//! and the landscape queue. The JSON API, the server functions and the CLI all call this, so
//! limits, 404s and validation are decided here.

use std::sync::Arc;

use domain::prediction::{self, ReferenceLaw, SweepPrediction};
use domain::wire::{
    AddSeeds, Cancelled, Created, DatasetDeleted, DatasetInfo, Landscape, LandscapeFilter,
    LandscapeRequest, LandscapeSource, LandscapeSummary, MetricRow, ReplicateRequest, Resumed,
    Revoked, RunMetrics, RunSpec, RunSummary, RunsCreated, ShareCreated, ShareInfo, ShareRequest,
    SharedPage, SweepCreated, SweepItem, SweepReport, SweepSummary,
};
use domain::{Answer, Failure, LIST_LIMIT, Lab};

use crate::db::{Db, DbError};
use crate::landscapes::LandscapeService;
use crate::registry::{RegisterOptions, Registered, RegistryLimits, upload};
use crate::runs::RunService;
use crate::shares;

pub struct Service {
    runs: Arc<RunService>,
    landscapes: Arc<LandscapeService>,
    /// How much a dataset upload may hold.
    dataset_limits: RegistryLimits,
}

/// A storage failure is logged in full and shown as a plain 500.
impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        if let DbError::Conflict(msg) = e {
            return Failure::conflict(msg);
        }
        tracing::error!(error = %e, "storage error");
        Failure::internal()
    }
}

impl Service {
    pub fn new(
        runs: Arc<RunService>,
        landscapes: Arc<LandscapeService>,
        dataset_limits: RegistryLimits,
    ) -> Arc<Self> {
        Arc::new(Self {
            runs,
            landscapes,
            dataset_limits,
        })
    }

    pub fn dataset_limits(&self) -> &RegistryLimits {
        &self.dataset_limits
    }

    /// Registers an uploaded dataset: the body streams onto disk (refused by its declared
    /// length before a byte is read, cut off past the cap), is decoded into the registry, and
    /// the upload itself is removed whatever the outcome.
    pub async fn register_upload<S, E>(
        &self,
        name: &str,
        file_name: Option<&str>,
        declared: Option<u64>,
        body: S,
        options: RegisterOptions,
    ) -> Result<Registered, Failure>
    where
        S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let registry = self.runs.registry();
        // Before a byte of the body: a bad name needs no upload to be refused.
        crate::registry::check_name(name).map_err(Failure::invalid)?;
        let limit = self.dataset_limits.max_upload_bytes;
        let received = upload::receive(&registry.uploads_dir(), file_name, declared, limit, body)
            .await
            .map_err(|r| match r {
                upload::Refused::TooLarge { limit } => {
                    Failure::new(413, format!("the upload is larger than this server takes ({limit} bytes; ANNEAL_DATASET_MAX_BYTES)"))
                }
                upload::Refused::BrokeOff(why) => Failure::invalid(vec![domain::wire::FieldError {
                    field: crate::registry::SOURCE_FIELD.into(),
                    message: format!("the upload broke off before it ended: {why}"),
                }]),
                upload::Refused::Empty => Failure::invalid(vec![domain::wire::FieldError {
                    field: crate::registry::SOURCE_FIELD.into(),
                    message: "the upload is empty".into(),
                }]),
                upload::Refused::Io(e) => {
                    tracing::error!(error = %e, "storing an upload failed");
                    Failure::internal()
                }
            })?;
        registry
            .register(
                name,
                received.path(),
                options,
                &self.dataset_limits.import,
                file_name.unwrap_or("the upload"),
            )
            .await?
            .map_err(Failure::invalid)
    }

    pub fn runs(&self) -> &Arc<RunService> {
        &self.runs
    }

    pub fn landscapes(&self) -> &Arc<LandscapeService> {
        &self.landscapes
    }

    pub fn db(&self) -> &Db {
        self.runs.db()
    }

    async fn run(&self, id: i64) -> Result<RunSummary, Failure> {
        self.db()
            .get_run(id)
            .await?
            .ok_or_else(|| Failure::not_found("run"))
    }

    async fn sweep(&self, id: i64) -> Result<SweepSummary, Failure> {
        self.db()
            .get_sweep(id)
            .await?
            .ok_or_else(|| Failure::not_found("sweep"))
    }

    async fn landscape(&self, id: i64) -> Result<LandscapeSummary, Failure> {
        self.db()
            .get_landscape(id)
            .await?
            .ok_or_else(|| Failure::not_found("landscape"))
    }

    async fn metrics_of_sweep(&self, sweep: &SweepSummary) -> Result<Vec<RunMetrics>, Failure> {
        let ids: Vec<i64> = sweep.runs.iter().map(|r| r.run.id).collect();
        Ok(self.runs.metrics_of(ids).await?)
    }

    /// The sweep and its prediction. Fitting is seconds of arithmetic, so it runs off the
    /// async workers.
    async fn prediction(&self, id: i64) -> Result<(SweepSummary, SweepPrediction), Failure> {
        let sweep = self.sweep(id).await?;
        let metrics = self.metrics_of_sweep(&sweep).await?;
        let s = sweep.clone();
        let p = fit_off_thread(move || prediction::sweep_prediction(&s, &metrics)).await?;
        Ok((sweep, p))
    }
}

/// Runs a loss-law fit (up to seconds of arithmetic) on a blocking thread; its refusal (too
/// little finished to fit) is a 409.
async fn fit_off_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "loss-law fit failed");
            Failure::internal()
        })?
        .map_err(Failure::conflict)
}

impl Lab for Service {
    fn create_run(&self, spec: RunSpec) -> Answer<'_, Created> {
        Box::pin(async move {
            let id = self.runs.submit(spec).await?.map_err(Failure::invalid)?;
            Ok(Created { id })
        })
    }

    fn create_replicates(&self, req: ReplicateRequest) -> Answer<'_, RunsCreated> {
        Box::pin(async move {
            let runs = self
                .runs
                .submit_replicates(req.spec, &req.seeds)
                .await?
                .map_err(Failure::invalid)?;
            Ok(RunsCreated { runs })
        })
    }

    fn list_runs(&self) -> Answer<'_, Vec<RunSummary>> {
        Box::pin(async move { Ok(self.db().list_runs(LIST_LIMIT).await?) })
    }

    fn get_run(&self, id: i64) -> Answer<'_, RunSummary> {
        Box::pin(self.run(id))
    }

    fn cancel_run(&self, id: i64) -> Answer<'_, Cancelled> {
        Box::pin(async move {
            let run = self.run(id).await?;
            if !self.runs.cancel(id).await? {
                return Err(Failure::conflict(format!(
                    "run {id} is {}: only a queued or running run can be cancelled",
                    run.status.as_str()
                )));
            }
            Ok(Cancelled { cancelled: true })
        })
    }

    fn resume_run(&self, id: i64) -> Answer<'_, Resumed> {
        Box::pin(async move {
            let run = self.run(id).await?;
            if !self.runs.resume(id).await? {
                return Err(Failure::conflict(format!(
                    "run {id} is {}: only an interrupted run can be resumed",
                    run.status.as_str()
                )));
            }
            Ok(Resumed { resumed: true })
        })
    }

    fn run_metrics(&self, id: i64) -> Answer<'_, Vec<MetricRow>> {
        Box::pin(async move {
            self.run(id).await?;
            Ok(self
                .runs
                .metrics(id)
                .await?
                .into_iter()
                .map(|(seq, p)| MetricRow {
                    seq,
                    step: p.step,
                    epoch: p.epoch,
                    values: p.values,
                })
                .collect())
        })
    }

    fn create_sweep(&self, spec: experiment::SweepSpec) -> Answer<'_, SweepCreated> {
        Box::pin(async move {
            let (id, runs) = self
                .runs
                .submit_sweep(spec)
                .await?
                .map_err(Failure::invalid)?;
            Ok(SweepCreated { id, runs })
        })
    }

    fn add_sweep_seeds(&self, id: i64, req: AddSeeds) -> Answer<'_, SweepCreated> {
        Box::pin(async move {
            let runs = self
                .runs
                .add_sweep_seeds(id, req.seeds)
                .await?
                .ok_or_else(|| Failure::not_found("sweep"))?
                .map_err(Failure::invalid)?;
            Ok(SweepCreated { id, runs })
        })
    }

    fn list_sweeps(&self) -> Answer<'_, Vec<SweepItem>> {
        Box::pin(async move {
            Ok(self
                .db()
                .list_sweeps(LIST_LIMIT)
                .await?
                .into_iter()
                .map(|(id, name, created_at_ms)| SweepItem {
                    id,
                    name,
                    created_at_ms,
                })
                .collect())
        })
    }

    fn get_sweep(&self, id: i64) -> Answer<'_, SweepSummary> {
        Box::pin(self.sweep(id))
    }

    fn sweep_metrics(&self, id: i64) -> Answer<'_, Vec<RunMetrics>> {
        Box::pin(async move {
            let sweep = self.sweep(id).await?;
            self.metrics_of_sweep(&sweep).await
        })
    }

    fn sweep_prediction(&self, id: i64) -> Answer<'_, SweepPrediction> {
        Box::pin(async move { Ok(self.prediction(id).await?.1) })
    }

    fn sweep_reference(&self, id: i64) -> Answer<'_, ReferenceLaw> {
        Box::pin(async move {
            let (sweep, p) = self.prediction(id).await?;
            Ok(ReferenceLaw::of_sweep(&sweep, &p))
        })
    }

    fn run_reference(&self, id: i64) -> Answer<'_, ReferenceLaw> {
        Box::pin(async move {
            let run = self.run(id).await?;
            let mut metrics = self.runs.metrics_of(vec![id]).await?;
            let points = metrics.pop().map(|m| m.points).unwrap_or_default();
            fit_off_thread(move || prediction::run_reference(&run, &points)).await
        })
    }

    fn sweep_summary(&self, id: i64) -> Answer<'_, SweepReport> {
        Box::pin(async move {
            let sweep = self.sweep(id).await?;
            let metrics = self.metrics_of_sweep(&sweep).await?;
            Ok(domain::analysis::sweep_report(&sweep, &metrics))
        })
    }

    fn create_share(&self, req: ShareRequest) -> Answer<'_, ShareCreated> {
        Box::pin(async move {
            shares::create(&self.runs, req)
                .await?
                .map_err(Failure::invalid)
        })
    }

    fn list_shares(&self) -> Answer<'_, Vec<ShareInfo>> {
        Box::pin(async move { Ok(self.db().list_shares(LIST_LIMIT).await?) })
    }

    fn revoke_share(&self, id: i64) -> Answer<'_, Revoked> {
        Box::pin(async move {
            if !self.db().share_exists(id).await? {
                return Err(Failure::not_found("share link"));
            }
            if !self.db().revoke_share(id).await? {
                return Err(Failure::conflict("this link was already revoked"));
            }
            Ok(Revoked { revoked: true })
        })
    }

    fn open_share(&self, token: String) -> Answer<'_, SharedPage> {
        Box::pin(async move {
            shares::open(self.db(), &token)
                .await?
                .ok_or_else(|| Failure::not_found("share link"))
        })
    }

    fn create_landscape(&self, req: LandscapeRequest) -> Answer<'_, Created> {
        Box::pin(async move {
            let id = self
                .landscapes
                .submit(req)
                .await?
                .map_err(Failure::invalid)?;
            Ok(Created { id })
        })
    }

    fn list_landscapes(&self, filter: LandscapeFilter) -> Answer<'_, Vec<LandscapeSummary>> {
        Box::pin(async move {
            let source = match (filter.run, filter.sweep) {
                (Some(id), None) => Some(LandscapeSource::Run { id }),
                (None, Some(id)) => Some(LandscapeSource::Sweep { id }),
                (None, None) => None,
                (Some(_), Some(_)) => {
                    return Err(Failure::bad_request("give run or sweep, not both"));
                }
            };
            Ok(self.db().list_landscapes(source, LIST_LIMIT).await?)
        })
    }

    fn get_landscape(&self, id: i64) -> Answer<'_, LandscapeSummary> {
        Box::pin(self.landscape(id))
    }

    fn landscape_result(&self, id: i64) -> Answer<'_, Landscape> {
        Box::pin(async move {
            self.db()
                .landscape_result(id)
                .await?
                .ok_or_else(|| Failure::not_found("landscape result"))
        })
    }

    fn cancel_landscape(&self, id: i64) -> Answer<'_, Cancelled> {
        Box::pin(async move {
            let job = self.landscape(id).await?;
            if !self.landscapes.cancel(id).await? {
                return Err(Failure::conflict(format!(
                    "landscape {id} is {}: only a queued or computing job can be cancelled",
                    job.status.as_str()
                )));
            }
            Ok(Cancelled { cancelled: true })
        })
    }

    fn list_datasets(&self) -> Answer<'_, Vec<DatasetInfo>> {
        Box::pin(async move { Ok(self.runs.registry().list().await?) })
    }

    fn get_dataset(&self, name: String) -> Answer<'_, DatasetInfo> {
        Box::pin(async move {
            self.runs
                .registry()
                .get(&name)
                .await?
                .ok_or_else(|| Failure::not_found("dataset"))
        })
    }

    fn delete_dataset(&self, name: String) -> Answer<'_, DatasetDeleted> {
        Box::pin(async move {
            match self.runs.registry().delete(&name).await? {
                None => Err(Failure::not_found("registered dataset")),
                Some(Err(runs)) => Err(Failure::conflict(format!(
                    "runs trained on {name:?} ({}); it stays registered while they exist",
                    runs.iter()
                        .map(|id| format!("#{id}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
                Some(Ok(versions)) => Ok(DatasetDeleted { name, versions }),
            }
        })
    }
}

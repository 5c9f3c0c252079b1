//! The server's side of the UI's `Lab` seam: server functions reach the run service here.

use std::sync::Arc;

use app::api::{BoxFut, Lab, LabError};
use app::wire::{
    FieldError, Landscape, LandscapeRequest, LandscapeSource, LandscapeSummary, RunMetrics,
    RunSpec, RunSummary, ShareCreated, ShareInfo, ShareRequest, SharedPage, SweepSummary,
};

use crate::db::DbError;
use crate::landscapes::LandscapeService;
use crate::runs::RunService;

pub struct ServiceLab(pub Arc<RunService>, pub Arc<LandscapeService>);

fn hide(e: DbError) -> LabError {
    tracing::error!(error = %e, "storage error behind a server function");
    LabError("the server could not reach its database".into())
}

impl Lab for ServiceLab {
    fn submit(&self, spec: RunSpec) -> BoxFut<'_, Result<Result<i64, Vec<FieldError>>, LabError>> {
        Box::pin(async move { self.0.submit(spec).await.map_err(hide) })
    }
    fn list(&self) -> BoxFut<'_, Result<Vec<RunSummary>, LabError>> {
        Box::pin(async move { self.0.db().list_runs(200).await.map_err(hide) })
    }
    fn get(&self, id: i64) -> BoxFut<'_, Result<Option<RunSummary>, LabError>> {
        Box::pin(async move { self.0.db().get_run(id).await.map_err(hide) })
    }
    fn cancel(&self, id: i64) -> BoxFut<'_, Result<bool, LabError>> {
        Box::pin(async move { self.0.cancel(id).await.map_err(hide) })
    }
    fn resume(&self, id: i64) -> BoxFut<'_, Result<bool, LabError>> {
        Box::pin(async move { self.0.resume(id).await.map_err(hide) })
    }
    fn submit_sweep(
        &self,
        spec: spec::SweepSpec,
    ) -> BoxFut<'_, Result<Result<i64, Vec<FieldError>>, LabError>> {
        Box::pin(async move {
            Ok(self
                .0
                .submit_sweep(spec)
                .await
                .map_err(hide)?
                .map(|(id, _)| id))
        })
    }
    fn get_sweep(&self, id: i64) -> BoxFut<'_, Result<Option<SweepSummary>, LabError>> {
        Box::pin(async move { self.0.db().get_sweep(id).await.map_err(hide) })
    }
    fn list_sweeps(&self) -> BoxFut<'_, Result<Vec<(i64, String, i64)>, LabError>> {
        Box::pin(async move { self.0.db().list_sweeps(200).await.map_err(hide) })
    }
    fn metrics(&self, run_ids: Vec<i64>) -> BoxFut<'_, Result<Vec<RunMetrics>, LabError>> {
        Box::pin(async move { self.0.metrics_of(run_ids).await.map_err(hide) })
    }
    fn create_share(
        &self,
        req: ShareRequest,
    ) -> BoxFut<'_, Result<Result<ShareCreated, Vec<FieldError>>, LabError>> {
        Box::pin(async move { crate::shares::create(&self.0, req).await.map_err(hide) })
    }
    fn list_shares(&self) -> BoxFut<'_, Result<Vec<ShareInfo>, LabError>> {
        Box::pin(async move { self.0.db().list_shares(500).await.map_err(hide) })
    }
    fn revoke_share(&self, id: i64) -> BoxFut<'_, Result<bool, LabError>> {
        Box::pin(async move { self.0.db().revoke_share(id).await.map_err(hide) })
    }
    fn open_share(&self, token: String) -> BoxFut<'_, Result<Option<SharedPage>, LabError>> {
        Box::pin(async move { crate::shares::open(self.0.db(), &token).await.map_err(hide) })
    }
    fn start_landscape(
        &self,
        req: LandscapeRequest,
    ) -> BoxFut<'_, Result<Result<i64, Vec<FieldError>>, LabError>> {
        Box::pin(async move { self.1.submit(req).await.map_err(hide) })
    }
    fn get_landscape(
        &self,
        id: i64,
    ) -> BoxFut<'_, Result<Option<(LandscapeSummary, Option<Landscape>)>, LabError>> {
        Box::pin(async move {
            let db = self.0.db();
            let Some(job) = db.get_landscape(id).await.map_err(hide)? else {
                return Ok(None);
            };
            let result = db.landscape_result(id).await.map_err(hide)?;
            Ok(Some((job, result)))
        })
    }
    fn list_landscapes(
        &self,
        source: Option<LandscapeSource>,
    ) -> BoxFut<'_, Result<Vec<LandscapeSummary>, LabError>> {
        Box::pin(async move { self.0.db().list_landscapes(source, 200).await.map_err(hide) })
    }
    fn cancel_landscape(&self, id: i64) -> BoxFut<'_, Result<bool, LabError>> {
        Box::pin(async move { self.1.cancel(id).await.map_err(hide) })
    }
}

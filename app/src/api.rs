//! Server functions the pages call, and the `Lab` seam the server implements behind them.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use crate::wire::{
    Landscape, LandscapeReply, LandscapeRequest, LandscapeSummary, RunMetrics, RunSpec, RunSummary,
    ShareInfo, ShareReply, ShareRequest, SharedPage, StartReply, SweepSummary,
};

#[cfg(feature = "ssr")]
pub use lab::{BoxFut, Lab, LabError, SharedLab};

#[cfg(feature = "ssr")]
mod lab {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use crate::wire::{
        FieldError, Landscape, LandscapeRequest, LandscapeSource, LandscapeSummary, RunMetrics,
        RunSpec, RunSummary, ShareCreated, ShareInfo, ShareRequest, SharedPage, SweepSummary,
    };

    pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    /// A failure the user can't fix; its text is safe to show (no paths, no internals).
    #[derive(Debug, Clone)]
    pub struct LabError(pub String);

    /// What the UI needs from the server. The server crate implements it over its run
    /// service; the UI crate stays free of storage and training code.
    pub trait Lab: Send + Sync + 'static {
        fn submit(
            &self,
            spec: RunSpec,
        ) -> BoxFut<'_, Result<Result<i64, Vec<FieldError>>, LabError>>;
        fn list(&self) -> BoxFut<'_, Result<Vec<RunSummary>, LabError>>;
        fn get(&self, id: i64) -> BoxFut<'_, Result<Option<RunSummary>, LabError>>;
        fn cancel(&self, id: i64) -> BoxFut<'_, Result<bool, LabError>>;
        fn resume(&self, id: i64) -> BoxFut<'_, Result<bool, LabError>>;
        fn submit_sweep(
            &self,
            spec: spec::SweepSpec,
        ) -> BoxFut<'_, Result<Result<i64, Vec<FieldError>>, LabError>>;
        fn get_sweep(&self, id: i64) -> BoxFut<'_, Result<Option<SweepSummary>, LabError>>;
        fn list_sweeps(&self) -> BoxFut<'_, Result<Vec<(i64, String, i64)>, LabError>>;
        fn metrics(&self, run_ids: Vec<i64>) -> BoxFut<'_, Result<Vec<RunMetrics>, LabError>>;
        fn create_share(
            &self,
            req: ShareRequest,
        ) -> BoxFut<'_, Result<Result<ShareCreated, Vec<FieldError>>, LabError>>;
        fn list_shares(&self) -> BoxFut<'_, Result<Vec<ShareInfo>, LabError>>;
        fn revoke_share(&self, id: i64) -> BoxFut<'_, Result<bool, LabError>>;
        /// The frozen page behind a live link; unknown, revoked and expired links are `None`.
        fn open_share(&self, token: String) -> BoxFut<'_, Result<Option<SharedPage>, LabError>>;
        fn start_landscape(
            &self,
            req: LandscapeRequest,
        ) -> BoxFut<'_, Result<Result<i64, Vec<FieldError>>, LabError>>;
        /// A job and, once it has finished, its maps.
        fn get_landscape(
            &self,
            id: i64,
        ) -> BoxFut<'_, Result<Option<(LandscapeSummary, Option<Landscape>)>, LabError>>;
        fn list_landscapes(
            &self,
            source: Option<LandscapeSource>,
        ) -> BoxFut<'_, Result<Vec<LandscapeSummary>, LabError>>;
        fn cancel_landscape(&self, id: i64) -> BoxFut<'_, Result<bool, LabError>>;
    }

    pub type SharedLab = Arc<dyn Lab>;
}

#[cfg(feature = "ssr")]
fn lab() -> Result<SharedLab, ServerFnError> {
    use_context::<SharedLab>().ok_or_else(|| ServerFnError::new("server is not configured"))
}

/// Validates and queues a run. Invalid specs come back as field errors, not as an error.
#[server(input = Json)]
pub async fn start_run(spec: RunSpec) -> Result<StartReply, ServerFnError> {
    match lab()?
        .submit(spec)
        .await
        .map_err(|e| ServerFnError::new(e.0))?
    {
        Ok(id) => Ok(StartReply::Created { id }),
        Err(errors) => Ok(StartReply::Invalid { errors }),
    }
}

// Reads are GETs: a shared server requires the admin token only on POSTs.
#[server(input = GetUrl)]
pub async fn list_runs() -> Result<Vec<RunSummary>, ServerFnError> {
    lab()?.list().await.map_err(|e| ServerFnError::new(e.0))
}

#[server(input = GetUrl)]
pub async fn get_run(id: i64) -> Result<Option<RunSummary>, ServerFnError> {
    lab()?.get(id).await.map_err(|e| ServerFnError::new(e.0))
}

#[server]
pub async fn cancel_run(id: i64) -> Result<bool, ServerFnError> {
    lab()?.cancel(id).await.map_err(|e| ServerFnError::new(e.0))
}

/// Continues an interrupted run from its last checkpoint.
#[server]
pub async fn resume_run(id: i64) -> Result<bool, ServerFnError> {
    lab()?.resume(id).await.map_err(|e| ServerFnError::new(e.0))
}

/// Validates and queues a decay sweep (main run plus one branch per decay point).
#[server(input = Json)]
pub async fn start_sweep(spec: spec::SweepSpec) -> Result<StartReply, ServerFnError> {
    match lab()?
        .submit_sweep(spec)
        .await
        .map_err(|e| ServerFnError::new(e.0))?
    {
        Ok(id) => Ok(StartReply::Created { id }),
        Err(errors) => Ok(StartReply::Invalid { errors }),
    }
}

#[server(input = GetUrl)]
pub async fn get_sweep(id: i64) -> Result<Option<SweepSummary>, ServerFnError> {
    lab()?
        .get_sweep(id)
        .await
        .map_err(|e| ServerFnError::new(e.0))
}

#[server(input = GetUrl)]
pub async fn list_sweeps() -> Result<Vec<(i64, String, i64)>, ServerFnError> {
    lab()?
        .list_sweeps()
        .await
        .map_err(|e| ServerFnError::new(e.0))
}

/// The stored metric rows of the sweep's runs, for the overlaid charts.
#[server(input = GetUrl)]
pub async fn sweep_metrics(id: i64) -> Result<Vec<RunMetrics>, ServerFnError> {
    let lab = lab()?;
    let sweep = lab
        .get_sweep(id)
        .await
        .map_err(|e| ServerFnError::new(e.0))?;
    let ids = sweep
        .map(|s| s.runs.iter().map(|r| r.run.id).collect())
        .unwrap_or_default();
    lab.metrics(ids).await.map_err(|e| ServerFnError::new(e.0))
}

/// Freezes a run or sweep behind a new read-only link.
#[server(input = Json)]
pub async fn create_share(req: ShareRequest) -> Result<ShareReply, ServerFnError> {
    match lab()?
        .create_share(req)
        .await
        .map_err(|e| ServerFnError::new(e.0))?
    {
        Ok(created) => Ok(ShareReply::Created(created)),
        Err(errors) => Ok(ShareReply::Invalid { errors }),
    }
}

#[server(input = GetUrl)]
pub async fn list_shares() -> Result<Vec<ShareInfo>, ServerFnError> {
    lab()?
        .list_shares()
        .await
        .map_err(|e| ServerFnError::new(e.0))
}

#[server]
pub async fn revoke_share(id: i64) -> Result<bool, ServerFnError> {
    lab()?
        .revoke_share(id)
        .await
        .map_err(|e| ServerFnError::new(e.0))
}

/// The shared page behind `token` (the server answers 404 for dead links before rendering).
#[server(input = GetUrl)]
pub async fn open_share(token: String) -> Result<Option<SharedPage>, ServerFnError> {
    lab()?
        .open_share(token)
        .await
        .map_err(|e| ServerFnError::new(e.0))
}

/// Validates and queues a loss-landscape job.
#[server(input = Json)]
pub async fn start_landscape(req: LandscapeRequest) -> Result<LandscapeReply, ServerFnError> {
    match lab()?
        .start_landscape(req)
        .await
        .map_err(|e| ServerFnError::new(e.0))?
    {
        Ok(id) => Ok(LandscapeReply::Created { id }),
        Err(errors) => Ok(LandscapeReply::Invalid { errors }),
    }
}

#[server(input = GetUrl)]
pub async fn get_landscape(
    id: i64,
) -> Result<Option<(LandscapeSummary, Option<Landscape>)>, ServerFnError> {
    lab()?
        .get_landscape(id)
        .await
        .map_err(|e| ServerFnError::new(e.0))
}

/// Landscapes of one run (`run`), one sweep (`sweep`), or all. Plain ids rather than a
/// `LandscapeSource`: a tagged enum does not survive the GET query-string encoding.
#[server(input = GetUrl)]
pub async fn list_landscapes(
    run: Option<i64>,
    sweep: Option<i64>,
) -> Result<Vec<LandscapeSummary>, ServerFnError> {
    use crate::wire::LandscapeSource;
    let source = match (run, sweep) {
        (Some(id), _) => Some(LandscapeSource::Run { id }),
        (None, Some(id)) => Some(LandscapeSource::Sweep { id }),
        (None, None) => None,
    };
    lab()?
        .list_landscapes(source)
        .await
        .map_err(|e| ServerFnError::new(e.0))
}

#[server]
pub async fn cancel_landscape(id: i64) -> Result<bool, ServerFnError> {
    lab()?
        .cancel_landscape(id)
        .await
        .map_err(|e| ServerFnError::new(e.0))
}

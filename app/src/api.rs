//! The server functions the pages call: one per operation of `domain::Lab`, each a thin door
//! onto the one service the server provides as context. Their answers and refusals are the
//! same JSON, with the same HTTP status, as the JSON API's.

use domain::Failure;
// `RunMetrics` and `SweepSummary` stay qualified: the server functions `run_metrics` and
// `sweep_summary` generate structs of those names.
use domain::wire::{
    self, Cancelled, Created, DatasetDeleted, DatasetInfo, Landscape, LandscapeRequest,
    LandscapeSummary, Resumed, Revoked, RunSpec, RunSummary, ShareCreated, ShareInfo, ShareRequest,
    SharedPage, SweepCreated, SweepItem, SweepReport,
};
use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json, JsonEncoding};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A refused call, as server functions carry it: the service's `Failure`, or one made from a
/// transport or decoding problem (a malformed argument is a 400, like the JSON API's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Refusal(pub Failure);

impl Refusal {
    pub fn is_not_found(&self) -> bool {
        self.0.status == 404
    }

    pub fn field_errors(&self) -> Vec<wire::FieldError> {
        self.0.field_errors().to_vec()
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Failure> for Refusal {
    fn from(f: Failure) -> Self {
        Self(f)
    }
}

impl FromServerFnError for Refusal {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(e: ServerFnErrorErr) -> Self {
        Self(match e {
            ServerFnErrorErr::Args(m)
            | ServerFnErrorErr::MissingArg(m)
            | ServerFnErrorErr::Deserialization(m) => {
                Failure::bad_request(format!("could not read the request: {m}"))
            }
            ServerFnErrorErr::UnsupportedRequestMethod(m) => Failure::bad_request(m),
            ServerFnErrorErr::Request(m) => {
                Failure::new(503, format!("could not reach the server: {m}"))
            }
            _ => Failure::internal(),
        })
    }
}

/// A 404 as `None`, for pages that say "no such run" instead of showing an error.
pub fn found<T>(r: Result<T, Refusal>) -> Result<Option<T>, Refusal> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(feature = "ssr")]
fn lab() -> Result<std::sync::Arc<dyn domain::Lab>, Refusal> {
    use_context::<std::sync::Arc<dyn domain::Lab>>().ok_or_else(|| Refusal(Failure::internal()))
}

/// The JSON API answers a creation with 201; so does its server function.
#[cfg(feature = "ssr")]
fn created<T>(value: T) -> T {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(leptos::server_fn::http_export::StatusCode::CREATED);
    }
    value
}

// Reads are GETs: a shared server requires the admin token only on POSTs.

#[server(prefix = "/api/fn", endpoint = "create_run", input = Json)]
pub async fn create_run(spec: RunSpec) -> Result<Created, Refusal> {
    Ok(created(lab()?.create_run(spec).await?))
}

#[server(prefix = "/api/fn", endpoint = "create_replicates", input = Json)]
pub async fn create_replicates(req: wire::ReplicateRequest) -> Result<wire::RunsCreated, Refusal> {
    Ok(created(lab()?.create_replicates(req).await?))
}

#[server(prefix = "/api/fn", endpoint = "list_runs", input = GetUrl)]
pub async fn list_runs() -> Result<Vec<RunSummary>, Refusal> {
    Ok(lab()?.list_runs().await?)
}

#[server(prefix = "/api/fn", endpoint = "get_run", input = GetUrl)]
pub async fn get_run(id: i64) -> Result<RunSummary, Refusal> {
    Ok(lab()?.get_run(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "cancel_run")]
pub async fn cancel_run(id: i64) -> Result<Cancelled, Refusal> {
    Ok(lab()?.cancel_run(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "resume_run")]
pub async fn resume_run(id: i64) -> Result<Resumed, Refusal> {
    Ok(lab()?.resume_run(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "run_metrics", input = GetUrl)]
pub async fn run_metrics(id: i64) -> Result<Vec<wire::MetricRow>, Refusal> {
    Ok(lab()?.run_metrics(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "create_sweep", input = Json)]
pub async fn create_sweep(spec: experiment::SweepSpec) -> Result<SweepCreated, Refusal> {
    Ok(created(lab()?.create_sweep(spec).await?))
}

#[server(prefix = "/api/fn", endpoint = "add_sweep_seeds", input = Json)]
pub async fn add_sweep_seeds(id: i64, seeds: Vec<u64>) -> Result<SweepCreated, Refusal> {
    Ok(created(
        lab()?.add_sweep_seeds(id, wire::AddSeeds { seeds }).await?,
    ))
}

#[server(prefix = "/api/fn", endpoint = "list_sweeps", input = GetUrl)]
pub async fn list_sweeps() -> Result<Vec<SweepItem>, Refusal> {
    Ok(lab()?.list_sweeps().await?)
}

#[server(prefix = "/api/fn", endpoint = "get_sweep", input = GetUrl)]
pub async fn get_sweep(id: i64) -> Result<wire::SweepSummary, Refusal> {
    Ok(lab()?.get_sweep(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "sweep_metrics", input = GetUrl)]
pub async fn sweep_metrics(id: i64) -> Result<Vec<wire::RunMetrics>, Refusal> {
    Ok(lab()?.sweep_metrics(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "sweep_summary", input = GetUrl)]
pub async fn sweep_summary(id: i64) -> Result<SweepReport, Refusal> {
    Ok(lab()?.sweep_summary(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "sweep_prediction", input = GetUrl)]
pub async fn sweep_prediction(id: i64) -> Result<domain::prediction::SweepPrediction, Refusal> {
    Ok(lab()?.sweep_prediction(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "sweep_reference", input = GetUrl)]
pub async fn sweep_reference(id: i64) -> Result<domain::prediction::ReferenceLaw, Refusal> {
    Ok(lab()?.sweep_reference(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "run_reference", input = GetUrl)]
pub async fn run_reference(id: i64) -> Result<domain::prediction::ReferenceLaw, Refusal> {
    Ok(lab()?.run_reference(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "create_share", input = Json)]
pub async fn create_share(req: ShareRequest) -> Result<ShareCreated, Refusal> {
    Ok(created(lab()?.create_share(req).await?))
}

#[server(prefix = "/api/fn", endpoint = "list_shares", input = GetUrl)]
pub async fn list_shares() -> Result<Vec<ShareInfo>, Refusal> {
    Ok(lab()?.list_shares().await?)
}

#[server(prefix = "/api/fn", endpoint = "revoke_share")]
pub async fn revoke_share(id: i64) -> Result<Revoked, Refusal> {
    Ok(lab()?.revoke_share(id).await?)
}

/// The shared page behind `token` (the server answers 404 for dead links before rendering).
#[server(prefix = "/api/fn", endpoint = "open_share", input = GetUrl)]
pub async fn open_share(token: String) -> Result<SharedPage, Refusal> {
    Ok(lab()?.open_share(token).await?)
}

#[server(prefix = "/api/fn", endpoint = "create_landscape", input = Json)]
pub async fn create_landscape(req: LandscapeRequest) -> Result<Created, Refusal> {
    Ok(created(lab()?.create_landscape(req).await?))
}

/// Landscapes of one run (`run`), one sweep (`sweep`), or all. Plain ids: a tagged enum does
/// not survive the GET query-string encoding.
#[server(prefix = "/api/fn", endpoint = "list_landscapes", input = GetUrl)]
pub async fn list_landscapes(
    run: Option<i64>,
    sweep: Option<i64>,
) -> Result<Vec<LandscapeSummary>, Refusal> {
    Ok(lab()?
        .list_landscapes(wire::LandscapeFilter { run, sweep })
        .await?)
}

#[server(prefix = "/api/fn", endpoint = "get_landscape", input = GetUrl)]
pub async fn get_landscape(id: i64) -> Result<LandscapeSummary, Refusal> {
    Ok(lab()?.get_landscape(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "landscape_result", input = GetUrl)]
pub async fn landscape_result(id: i64) -> Result<Landscape, Refusal> {
    Ok(lab()?.landscape_result(id).await?)
}

#[server(prefix = "/api/fn", endpoint = "cancel_landscape")]
pub async fn cancel_landscape(id: i64) -> Result<Cancelled, Refusal> {
    Ok(lab()?.cancel_landscape(id).await?)
}

/// The built-in datasets and every registered one (the newest version of each name).
#[server(prefix = "/api/fn", endpoint = "list_datasets", input = GetUrl)]
pub async fn list_datasets() -> Result<Vec<DatasetInfo>, Refusal> {
    Ok(lab()?.list_datasets().await?)
}

#[server(prefix = "/api/fn", endpoint = "get_dataset", input = GetUrl)]
pub async fn get_dataset(name: String) -> Result<DatasetInfo, Refusal> {
    Ok(lab()?.get_dataset(name).await?)
}

/// Deletes every version of a registered dataset; a 409 names the runs that still use it.
/// (Registering one is a plain upload to `POST /api/datasets`: its body is the file itself.)
#[server(prefix = "/api/fn", endpoint = "delete_dataset")]
pub async fn delete_dataset(name: String) -> Result<DatasetDeleted, Refusal> {
    Ok(lab()?.delete_dataset(name).await?)
}

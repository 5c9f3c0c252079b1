//! The dataset registry's routes: the listing, one dataset with its sample thumbnails, an upload
//! (the body is the archive, array or table itself, streamed to disk; options in the query) and
//! deletion. Writes need the admin token where one is required (see `auth::require_admin`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::wire::{DatasetDeleted, DatasetInfo, DatasetRegistered, FieldError};
use domain::{Failure, Lab};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::registry::RegisterOptions;

pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<DatasetInfo>>, ApiError> {
    Ok(Json(s.lab.list_datasets().await?))
}

pub async fn get(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<DatasetInfo>, ApiError> {
    Ok(Json(s.lab.get_dataset(name).await?))
}

pub async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<DatasetDeleted>, ApiError> {
    Ok(Json(s.lab.delete_dataset(name).await?))
}

pub async fn samples(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let png = s
        .lab
        .runs()
        .registry()
        .samples_png(&name)
        .await
        .map_err(Failure::from)?
        .ok_or_else(|| Failure::not_found("dataset thumbnails"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            // Content-addressed data never changes under a name's version; a day is plenty.
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        png,
    )
        .into_response())
}

/// An upload's options: everything but the bytes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    name: String,
    /// The client's file name (its extension tells `.npz` from a zip of images).
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    held_out: Option<f64>,
    /// `WxH`, e.g. `32x32`.
    #[serde(default)]
    resize: Option<String>,
    #[serde(default)]
    label_column: Option<String>,
}

fn parse_resize(text: &str) -> Result<(u32, u32), Failure> {
    let bad = || {
        Failure::invalid(vec![FieldError {
            field: "resize".into(),
            message: "must be WIDTHxHEIGHT, each 1 to 1024, e.g. 32x32".into(),
        }])
    };
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let side = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1024).contains(n))
    };
    Ok((side(w).ok_or_else(bad)?, side(h).ok_or_else(bad)?))
}

pub async fn upload(
    State(s): State<AppState>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<DatasetRegistered>), ApiError> {
    let Query(q) = query.map_err(|e| {
        Failure::bad_request(format!(
            "the upload's options (query string): {}",
            e.body_text()
        ))
    })?;
    let options = RegisterOptions {
        held_out: q.held_out,
        resize: q.resize.as_deref().map(parse_resize).transpose()?,
        label_column: q.label_column,
    };
    let got = s
        .lab
        .register_upload(
            &q.name,
            q.file_name.as_deref(),
            super::declared_length(&headers),
            body.into_data_stream(),
            options,
        )
        .await?;
    let status = if got.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(DatasetRegistered {
            dataset: got.info,
            existed: got.existed,
        }),
    ))
}

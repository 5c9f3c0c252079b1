//! Share links: a frozen, read-only snapshot of a run or a sweep behind a random token (see
//! `crate::tokens`); a link is checked on every request, so revoking is instant.

use domain::wire::{
    FieldError, RunSpec, ShareCreated, ShareKind, ShareRequest, SharedBody, SharedPage,
};

use crate::db::{Db, DbError, now_ms};
use crate::runs::RunService;
use crate::tokens::{hash_token, new_token, well_formed};

/// A shared page shows results, never where they live on the server.
fn scrub(spec: &mut RunSpec) {
    if let experiment::Experiment::Net(n) = &mut spec.experiment {
        n.data_dir = None;
    }
}

fn not_found(what: &str) -> Vec<FieldError> {
    vec![FieldError {
        field: "id".into(),
        message: format!("there is no {what} with this id"),
    }]
}

/// Takes the snapshot and stores the link. Invalid or unknown targets come back as field errors.
pub async fn create(
    runs: &RunService,
    req: ShareRequest,
) -> Result<Result<ShareCreated, Vec<FieldError>>, DbError> {
    if let Err(errs) = req.validate() {
        return Ok(Err(errs));
    }
    let db = runs.db();
    let body = match req.kind {
        ShareKind::Run => {
            let Some(mut run) = db.get_run(req.id).await? else {
                return Ok(Err(not_found("run")));
            };
            scrub(&mut run.spec);
            let points = runs
                .metrics(req.id)
                .await?
                .into_iter()
                .map(|(_, p)| p)
                .collect();
            SharedBody::Run { run, points }
        }
        ShareKind::Sweep => {
            let Some(mut sweep) = db.get_sweep(req.id).await? else {
                return Ok(Err(not_found("sweep")));
            };
            scrub(&mut sweep.spec.main);
            for r in &mut sweep.runs {
                scrub(&mut r.run.spec);
            }
            // Collected first: a borrowing iterator held across the await makes the future
            // not `Send` (the closure's lifetime is not general enough).
            let ids: Vec<i64> = sweep.runs.iter().map(|r| r.run.id).collect();
            let metrics = runs.metrics_of(ids).await?;
            SharedBody::Sweep { sweep, metrics }
        }
        ShareKind::Landscape => {
            let Some(landscape) = db.get_landscape(req.id).await? else {
                return Ok(Err(not_found("landscape")));
            };
            let Some(result) = db.landscape_result(req.id).await? else {
                return Ok(Err(vec![FieldError {
                    field: "id".into(),
                    message: "this landscape has not finished computing".into(),
                }]));
            };
            SharedBody::Landscape { landscape, result }
        }
    };
    let title = match &body {
        SharedBody::Run { run, .. } => format!("Run {} · {}", run.id, run.name),
        SharedBody::Sweep { sweep, .. } => format!("Sweep {} · {}", sweep.id, sweep.name),
        SharedBody::Landscape { landscape, .. } => {
            format!("Landscape {} · {}", landscape.id, landscape.name)
        }
    };
    let taken_at_ms = now_ms();
    let expires_at_ms = req
        .expires_in_hours
        .map(|h| taken_at_ms + i64::from(h) * 3_600_000);
    let page = SharedPage {
        title: title.clone(),
        taken_at_ms,
        expires_at_ms,
        body,
    };
    let snapshot = serde_json::to_string(&page).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let token = new_token();
    let info = db
        .insert_share(
            &hash_token(&token),
            req.kind,
            req.id,
            &title,
            &snapshot,
            expires_at_ms,
        )
        .await?;
    Ok(Ok(ShareCreated {
        id: info.id,
        url: format!("/s/{token}"),
        token,
        expires_at_ms,
    }))
}

/// Whether `token` opens a live link now, without reading its snapshot.
pub async fn is_live(db: &Db, token: &str) -> Result<bool, DbError> {
    if !well_formed(token) {
        return Ok(false);
    }
    db.share_is_active(&hash_token(token), now_ms()).await
}

/// The page behind `token`, if the link is live now.
pub async fn open(db: &Db, token: &str) -> Result<Option<SharedPage>, DbError> {
    if !well_formed(token) {
        return Ok(None);
    }
    let Some((_, snapshot)) = db.active_share(&hash_token(token), now_ms()).await? else {
        return Ok(None);
    };
    serde_json::from_str(&snapshot)
        .map(Some)
        .map_err(|e| DbError::Corrupt(format!("share snapshot: {e}")))
}

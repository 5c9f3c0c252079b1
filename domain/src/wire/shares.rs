//! Share links on the wire: the request that freezes a result, the link and its listing, and
//! the frozen page a link opens.

use serde::{Deserialize, Serialize};

use super::landscape::{Landscape, LandscapeSummary};
use super::runs::{MetricPoint, RunMetrics, RunSummary};
use super::sweeps::SweepSummary;
use schedule::FieldError;

/// What a share link points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareKind {
    Run,
    Sweep,
    Landscape,
}

impl ShareKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Sweep => "sweep",
            Self::Landscape => "landscape",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "run" => Self::Run,
            "sweep" => Self::Sweep,
            "landscape" => Self::Landscape,
            _ => return None,
        })
    }
}

/// Longest a share link may live when it has an expiry: one year.
pub const MAX_SHARE_HOURS: u32 = 24 * 365;

/// A request to freeze a result behind a new share link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    pub kind: ShareKind,
    pub id: i64,
    /// The link stops working this many hours after creation; none means until revoked.
    #[serde(default)]
    pub expires_in_hours: Option<u32>,
}

impl ShareRequest {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errs = Vec::new();
        if self.id < 1 {
            errs.push(FieldError {
                field: "id".into(),
                message: "must be a positive id".into(),
            });
        }
        if let Some(h) = self.expires_in_hours
            && !(1..=MAX_SHARE_HOURS).contains(&h)
        {
            errs.push(FieldError {
                field: "expires_in_hours".into(),
                message: format!("must be between 1 and {MAX_SHARE_HOURS} hours"),
            });
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

/// A new link. The token is shown once: the server keeps only its hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareCreated {
    pub id: i64,
    pub token: String,
    /// Path of the page, `/s/<token>`.
    pub url: String,
    pub expires_at_ms: Option<i64>,
}

/// A link as its owner lists it (never with its token).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareInfo {
    pub id: i64,
    pub kind: ShareKind,
    pub target_id: i64,
    pub title: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

impl ShareInfo {
    /// Whether the link still opens its page at `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.revoked_at_ms.is_none() && self.expires_at_ms.is_none_or(|e| now_ms < e)
    }
}

/// A frozen result page: everything it shows, copied when the link was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedPage {
    pub title: String,
    /// When the snapshot was taken.
    pub taken_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub body: SharedBody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SharedBody {
    Run {
        run: RunSummary,
        points: Vec<MetricPoint>,
    },
    Sweep {
        sweep: SweepSummary,
        metrics: Vec<RunMetrics>,
    },
    Landscape {
        landscape: LandscapeSummary,
        result: Landscape,
    },
}

/// The answer to a revoke: false when the link was already revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    pub revoked: bool,
}

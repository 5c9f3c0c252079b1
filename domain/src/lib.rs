//! Anneal's domain core: the wire and domain types, the typed metric keys, the analysis a sweep
//! page shows (one copy each), and the service trait that every door (JSON API, server
//! functions, CLI) calls. It knows nothing of the web, of Burn or of an async runtime, and
//! builds for wasm32 as well as native. Every serde type that travels lives in `wire`, one file
//! per resource; `analysis`, `law` and `prediction` are functions that compute them.

pub mod analysis;
pub mod clock;
pub mod compare;
pub mod hex;
pub mod law;
pub mod metric;
pub mod prediction;
pub mod service;
pub mod stats;
pub mod wire;

pub use metric::Metric;
pub use service::{Answer, BoxFut, Failure, LIST_LIMIT, Lab};

//! Validation: every problem with a spec, each reported under the path from [`crate::fields`]
//! that the form shows it beside. One module per spec, and the report they all write into.

mod net;
pub(crate) mod report;
mod run;
mod sweep;
mod toy;

pub use sweep::check_seeds;

//! The widgets the pages are built from, each taking its data as props (or fetching it
//! through `crate::api`), never importing a page. Charts: `chart` (Plotly plumbing and the
//! live stream), `run_charts` (what a run draws), `sweep_chart` (a sweep's figures), `svg` (the
//! server-drawn fallback), `palette` (the one set of colours). Pieces of pages: `run_config`,
//! `branch_stats`, `landscape` (launcher, list and maps), `share_button`, `schedule_editor`, `model_editor`
//! (a network as a list of layers, with its live shape table).
//! Forms and text: `form` (inputs, field messages, routing a refusal), `format` (timestamps),
//! `dataset` (a dataset's shape, counts and run-form options in words).

pub mod branch_stats;
pub mod chart;
pub mod dataset;
pub mod form;
pub mod format;
pub mod landscape;
pub mod model_editor;
pub mod palette;
pub mod run_charts;
pub mod run_config;
pub mod schedule_editor;
pub mod share_button;
pub mod svg;
pub mod sweep_chart;

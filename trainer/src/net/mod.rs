//! Networks on image datasets: models, data, optimizers, checkpoints and the training loop.

pub mod checkpoint;
pub mod data;
pub mod fast_conv;
pub mod fast_norm;
pub mod fast_pool;
pub mod flat;
pub mod model;
pub mod norm_stats;
pub mod optim;
mod same_backend;
pub mod schedule_free;
pub mod train;

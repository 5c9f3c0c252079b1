//! Checkpoints: weights, optimizer state and the position in the run (epoch, step). Data order,
//! augmentation and dropout are re-derived from (seed, epoch), so an epoch boundary is a
//! complete RNG/data position and resuming there repeats the uninterrupted run exactly.
//!
//! A schedule-free run's model holds y, the point where gradients are taken, and its optimizer
//! state holds z; both are needed to resume. What is evaluated is the average x, so such a
//! checkpoint also keeps x as `model-eval`, which [`load_model`] (landscapes) reads instead.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::Optimizer;
use burn::record::{BinFileRecorder, FileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::{Deserialize, Serialize};

use super::model::Net;
use super::optim::AnyOptim;
use crate::TrainError;

/// Where training stands at a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Epochs completed.
    pub epoch: u32,
    /// Optimizer steps completed.
    pub step: u64,
    pub seed: u64,
    /// Number of parameters, to refuse a checkpoint of another architecture.
    pub num_params: usize,
}

const MODEL: &str = "model";
/// The weights to evaluate, where they differ from `MODEL` (schedule-free runs).
const MODEL_EVAL: &str = "model-eval";
const OPTIM: &str = "optim";
const POSITION: &str = "position.json";

fn recorder() -> BinFileRecorder<FullPrecisionSettings> {
    BinFileRecorder::new()
}

fn io(what: &str, path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint(format!("{what} {}: {e}", path.display()))
}

/// The folder of the checkpoint after `epoch` epochs.
pub fn dir_for(root: &Path, epoch: u32) -> PathBuf {
    root.join(format!("epoch-{epoch:06}"))
}

/// Writes a checkpoint into `dir` (created; written to a temporary folder, then renamed, so a
/// crash never leaves a half-written checkpoint under the final name).
pub fn save<B: AutodiffBackend>(
    dir: &Path,
    model: &Net<B>,
    optim: &AnyOptim<B>,
    norm_sample: &[Tensor<B::InnerBackend, 4>],
    pos: &Position,
) -> Result<(), TrainError> {
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
    model
        .clone()
        .save_file(tmp.join(MODEL), &recorder())
        .map_err(|e| io("cannot write model to", &tmp, e))?;
    if optim.is_schedule_free() {
        optim
            .eval_model_on(model, norm_sample)
            .save_file(tmp.join(MODEL_EVAL), &recorder())
            .map_err(|e| io("cannot write evaluated model to", &tmp, e))?;
    }
    match optim {
        AnyOptim::Sgd(o) => recorder().record(o.to_record(), tmp.join(OPTIM)),
        AnyOptim::AdamW(o) => recorder().record(o.to_record(), tmp.join(OPTIM)),
        AnyOptim::ScheduleFreeSgd(o) => recorder().record(o.to_record(), tmp.join(OPTIM)),
        AnyOptim::ScheduleFreeAdamW(o) => recorder().record(o.to_record(), tmp.join(OPTIM)),
    }
    .map_err(|e| io("cannot write optimizer state to", &tmp, e))?;
    let json =
        serde_json::to_vec_pretty(pos).map_err(|e| io("cannot encode position for", &tmp, e))?;
    std::fs::write(tmp.join(POSITION), json).map_err(|e| io("cannot write", &tmp, e))?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir).map_err(|e| io("cannot finish", dir, e))?;
    Ok(())
}

/// Reads the position of the checkpoint in `dir`.
pub fn position(dir: &Path) -> Result<Position, TrainError> {
    let path = dir.join(POSITION);
    let bytes = std::fs::read(&path).map_err(|e| io("cannot read", &path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| io("corrupt", &path, e))
}

/// Loads only the weights to evaluate from `dir` into freshly built `model`, on any backend: for
/// evaluating a checkpoint (landscapes), where the optimizer state would be read for nothing.
/// Those are the averaged weights x of a schedule-free run, else the trained ones.
pub fn load_model<B: Backend>(
    dir: &Path,
    model: Net<B>,
    device: &B::Device,
) -> Result<Net<B>, TrainError> {
    check_params(&position(dir)?, &model)?;
    let eval = dir.join(MODEL_EVAL);
    // Checkpoints of other optimizers, and all written before schedule-free, have no such file.
    let name = if eval
        .with_extension(<BinFileRecorder<FullPrecisionSettings> as FileRecorder<
            B,
        >>::file_extension())
        .is_file()
    {
        eval
    } else {
        dir.join(MODEL)
    };
    model
        .load_file(name, &recorder(), device)
        .map_err(|e| io("cannot load model from", dir, e))
}

fn check_params<B: Backend>(pos: &Position, model: &Net<B>) -> Result<(), TrainError> {
    if pos.num_params != model.num_params() {
        return Err(TrainError::Checkpoint(format!(
            "checkpoint has {} parameters, the model {}: it belongs to another architecture",
            pos.num_params,
            model.num_params()
        )));
    }
    Ok(())
}

/// Loads weights and optimizer state from `dir` into freshly built `model` and `optim`.
pub fn load<B: AutodiffBackend>(
    dir: &Path,
    model: Net<B>,
    optim: AnyOptim<B>,
    device: &B::Device,
) -> Result<(Net<B>, AnyOptim<B>, Position), TrainError> {
    let pos = position(dir)?;
    check_params(&pos, &model)?;
    let model = model
        .load_file(dir.join(MODEL), &recorder(), device)
        .map_err(|e| io("cannot load model from", dir, e))?;
    let optim = match optim {
        AnyOptim::Sgd(o) => {
            let rec = recorder()
                .load(dir.join(OPTIM), device)
                .map_err(|e| io("cannot load optimizer from", dir, e))?;
            AnyOptim::Sgd(o.load_record(rec))
        }
        AnyOptim::AdamW(o) => {
            let rec = recorder()
                .load(dir.join(OPTIM), device)
                .map_err(|e| io("cannot load optimizer from", dir, e))?;
            AnyOptim::AdamW(o.load_record(rec))
        }
        AnyOptim::ScheduleFreeSgd(o) => {
            let rec = recorder()
                .load(dir.join(OPTIM), device)
                .map_err(|e| io("cannot load optimizer from", dir, e))?;
            AnyOptim::ScheduleFreeSgd(o.load_record(rec))
        }
        AnyOptim::ScheduleFreeAdamW(o) => {
            let rec = recorder()
                .load(dir.join(OPTIM), device)
                .map_err(|e| io("cannot load optimizer from", dir, e))?;
            AnyOptim::ScheduleFreeAdamW(o.load_record(rec))
        }
    };
    Ok((model, optim, pos))
}

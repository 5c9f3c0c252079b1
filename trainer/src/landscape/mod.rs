//! Loss landscapes (issue #7): the plane (or curved sheet) through a run's checkpoints and its
//! branches', and the train/test loss on a grid over it; for the toy model with d = 2, the exact
//! landscape over (w₁, w₂).
//!
//! Network landscapes run in three phases, each reported through `progress`: "loading" parks
//! every distinct checkpoint's flat weights in scratch files, "pca" finds the plane (for random
//! directions: builds them and projects the checkpoints), "grid" evaluates the network on the
//! whole training subset and test set at every grid point.
//!
//! This file holds the entry points and the phases' sequencing; plane.rs finds the plane,
//! grid.rs evaluates on it, exact.rs computes the toy model's map.

mod exact;
mod grid;
// Public for the scale benchmark (benches/pca_scale.rs), which drives them directly.
pub mod pca;
mod plane;
mod random;
pub mod scratch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::backend::{AutodiffBackend, Backend};
use domain::wire::{Landscape, PathProjection};
use experiment::landscape::LandscapeSpec;
use experiment::{BackendChoice, NetSpec};

use crate::device::{BackendJob, DeviceInfo, run_on};
use crate::net::train::EvalSet;
use crate::net::{checkpoint, data, flat, model, norm_stats};
use crate::{StopFlag, TrainError};
use plane::find_plane;
use scratch::Scratch;

pub use exact::toy_landscape;

/// Images per forward pass on the grid. On flex (2 threads, MLP preset) 250, 1000 and 2000
/// measured alike within the machine's noise; 1000 bounds the activations of the wider
/// networks' batches.
pub const GRID_EVAL_BATCH: usize = 1000;

/// One trajectory of a network run: the main path or a branch.
pub struct PathInput {
    /// "main", "k=30", ...
    pub label: String,
    /// Passed through to [`PathProjection::run_id`].
    pub run_id: Option<String>,
    /// (epoch, checkpoint folder written by `net::checkpoint::save`), in epoch order. A branch
    /// lists the main path's checkpoint it starts from; shared folders are loaded once.
    pub checkpoints: Vec<(f64, PathBuf)>,
}

/// One trajectory of a toy run with d = 2.
pub struct ToyPathInput {
    pub label: String,
    pub run_id: Option<String>,
    /// (epoch, (w₁, w₂)).
    pub points: Vec<(f64, [f64; 2])>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LandscapeProgress {
    /// "loading", "pca" or "grid".
    pub phase: &'static str,
    pub done: u64,
    pub total: u64,
}

/// Progress reports and the stop flag, checked together at every unit of work.
pub(crate) struct Reporter<'a> {
    progress: &'a mut dyn FnMut(LandscapeProgress),
    stop: &'a StopFlag,
}

impl Reporter<'_> {
    /// Reports and returns whether to go on.
    pub(crate) fn tick(&mut self, phase: &'static str, done: u64, total: u64) -> bool {
        (self.progress)(LandscapeProgress { phase, done, total });
        !self.stop.is_raised()
    }
}

fn invalid(spec: &LandscapeSpec) -> Result<(), TrainError> {
    spec.validate().map_err(|errs| {
        TrainError::InvalidSpec(
            errs.iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

/// The landscape of a network run and its branches on the backend it trained on.
/// Ok(None) when the stop flag was raised.
#[expect(
    clippy::too_many_arguments,
    reason = "the server's call site, spelled out"
)]
pub fn net_landscape(
    net: &NetSpec,
    backend: BackendChoice,
    data_seed: u64,
    ls: &LandscapeSpec,
    paths: &[PathInput],
    data_root: &Path,
    scratch_dir: &Path,
    progress: &mut dyn FnMut(LandscapeProgress),
    stop: &StopFlag,
) -> Result<Option<Landscape>, TrainError> {
    invalid(ls)?;
    if paths.first().is_none_or(|p| p.checkpoints.is_empty()) {
        return Err(TrainError::InvalidSpec(
            "the main path has no checkpoints".into(),
        ));
    }
    let job = NetLandscapeJob {
        net,
        data_seed,
        ls,
        paths,
        data_root,
        scratch_dir,
        report: Reporter { progress, stop },
    };
    run_on(backend, job)
}

struct NetLandscapeJob<'a> {
    net: &'a NetSpec,
    /// The run's data seed: the landscape is measured on the subset it trained on.
    data_seed: u64,
    ls: &'a LandscapeSpec,
    paths: &'a [PathInput],
    data_root: &'a Path,
    scratch_dir: &'a Path,
    report: Reporter<'a>,
}

impl BackendJob for NetLandscapeJob<'_> {
    type Output = Option<Landscape>;

    fn run<B: AutodiffBackend>(
        self,
        device: B::Device,
        _info: DeviceInfo,
    ) -> Result<Option<Landscape>, TrainError> {
        // Evaluation on the inner backend (no autodiff graph); `B` only recomputes batch
        // norm's statistics, which is training-mode forward passes.
        net_landscape_on::<B>(self, &device)
    }
}

/// Each distinct checkpoint folder once, in first-seen order, and where every path's
/// checkpoints fall in that list.
fn distinct(paths: &[PathInput]) -> (Vec<PathBuf>, Vec<Vec<usize>>) {
    let mut index: HashMap<PathBuf, usize> = HashMap::new();
    let mut folders = Vec::new();
    let refs = paths
        .iter()
        .map(|p| {
            p.checkpoints
                .iter()
                .map(|(_, dir)| {
                    // The same folder spelled two ways is still one checkpoint.
                    let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
                    *index.entry(key).or_insert_with(|| {
                        folders.push(dir.clone());
                        folders.len() - 1
                    })
                })
                .collect()
        })
        .collect();
    (folders, refs)
}

/// The distinct checkpoints parked in scratch files, their mean, and the main path's last
/// checkpoint as a model.
struct Loaded<B: Backend> {
    scratch: Scratch,
    mean: Vec<f64>,
    base: model::Net<B>,
}

fn load_all<B: Backend>(
    folders: &[PathBuf],
    skeleton: &model::Net<B>,
    last_main: usize,
    scratch_dir: &Path,
    device: &B::Device,
    report: &mut Reporter<'_>,
) -> Result<Option<Loaded<B>>, TrainError> {
    let total = folders.len() as u64;
    let p = skeleton.trainable_params();
    let mut scratch = Scratch::new(scratch_dir, p)?;
    let mut sum = vec![0.0f64; p];
    let mut base = None;
    for (i, dir) in folders.iter().enumerate() {
        let m = checkpoint::load_model(dir, skeleton.clone(), device)?;
        let v = flat::flatten(&m);
        for (s, &x) in sum.iter_mut().zip(&v) {
            *s += f64::from(x);
        }
        scratch.push(&v)?;
        if i == last_main {
            base = Some(m);
        }
        if !report.tick("loading", i as u64 + 1, total) {
            return Ok(None);
        }
    }
    let Some(base) = base else {
        return Err(TrainError::InvalidSpec(
            "the main path's last checkpoint is missing".into(),
        ));
    };
    let n = folders.len() as f64;
    let mean = sum.into_iter().map(|s| s / n).collect();
    Ok(Some(Loaded {
        scratch,
        mean,
        base,
    }))
}

fn net_landscape_on<A: AutodiffBackend>(
    job: NetLandscapeJob<'_>,
    device: &A::Device,
) -> Result<Option<Landscape>, TrainError> {
    let started = Instant::now();
    let NetLandscapeJob {
        net,
        data_seed,
        ls,
        paths,
        data_root,
        scratch_dir,
        mut report,
    } = job;
    let (folders, refs) = distinct(paths);
    let total = folders.len() as u64;
    if !report.tick("loading", 0, total) {
        return Ok(None);
    }
    let prepared = data::prepare(net, data_root, data_seed)?;
    let shape = prepared.train.shape;
    let skeleton: model::Net<A::InnerBackend> =
        model::build(&net.model, shape, prepared.train.num_classes, device);
    let p = skeleton.trainable_params();
    let shapes = flat::shapes(&skeleton);
    // The main path's last checkpoint: the random plane's centre. Batch norm's running
    // statistics are not in the flat vector: they are recomputed at every grid point.
    let last_main = *refs[0].last().expect("main path checked non-empty");

    let Some(Loaded {
        scratch,
        mean,
        base,
    }) = load_all(
        &folders,
        &skeleton,
        last_main,
        scratch_dir,
        device,
        &mut report,
    )?
    else {
        return Ok(None);
    };

    let Some(plane) = find_plane(&ls.method, &scratch, &mean, last_main, &shapes, &mut report)?
    else {
        return Ok(None);
    };
    drop(scratch);
    drop(mean);

    let path_proj = paths
        .iter()
        .zip(&refs)
        .map(|(path, ix)| PathProjection {
            label: path.label.clone(),
            run_id: path.run_id.clone(),
            epochs: path.checkpoints.iter().map(|(e, _)| *e).collect(),
            x: ix.iter().map(|&i| plane.placed.x[i]).collect(),
            y: ix.iter().map(|&i| plane.placed.y[i]).collect(),
            dist_to_plane: ix.iter().map(|&i| plane.placed.dist[i]).collect(),
        })
        .collect();
    // Relative to the trajectory's spread (RMS distance from the centre), not to each
    // checkpoint's own distance: one near the centre would otherwise dominate with a tiny
    // absolute error.
    let n = plane.placed.from_centre.len().max(1) as f64;
    let spread = (plane.placed.from_centre.iter().map(|r| r * r).sum::<f64>() / n).sqrt();
    let max_rel_projection_error = if spread > 1e-12 {
        plane
            .placed
            .dist
            .iter()
            .fold(0.0, |m: f64, d| m.max(d / spread))
    } else {
        0.0
    };

    let g = ls.grid as usize;
    let xs = grid::axis(plane.placed.x.iter().copied(), ls.margin, g);
    let ys = grid::axis(plane.placed.y.iter().copied(), ls.margin, g);
    let norm_sample = norm_stats::sample::<A::InnerBackend>(&prepared.train, device);
    let has_norm = !skeleton.running_state_ids().is_empty();
    let refresh = |m: model::Net<A::InnerBackend>| norm_stats::recompute::<A>(m, &norm_sample);
    let train = EvalSet::<A::InnerBackend>::new(&prepared.train, net.loss, GRID_EVAL_BATCH, device);
    let test = EvalSet::<A::InnerBackend>::new(&prepared.test, net.loss, GRID_EVAL_BATCH, device);
    drop(prepared);
    let Some(grids) = grid::evaluate_grid(
        base,
        has_norm.then_some(&refresh as &dyn Fn(_) -> _),
        &plane.sheet,
        &xs,
        &ys,
        &train,
        &test,
        &mut report,
    ) else {
        return Ok(None);
    };
    Ok(Some(Landscape {
        method: ls.method.clone(),
        num_params: p as u64,
        num_checkpoints: folders.len() as u32,
        explained_variance: plane.explained,
        x_label: plane.labels.0,
        y_label: plane.labels.1,
        xs,
        ys,
        train_loss: grids.train_loss,
        test_loss: grids.test_loss,
        train_acc: Some(grids.train_acc),
        test_acc: Some(grids.test_acc),
        paths: path_proj,
        max_rel_projection_error,
        manifold: Vec::new(),
        w_mn: None,
        elapsed_secs: started.elapsed().as_secs_f64(),
        batch_norm: has_norm.then(|| {
            format!(
                "Batch norm's running statistics recomputed at every grid point on the first {} \
                 training examples ({} batches of {}, each normalised with its own statistics \
                 as in training); the checkpoints' own statistics belong to their weights only.",
                norm_stats::SAMPLE_BATCHES * norm_stats::SAMPLE_BATCH,
                norm_stats::SAMPLE_BATCHES,
                norm_stats::SAMPLE_BATCH
            )
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::backend::flex::FlexDevice;
    use experiment::{DatasetChoice, Experiment, LossKind, ModelSpec, OptimizerSpec, RunSpec};
    use schedule::Schedule;

    use experiment::landscape::LandscapeMethod;

    use crate::{Outcome, TrainContext};

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("anneal-landscape-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn tiny_net() -> NetSpec {
        with_model(ModelSpec::Mlp { hidden: vec![4] })
    }

    fn with_model(model: ModelSpec) -> NetSpec {
        NetSpec {
            dataset: DatasetChoice::FashionMnist,
            data_dir: Some("tiny".into()),
            train_per_class: None,
            test_limit: None,
            augment: false,
            model,
            loss: LossKind::CrossEntropy,
            optimizer: OptimizerSpec::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 0.0,
            },
            batch: 50,
            epochs: 4,
            checkpoint_every: 1,
        }
    }

    const SEED: u64 = 5;

    /// A 4-epoch main run and a branch from its epoch 2 at a lower LR, on generated files.
    fn trained(tag: &str) -> (PathBuf, Vec<PathInput>) {
        trained_with(tag, &tiny_net())
    }

    fn trained_with(tag: &str, net: &NetSpec) -> (PathBuf, Vec<PathInput>) {
        let root = temp_dir(tag);
        datasets::testgen::write_idx(&root.join("tiny"), 200, 60, false, 3).expect("IDX files");
        let run = |lr: f64, dir: &str, from: Option<PathBuf>| {
            let spec = RunSpec {
                name: String::new(),
                experiment: Experiment::Net(net.clone()),
                schedule: Schedule::Constant { lr },
                seed: SEED,
                data_seed: None,
                backend: BackendChoice::Cpu,
            };
            let ctx = TrainContext {
                data_root: root.clone(),
                checkpoint_dir: Some(root.join(dir)),
                resume_from: from,
            };
            let out = crate::train(&spec, &ctx, &mut Vec::new(), &StopFlag::new()).expect("trains");
            assert_eq!(out, Outcome::Completed);
        };
        run(0.05, "main", None);
        let k2 = checkpoint::dir_for(&root.join("main"), 2);
        run(0.005, "branch", Some(k2.clone()));
        let main = PathInput {
            label: "main".into(),
            run_id: Some("m".into()),
            checkpoints: (1..=4)
                .map(|e| (f64::from(e), checkpoint::dir_for(&root.join("main"), e)))
                .collect(),
        };
        let branch = PathInput {
            label: "k=2".into(),
            run_id: None,
            checkpoints: vec![
                (2.0, k2),
                (3.0, checkpoint::dir_for(&root.join("branch"), 3)),
                (4.0, checkpoint::dir_for(&root.join("branch"), 4)),
            ],
        };
        (root, vec![main, branch])
    }

    fn run(
        root: &Path,
        paths: &[PathInput],
        method: LandscapeMethod,
        stop: &StopFlag,
        phases: &mut Vec<LandscapeProgress>,
    ) -> Result<Option<Landscape>, TrainError> {
        run_with(&tiny_net(), root, paths, method, stop, phases)
    }

    fn run_with(
        net: &NetSpec,
        root: &Path,
        paths: &[PathInput],
        method: LandscapeMethod,
        stop: &StopFlag,
        phases: &mut Vec<LandscapeProgress>,
    ) -> Result<Option<Landscape>, TrainError> {
        let ls = LandscapeSpec {
            grid: 3,
            margin: 0.2,
            method,
        };
        net_landscape(
            net,
            BackendChoice::Cpu,
            SEED,
            &ls,
            paths,
            root,
            &root.join("scratch"),
            &mut |p| phases.push(p),
            stop,
        )
    }

    #[test]
    fn pca_grid_matches_direct_evaluation() {
        let (root, paths) = trained("pca");
        let mut phases = Vec::new();
        let l = run(
            &root,
            &paths,
            LandscapeMethod::Pca,
            &StopFlag::new(),
            &mut phases,
        )
        .expect("computes")
        .expect("not stopped");
        assert_eq!(l.num_checkpoints, 6, "epoch 2 is shared by both paths");
        assert_eq!(l.num_params, 784 * 4 + 4 + 4 * 10 + 10);
        assert_eq!(l.explained_variance.len(), 2);
        assert!(l.explained_variance[0] >= l.explained_variance[1]);
        assert!(l.explained_variance.iter().sum::<f64>() <= 1.0 + 1e-9);
        assert_eq!(l.paths[1].epochs, vec![2.0, 3.0, 4.0]);
        assert_eq!(
            l.paths[1].x[0], l.paths[0].x[1],
            "the branch starts at main's epoch 2"
        );
        assert_eq!(l.paths[0].run_id.as_deref(), Some("m"));
        assert!((0.0..1.0).contains(&l.max_rel_projection_error));
        assert_eq!(
            phases.last().map(|p| (p.phase, p.done, p.total)),
            Some(("grid", 9, 9))
        );
        assert!(phases.iter().any(|p| p.phase == "pca"));
        // Scratch files are gone.
        let left = std::fs::read_dir(root.join("scratch")).map_or(0, |d| d.count());
        assert_eq!(left, 0);

        // Rebuild the plane and evaluate two grid points the plain way.
        let device = FlexDevice;
        let net = tiny_net();
        let prepared = data::prepare(&net, &root, SEED).expect("data");
        let skeleton: model::Net<Flex> =
            model::build(&net.model, prepared.train.shape, 10, &device);
        let (folders, refs) = distinct(&paths);
        let last_main = *refs[0].last().expect("non-empty");
        let mut progress = |_: LandscapeProgress| {};
        let stop = StopFlag::new();
        let mut report = Reporter {
            progress: &mut progress,
            stop: &stop,
        };
        let loaded = load_all(
            &folders,
            &skeleton,
            last_main,
            &root.join("scratch"),
            &device,
            &mut report,
        )
        .expect("loads")
        .expect("not stopped");
        let shapes = flat::shapes(&skeleton);
        let plane = find_plane(
            &LandscapeMethod::Pca,
            &loaded.scratch,
            &loaded.mean,
            last_main,
            &shapes,
            &mut report,
        )
        .expect("plane")
        .expect("not stopped");
        for (ix, iy) in [(0, 2), (1, 1)] {
            let mut w = vec![0.0f32; skeleton.trainable_params()];
            plane.sheet.point(l.xs[ix], l.ys[iy], &mut w);
            let m = flat::unflatten(skeleton.clone(), &w);
            let (tl, ta) = crate::net::train::evaluate(&m, &prepared.train, net.loss, &device);
            let (vl, va) = crate::net::train::evaluate(&m, &prepared.test, net.loss, &device);
            let got = |g: &Vec<Vec<Option<f64>>>| g[iy][ix].expect("finite");
            assert!(
                (got(&l.train_loss) - tl).abs() < 1e-5 * tl.max(1.0),
                "{} vs {tl}",
                got(&l.train_loss)
            );
            assert!((got(&l.test_loss) - vl).abs() < 1e-5 * vl.max(1.0));
            let acc = |g: &Option<Vec<Vec<Option<f64>>>>| {
                g.as_ref().and_then(|g| g[iy][ix]).expect("acc")
            };
            assert!((acc(&l.train_acc) - ta).abs() < 1e-9 && (acc(&l.test_acc) - va).abs() < 1e-9);
        }
        // The checkpoints' coordinates are their projections on the plane's directions.
        let mut theta = vec![0.0f32; skeleton.trainable_params()];
        loaded.scratch.read(0, 0, &mut theta).expect("reads");
        let along = |d: &[f32]| -> f64 {
            theta
                .iter()
                .zip(&loaded.mean)
                .zip(d)
                .map(|((&t, &m), &v)| (f64::from(t) - m) * f64::from(v))
                .sum()
        };
        assert!((along(&plane.sheet.d1) - l.paths[0].x[0]).abs() < 1e-4);
        assert!((along(&plane.sheet.d2) - l.paths[0].y[0]).abs() < 1e-4);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn curved_and_random_planes_and_stop() {
        let (root, paths) = trained("other");
        let mut phases = Vec::new();
        let curved = run(
            &root,
            &paths,
            LandscapeMethod::CurvedPca,
            &StopFlag::new(),
            &mut phases,
        )
        .expect("computes")
        .expect("not stopped");
        assert_eq!(curved.explained_variance.len(), 3);
        let flat = run(
            &root,
            &paths,
            LandscapeMethod::Pca,
            &StopFlag::new(),
            &mut phases,
        )
        .expect("computes")
        .expect("not stopped");
        // The sheet is the least-squares fit along PC3, and the flat plane (height 0) is one of
        // the candidates: in total the sheet is at least as close to the checkpoints (summed
        // over distinct checkpoints: the branch's first one is main's epoch 2).
        let sq = |l: &Landscape| -> f64 {
            l.paths[0]
                .dist_to_plane
                .iter()
                .chain(&l.paths[1].dist_to_plane[1..])
                .map(|d| d * d)
                .sum()
        };
        assert!(sq(&curved) <= sq(&flat) * (1.0 + 1e-9) + 1e-12);

        let rnd = run(
            &root,
            &paths,
            LandscapeMethod::RandomFilterNormalized { seed: 3 },
            &StopFlag::new(),
            &mut phases,
        )
        .expect("computes")
        .expect("not stopped");
        assert!(rnd.explained_variance.is_empty());
        // Centred on the main path's final point.
        let last = rnd.paths[0].x.len() - 1;
        assert!(rnd.paths[0].x[last].abs() < 1e-9 && rnd.paths[0].y[last].abs() < 1e-9);
        assert!(rnd.train_loss.iter().flatten().all(Option::is_some));

        let stop = StopFlag::new();
        stop.raise();
        phases.clear();
        let none = run(&root, &paths, LandscapeMethod::Pca, &stop, &mut phases).expect("no error");
        assert!(none.is_none());
        assert_eq!(phases.len(), 1, "stops at the first check");
        let left = std::fs::read_dir(root.join("scratch")).map_or(0, |d| d.count());
        assert_eq!(left, 0);

        // Too few distinct checkpoints for a plane.
        let short = [PathInput {
            label: "main".into(),
            run_id: None,
            checkpoints: paths[0].checkpoints[..2].to_vec(),
        }];
        assert!(matches!(
            run(
                &root,
                &short,
                LandscapeMethod::Pca,
                &StopFlag::new(),
                &mut phases
            ),
            Err(TrainError::InvalidSpec(_))
        ));
        let _ = std::fs::remove_dir_all(&root);
    }

    /// A network with batch norm: every grid point is evaluated with statistics recomputed
    /// for its weights, and the result says so.
    #[test]
    fn batch_norm_statistics_are_recomputed_on_the_grid() {
        use experiment::LayerSpec as L;
        let net = with_model(ModelSpec::Layers {
            layers: vec![
                L::Flatten {},
                L::linear(6),
                L::BatchNorm {},
                L::Relu {},
                L::linear(10),
            ],
        });
        let (root, paths) = trained_with("bn", &net);
        let l = run_with(
            &net,
            &root,
            &paths,
            LandscapeMethod::Pca,
            &StopFlag::new(),
            &mut Vec::new(),
        )
        .expect("computes")
        .expect("not stopped");
        let note = l
            .batch_norm
            .as_deref()
            .expect("a batch-norm network says what it did");
        assert!(note.contains("recomputed at every grid point"), "{note}");
        assert!(
            l.train_loss
                .iter()
                .flatten()
                .all(|v| v.is_some_and(f64::is_finite))
        );
        // 784·6+6, γ and β of 6, 6·10+10: the running statistics are not parameters.
        assert_eq!(l.num_params, 784 * 6 + 6 + 12 + 70);
        let (root2, paths2) = trained("bn-none");
        let plain = run(
            &root2,
            &paths2,
            LandscapeMethod::Pca,
            &StopFlag::new(),
            &mut Vec::new(),
        )
        .expect("computes")
        .expect("not stopped");
        assert_eq!(plain.batch_norm, None);
        let _ = std::fs::remove_dir_all(&root);
        let _ = std::fs::remove_dir_all(&root2);
    }
}

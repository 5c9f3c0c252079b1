//! Loss-landscape speed on Fashion-MNIST: trains the MLP preset (784-512-512-10), or the small
//! CNN, for a few epochs
//! on a per-class subset with a checkpoint per epoch, then times `net_landscape` on a G×G PCA
//! grid. Prints one JSON line per repeat; `bench/torch_landscape.py` evaluates the same grid
//! in PyTorch and `bench/landscape.sh` interleaves the two. Threads: set RAYON_NUM_THREADS.
//!
//! `cargo bench -p trainer --bench landscape -- [grid] [per_class] [test_limit] [epochs] [repeats] [mlp|cnn]`

use std::path::PathBuf;
use std::time::Instant;

use experiment::landscape::{LandscapeMethod, LandscapeSpec};
use experiment::{BackendChoice, Experiment, NetSpec, RunSpec};
use schedule::Schedule;
use trainer::landscape::{LandscapeProgress, PathInput, net_landscape};
use trainer::net::checkpoint;
use trainer::{StopFlag, TrainContext};

// mimalloc, as every binary that trains (see the `trainer` crate's docs for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(args: &[String], i: usize, default: u32) -> u32 {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let grid = arg(&args, 0, 41);
    let per_class = arg(&args, 1, 100);
    let test_limit = arg(&args, 2, 1000);
    let epochs = arg(&args, 3, 10);
    let repeats = arg(&args, 4, 1);
    let model = match args.get(5).map(String::as_str) {
        None | Some("mlp") => NetSpec::fashion_mlp().model,
        Some("cnn") => experiment::ModelSpec::SmallCnn,
        Some(other) => {
            eprintln!("unknown model {other:?}: mlp or cnn");
            std::process::exit(2);
        }
    };
    let net = NetSpec {
        model,
        train_per_class: Some(per_class),
        test_limit: Some(test_limit),
        epochs,
        checkpoint_every: 1,
        ..NetSpec::fashion_mlp()
    };
    let seed = 1;
    let data_root = PathBuf::from("/");
    let work = std::env::temp_dir().join(format!("anneal-landscape-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let spec = RunSpec {
        name: String::new(),
        experiment: Experiment::Net(net.clone()),
        schedule: Schedule::Constant { lr: 0.05 },
        seed,
        data_seed: None,
        backend: BackendChoice::Cpu,
    };
    let ctx = TrainContext {
        data_root: data_root.clone(),
        checkpoint_dir: Some(work.join("main")),
        resume_from: None,
    };
    if let Err(e) = trainer::train(&spec, &ctx, &mut Vec::new(), &StopFlag::new()) {
        eprintln!("training the checkpoints failed: {e}");
        std::process::exit(2);
    }
    let paths = [PathInput {
        label: "main".into(),
        run_id: None,
        checkpoints: (1..=epochs)
            .map(|e| (f64::from(e), checkpoint::dir_for(&work.join("main"), e)))
            .collect(),
    }];
    let ls = LandscapeSpec {
        grid,
        margin: 0.25,
        method: LandscapeMethod::Pca,
    };
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    for rep in 0..repeats {
        // Wall-clock marks of the grid phase, taken from the progress reports.
        let mut grid_start = None;
        let mut grid_end = None;
        let started = Instant::now();
        let mut progress = |p: LandscapeProgress| {
            if p.phase == "grid" && p.done == 0 {
                grid_start = Some(Instant::now());
            }
            if p.phase == "grid" && p.done == p.total {
                grid_end = Some(Instant::now());
            }
        };
        let res = net_landscape(
            &net,
            BackendChoice::Cpu,
            seed,
            &ls,
            &paths,
            &data_root,
            &work.join("scratch"),
            &mut progress,
            &StopFlag::new(),
        );
        let total = started.elapsed().as_secs_f64();
        let l = match res {
            Ok(Some(l)) => l,
            Ok(None) => unreachable!("never stopped"),
            Err(e) => {
                eprintln!("landscape failed: {e}");
                std::process::exit(2);
            }
        };
        let (Some(a), Some(b)) = (grid_start, grid_end) else {
            eprintln!("no grid phase was reported");
            std::process::exit(2);
        };
        let secs = (b - a).as_secs_f64();
        let points = u64::from(grid) * u64::from(grid);
        println!(
            "{{\"impl\":\"burn-flex\",\"model\":\"{}\",\"threads\":\"{threads}\",\"repeat\":{rep},\"grid\":{grid},\"train\":{},\"test\":{test_limit},\"params\":{},\"checkpoints\":{},\"secs\":{secs:.3},\"points_per_sec\":{:.3},\"setup_secs\":{:.3},\"explained\":[{:.4},{:.4}]}}",
            args.get(5).map_or("mlp", String::as_str),
            per_class * 10,
            l.num_params,
            l.num_checkpoints,
            points as f64 / secs,
            total - secs,
            l.explained_variance[0],
            l.explained_variance[1],
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}

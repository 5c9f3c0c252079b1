//! The Slurm executor on a real single-node cluster (`scripts/slurm.sh start`, which the test
//! command runs and whose settings it exports): runs and a network sweep go through Slurm with
//! the same rows as in-process training, a job killed with `scancel` is resubmitted into the
//! same run with no gap and no duplicate, as is one whose worker is killed with -9 or stopped
//! (silent past ANNEAL_WORKER_STALE_SECS), a cancelled run ends its Slurm job, and a sweep on
//! an uploaded dataset fetches it onto the node by hash.
//! Without a cluster (ANNEAL_SLURM_URL unset) each test says so and passes vacuously; the
//! test command refuses to go on quietly in that case (see scripts/test.sh).

mod common;

use std::time::{Duration, Instant};

use common::{
    Server, assert_every_epoch_once, metric_rows, next_worker, post_run, prepare, reference_rows,
    signal, strip_timings, train_all, wait_rows, wait_status, worker_pid,
};
use serde_json::json;

/// The cluster's settings from the environment, or None (said loudly).
fn cluster() -> Option<Vec<(&'static str, String)>> {
    let keys = [
        "ANNEAL_SLURM_URL",
        "ANNEAL_SLURM_API",
        "ANNEAL_SLURM_USER",
        "ANNEAL_SLURM_TOKEN",
        "ANNEAL_SLURM_PARTITION",
    ];
    let mut out = vec![("ANNEAL_EXECUTOR", "slurm".to_owned())];
    for k in keys {
        match std::env::var(k) {
            Ok(v) => out.push((k, v)),
            Err(_) => {
                eprintln!(
                    "NO SLURM CLUSTER ({k} unset): run scripts/slurm.sh start DIR and export its lines"
                );
                return None;
            }
        }
    }
    Some(out)
}

fn start(data: &std::path::Path, env: &[(&'static str, String)]) -> Server {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with(data, &pairs)
}

/// The Slurm job that runs (or ran) run `id`.
fn job_of(s: &Server, id: i64) -> String {
    s.get(&format!("/api/runs/{id}"))["executor_job_id"]
        .as_str()
        .expect("a Slurm job id")
        .to_owned()
}

/// The Slurm job's state, by `scontrol` (SLURM_CONF comes from the environment).
fn slurm_state(job: &str) -> String {
    let out = std::process::Command::new("scontrol")
        .args(["show", "job", job, "-o"])
        .output()
        .expect("scontrol runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .find_map(|kv| kv.strip_prefix("JobState="))
        .unwrap_or("UNKNOWN")
        .to_owned()
}

#[test]
fn runs_and_a_sweep_through_slurm_equal_the_local_executor() {
    let Some(env) = cluster() else { return };
    let local_data = prepare("slurm-local");
    let local = train_all(&Server::start(&local_data));
    let data = prepare("slurm");
    let s = start(&data, &env);
    let through = train_all(&s);
    for (a, b) in local.iter().zip(&through) {
        assert_eq!(
            strip_timings(a),
            strip_timings(b),
            "a run differs through Slurm"
        );
    }
    let run = s.get("/api/runs/1");
    assert_eq!(run["executor"], "slurm", "{run}");
    let job = run["executor_job_id"]
        .as_str()
        .expect("a Slurm job id")
        .to_owned();
    assert!(run["executor_node"].is_string(), "{run}");
    assert_eq!(slurm_state(&job), "COMPLETED");
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&local_data);
}

fn long_net_run() -> serde_json::Value {
    json!({
        "seed": 5,
        "schedule": {"kind": "constant", "lr": 0.05},
        "experiment": {
            "kind": "net", "dataset": "fashion_mnist", "data_dir": "tiny",
            "model": {"kind": "mlp", "hidden": [256, 256]},
            "loss": "cross_entropy",
            "optimizer": {"kind": "sgd", "momentum": 0.9},
            "batch": 20, "epochs": 10, "checkpoint_every": 1
        }
    })
}

#[test]
fn a_scancelled_job_is_resubmitted_into_the_same_run_without_gaps() {
    let Some(env) = cluster() else { return };
    let ref_data = prepare("slurm-ref");
    let reference = reference_rows(&ref_data, &long_net_run());
    let data = prepare("slurm-kill");
    let s = start(&data, &env);
    let id = post_run(&s, &long_net_run());
    wait_rows(&s, id, 4, 120);
    let first = job_of(&s, id);
    let killed = std::process::Command::new("scancel")
        .arg(&first)
        .status()
        .expect("scancel runs");
    assert!(killed.success());
    assert_eq!(
        wait_status(&s, id, &["completed", "failed", "interrupted"], 300),
        "completed"
    );
    let run = s.get(&format!("/api/runs/{id}"));
    assert_ne!(
        run["executor_job_id"].as_str(),
        Some(first.as_str()),
        "a new job: {run}"
    );
    let rows = metric_rows(&s, id);
    assert_every_epoch_once(&rows, 10);
    assert_eq!(strip_timings(&rows), strip_timings(&reference));
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&ref_data);
}

#[test]
fn a_job_whose_worker_is_killed_is_resubmitted_and_every_epoch_lands_once() {
    let Some(env) = cluster() else { return };
    let data = prepare("slurm-kill9");
    let s = start(&data, &env);
    let id = post_run(&s, &long_net_run());
    wait_rows(&s, id, 4, 120);
    let first_job = job_of(&s, id);
    // The single node is this machine: the job's worker is a process here.
    let worker = worker_pid(s.port, id).expect("the job's worker runs here");
    signal(worker, "-KILL");
    next_worker(s.port, id, worker, 120);
    assert_eq!(
        wait_status(&s, id, &["completed", "failed", "interrupted"], 300),
        "completed"
    );
    let run = s.get(&format!("/api/runs/{id}"));
    assert_ne!(
        run["executor_job_id"].as_str(),
        Some(first_job.as_str()),
        "a new job: {run}"
    );
    assert_every_epoch_once(&metric_rows(&s, id), 10);
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_job_whose_worker_hangs_is_cancelled_and_resubmitted() {
    let Some(mut env) = cluster() else { return };
    env.push(("ANNEAL_WORKER_STALE_SECS", "4".to_owned()));
    let data = prepare("slurm-hang");
    let s = start(&data, &env);
    let id = post_run(&s, &long_net_run());
    wait_rows(&s, id, 3, 120);
    let first_job = job_of(&s, id);
    // A stopped worker holds its job and its token but says nothing: only silence gives it away.
    let worker = worker_pid(s.port, id).expect("the job's worker runs here");
    signal(worker, "-STOP");
    next_worker(s.port, id, worker, 120);
    assert_eq!(
        wait_status(&s, id, &["completed", "failed", "interrupted"], 300),
        "completed"
    );
    let run = s.get(&format!("/api/runs/{id}"));
    assert_ne!(
        run["executor_job_id"].as_str(),
        Some(first_job.as_str()),
        "a new job: {run}"
    );
    assert_every_epoch_once(&metric_rows(&s, id), 10);
    // Slurm has killed it with its job; if not, let it go rather than leave it stopped.
    let _ = std::process::Command::new("kill")
        .args(["-CONT", &worker.to_string()])
        .status();
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_cancelled_run_ends_its_slurm_job() {
    let Some(env) = cluster() else { return };
    let data = prepare("slurm-cancel");
    let s = start(&data, &env);
    let mut long = common::toy();
    long["experiment"]["steps"] = json!(5_000_000);
    long["experiment"]["eval_every"] = json!(1000);
    let id = post_run(&s, &long);
    wait_rows(&s, id, 3, 120);
    let job = job_of(&s, id);
    let (code, _) = s
        .request("POST", &format!("/api/runs/{id}/cancel"), None)
        .expect("cancel");
    assert_eq!(code, 200);
    assert_eq!(
        wait_status(&s, id, &["cancelled", "failed", "completed"], 60),
        "cancelled"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(slurm_state(&job).as_str(), "COMPLETED" | "CANCELLED") {
        assert!(
            Instant::now() < deadline,
            "the Slurm job is still {}",
            slurm_state(&job)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_server_killed_while_its_slurm_job_runs_adopts_it_on_restart() {
    let Some(env) = cluster() else { return };
    let ref_data = prepare("slurm-adopt-ref");
    let reference = reference_rows(&ref_data, &long_net_run());
    let data = prepare("slurm-adopt");
    let s = start(&data, &env);
    let port = s.port;
    let id = post_run(&s, &long_net_run());
    wait_rows(&s, id, 3, 120);
    let job = job_of(&s, id);
    s.kill9();
    // The worker keeps training and retries its calls while no server answers.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(slurm_state(&job), "RUNNING");
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::start_on(&data, port, &pairs);
    let run = s.get(&format!("/api/runs/{id}"));
    assert_eq!(run["status"], "running", "adopted, not interrupted: {run}");
    assert_eq!(
        wait_status(&s, id, &["completed", "failed", "interrupted"], 300),
        "completed"
    );
    let run = s.get(&format!("/api/runs/{id}"));
    assert_eq!(
        run["executor_job_id"].as_str(),
        Some(job.as_str()),
        "the same job finished it"
    );
    let rows = metric_rows(&s, id);
    assert_eq!(
        strip_timings(&rows),
        strip_timings(&reference),
        "nothing lost, nothing repeated"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&ref_data);
}

/// A dataset uploaded to the server is trained on through Slurm: a 2-seed decay sweep whose
/// jobs find it missing on the node's data directory, fetch it by content hash, verify it, keep
/// one copy, and train every run to completion with a paired summary at the end.
#[test]
fn a_sweep_on_an_uploaded_dataset_runs_through_slurm() {
    use datasets::testgen::{ImageCodec, gzip, image_folder_files, tar_bytes};
    let Some(mut env) = cluster() else { return };
    let data = prepare("slurm-dataset");
    let node = data.with_extension("node");
    let _ = std::fs::remove_dir_all(&node);
    env.push((
        "ANNEAL_SLURM_DATA_DIR",
        node.to_str().expect("utf-8 path").to_owned(),
    ));
    let s = start(&data, &env);
    let files = image_folder_files(
        "",
        &["train/", "test/"],
        &["a", "b", "c"],
        8,
        (8, 8),
        3,
        ImageCodec::Png,
    )
    .expect("images");
    let archive = gzip(&tar_bytes(&files, &[]).expect("tar"));
    let (code, up) = s
        .send(
            "POST",
            "/api/datasets?name=triples",
            "application/octet-stream",
            &archive,
        )
        .expect("upload answers");
    assert_eq!(code, 201, "{up}");
    let hash = up["dataset"]["hash"].as_str().expect("hash").to_owned();
    let sweep = json!({
        "name": "uploaded data on Slurm",
        "main": {
            "seed": 2,
            "schedule": {"kind": "constant", "lr": 0.05},
            "experiment": {
                "kind": "net", "dataset": {"registered": {"name": "triples"}},
                "model": {"kind": "mlp", "hidden": [16]}, "loss": "cross_entropy",
                "optimizer": {"kind": "sgd", "momentum": 0.9},
                "batch": 6, "epochs": 3, "checkpoint_every": 1
            }
        },
        "branch_at": [1, 3],
        "after": {"kind": "constant", "lr": 0.005},
        "branch_length": 1,
        "seeds": [0, 1]
    });
    let (code, body) = s
        .request("POST", "/api/sweeps", Some(&sweep))
        .expect("POST");
    assert_eq!(code, 201, "{body}");
    let ids: Vec<i64> = body["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(serde_json::Value::as_i64)
        .collect();
    assert_eq!(ids.len(), 6, "two seeds × (main path + two branches)");
    for &id in &ids {
        let status = wait_status(&s, id, &["completed", "failed", "cancelled"], 300);
        let run = s.get(&format!("/api/runs/{id}"));
        assert_eq!(status, "completed", "{run}");
        assert_eq!(run["executor"], "slurm", "{run}");
    }
    let copy = node.join("datasets").join(format!("{hash}.ads"));
    let bytes = std::fs::read(&copy).expect("the node's copy");
    assert_eq!(
        domain::hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        hash
    );
    let sweep_id = body["id"].as_i64().expect("sweep id");
    let summary = s.get(&format!("/api/sweeps/{sweep_id}/summary"));
    assert_eq!(summary["seeds"], json!([0, 1]), "{summary}");
    assert_eq!(
        summary["per_seed"].as_array().map(Vec::len),
        Some(4),
        "every (seed, decay point) finished: {summary}"
    );
    assert!(
        summary["effect"]["test_loss"].is_object(),
        "a paired verdict: {summary}"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&node);
}

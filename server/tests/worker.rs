//! The `process` executor end to end on the real binary: runs train in `anneal worker` child
//! processes that speak the worker protocol, with the same rows as in-process training; a run
//! that exhausts its worker's memory fails alone while the server goes on serving; a worker
//! killed with -9, or hung, is replaced and the run completes with every epoch once; a worker
//! whose data directory lacks an uploaded dataset fetches it by hash and trains on it.

mod common;

use common::{
    Server, assert_every_epoch_once, metric_rows, next_worker, post_run, prepare, signal,
    strip_timings, toy, train_all, wait_rows, wait_status, worker_pid,
};
use serde_json::json;

#[test]
fn workers_train_what_the_server_would_row_for_row() {
    let local_data = prepare("worker-local");
    let local = train_all(&Server::start(&local_data));
    let data = prepare("worker-process");
    let s = Server::start_with(&data, &[("ANNEAL_EXECUTOR", "process")]);
    let remote = train_all(&s);
    assert_eq!(local.len(), remote.len());
    for (a, b) in local.iter().zip(&remote) {
        assert!(!a.is_empty());
        assert_eq!(
            strip_timings(a),
            strip_timings(b),
            "a run differs between executors"
        );
    }
    // Where it ran is on record, and the workers left nothing behind but stored checkpoints.
    let (_, run) = s.request("GET", "/api/runs/2", None).expect("GET");
    assert_eq!(run["executor"], "process");
    let scratch = data.join("scratch");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.iter()
            .all(|n| !n.to_string_lossy().starts_with("worker-")),
        "{left:?}"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&local_data);
}

#[test]
fn a_run_that_exhausts_its_worker_fails_alone() {
    let data = prepare("worker-oom");
    // 600 MiB of address space per worker; the server itself is not limited.
    let s = Server::start_with(
        &data,
        &[
            ("ANNEAL_EXECUTOR", "process"),
            ("ANNEAL_WORKER_MEMORY_BYTES", "629145600"),
        ],
    );
    // Valid (well under the 4 GiB a run may plan for), but ~1.3 GB to train here.
    let big = json!({
        "seed": 1,
        "schedule": {"kind": "constant", "lr": 0.05},
        "experiment": {
            "kind": "net", "dataset": "fashion_mnist", "data_dir": "tiny",
            "model": {"kind": "mlp", "hidden": [8192, 8192]},
            "loss": "cross_entropy",
            "optimizer": {"kind": "sgd", "momentum": 0.9},
            "batch": 50, "epochs": 1, "checkpoint_every": 0
        }
    });
    let id = post_run(&s, &big);
    assert_eq!(wait_status(&s, id, &["completed", "failed"], 300), "failed");
    let run = s.get(&format!("/api/runs/{id}"));
    let message = run["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("memory"), "says why: {run}");
    eprintln!("the failed run says: {message}");
    // The server is untouched: it answers, and trains the next run.
    assert_eq!(
        s.request("GET", "/healthz", None).map(|(c, _)| c),
        Some(200)
    );
    let next = post_run(&s, &toy());
    assert_eq!(
        wait_status(&s, next, &["completed", "failed"], 300),
        "completed"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_cancelled_worker_stops_and_the_run_says_cancelled() {
    let data = prepare("worker-cancel");
    let s = Server::start_with(&data, &[("ANNEAL_EXECUTOR", "process")]);
    let mut long = toy();
    long["experiment"]["steps"] = json!(5_000_000);
    long["experiment"]["eval_every"] = json!(1000);
    let id = post_run(&s, &long);
    wait_rows(&s, id, 3, 120);
    let asked = std::time::Instant::now();
    let (code, body) = s
        .request("POST", &format!("/api/runs/{id}/cancel"), None)
        .expect("cancel answers");
    assert_eq!(
        (code, body["cancelled"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(
        wait_status(&s, id, &["cancelled", "failed", "completed"], 60),
        "cancelled"
    );
    // The worker hears it at its next heartbeat (every second), well before the kill deadline.
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_killed_or_hung_worker_is_replaced_and_every_epoch_lands_once() {
    const EPOCHS: u64 = 12;
    let spec = json!({
        "name": "lost workers",
        "seed": 5,
        "schedule": {"kind": "constant", "lr": 0.05},
        "experiment": {
            "kind": "net", "dataset": "fashion_mnist", "data_dir": "tiny",
            "model": {"kind": "mlp", "hidden": [256, 256]},
            "loss": "cross_entropy",
            "optimizer": {"kind": "sgd", "momentum": 0.9},
            "batch": 20, "epochs": EPOCHS, "checkpoint_every": 1
        }
    });
    let data = prepare("worker-lost");
    let s = Server::start_with(
        &data,
        &[
            ("ANNEAL_EXECUTOR", "process"),
            ("ANNEAL_WORKER_STALE_SECS", "4"),
        ],
    );
    let id = post_run(&s, &spec);
    wait_rows(&s, id, 3, 300);
    // A crash of the worker: killed with -9 mid-run.
    let first = worker_pid(s.port, id).expect("a worker trains the run");
    signal(first, "-KILL");
    let second = next_worker(s.port, id, first, 60);
    let rows = metric_rows(&s, id).len();
    wait_rows(&s, id, rows + 2, 300);
    // A hung worker: stopped, so it holds its job and sends nothing; killed and replaced.
    signal(second, "-STOP");
    let third = next_worker(s.port, id, second, 60);
    assert_ne!(third, first);
    assert_eq!(
        wait_status(&s, id, &["completed", "failed", "interrupted"], 300),
        "completed",
        "{}",
        s.get(&format!("/api/runs/{id}"))
    );
    let rows = metric_rows(&s, id);
    assert_every_epoch_once(&rows, EPOCHS);
    let seqs: Vec<i64> = rows.iter().filter_map(|r| r["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq keeps increasing");
    assert!(
        !std::path::Path::new(&format!("/proc/{second}/cmdline")).exists()
            || worker_pid(s.port, id) != Some(second),
        "the hung worker was killed"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_worker_fetches_an_uploaded_dataset_by_hash_and_trains_on_it() {
    use datasets::testgen::{ImageCodec, gzip, image_folder_files, tar_bytes};
    let data = prepare("worker-dataset");
    // The workers' node has a data directory of its own, without the dataset.
    let node = data.with_extension("node");
    let _ = std::fs::remove_dir_all(&node);
    let s = Server::start_with(
        &data,
        &[
            ("ANNEAL_EXECUTOR", "process"),
            ("ANNEAL_WORKER_DATA_DIR", node.to_str().expect("utf-8 path")),
        ],
    );
    let files = image_folder_files(
        "",
        &["train/", "test/"],
        &["a", "b"],
        6,
        (8, 8),
        3,
        ImageCodec::Png,
    )
    .expect("images");
    let archive = gzip(&tar_bytes(&files, &[]).expect("tar"));
    let (code, up) = s
        .send(
            "POST",
            "/api/datasets?name=pairs",
            "application/octet-stream",
            &archive,
        )
        .expect("upload answers");
    assert_eq!(code, 201, "{up}");
    let hash = up["dataset"]["hash"].as_str().expect("hash").to_owned();
    let id = post_run(
        &s,
        &json!({
            "seed": 1,
            "schedule": {"kind": "constant", "lr": 0.05},
            "experiment": {"kind": "net", "dataset": {"registered": {"name": "pairs"}},
                           "model": {"kind": "mlp", "hidden": [16]}, "loss": "cross_entropy",
                           "optimizer": {"kind": "sgd", "momentum": 0.9}, "batch": 4, "epochs": 2}
        }),
    );
    assert_eq!(
        wait_status(&s, id, &["completed", "failed"], 120),
        "completed"
    );
    assert_every_epoch_once(&metric_rows(&s, id), 2);
    // The node now keeps a copy, named by and equal to its hash.
    let copy = node.join("datasets").join(format!("{hash}.ads"));
    let bytes = std::fs::read(&copy).expect("the node's copy");
    assert_eq!(
        domain::hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        hash
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&node);
}

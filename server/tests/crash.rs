//! Crash recovery, end to end on the real binary: start `anneal serve`, launch a network run,
//! `kill -9` the server mid-run, restart it, and check that the run is interrupted, resumes
//! from its last checkpoint into the same id, and ends with every epoch exactly once and the
//! same numbers as a run that was never interrupted.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    Server, assert_every_epoch_once, free_port, metric_rows, post_run, prepare, reference_rows,
    strip_timings, wait_rows, wait_status,
};
use serde_json::{Value, json};

const EPOCHS: u64 = 12;

fn spec() -> Value {
    json!({
        "name": "crash test",
        "seed": 5,
        "schedule": {"kind": "constant", "lr": 0.05},
        "experiment": {
            "kind": "net", "dataset": "fashion_mnist", "data_dir": "tiny",
            "model": {"kind": "mlp", "hidden": [256, 256]},
            "loss": "cross_entropy",
            "optimizer": {"kind": "sgd", "momentum": 0.9},
            "batch": 20, "epochs": EPOCHS, "checkpoint_every": 1
        }
    })
}

#[test]
fn kill_9_then_resume_loses_and_repeats_nothing() {
    // Reference: the same run, never interrupted.
    let ref_data = prepare("ref");
    let reference = reference_rows(&ref_data, &spec());
    assert_eq!(reference.len() as u64, EPOCHS + 1);

    let data = prepare("crash");
    let s = Server::start(&data);
    let id = post_run(&s, &spec());
    // Let a few epochs (and their checkpoints) land, then kill without warning.
    wait_rows(&s, id, 4, 300);
    s.kill9();
    // The data directory moves while the server is down: checkpoints are found by their
    // place inside it, not by where it used to be.
    let moved = data.with_file_name(format!(
        "{}-moved",
        data.file_name().and_then(|n| n.to_str()).unwrap_or("data")
    ));
    let _ = std::fs::remove_dir_all(&moved);
    std::fs::rename(&data, &moved).expect("data directory moved");
    let data = moved;
    let s = Server::start(&data);
    let run = s.get(&format!("/api/runs/{id}"));
    assert_eq!(run["status"], "interrupted", "{run}");
    let before = metric_rows(&s, id).len() as u64;
    assert!(
        before < EPOCHS + 1,
        "the kill came too late to test anything ({before} rows)"
    );

    let (code, body) = s
        .request("POST", &format!("/api/runs/{id}/resume"), None)
        .expect("resume answers");
    assert_eq!((code, body["resumed"].as_bool()), (200, Some(true)));
    assert_eq!(
        wait_status(&s, id, &["completed", "failed"], 300),
        "completed"
    );
    let rows = metric_rows(&s, id);
    assert_every_epoch_once(&rows, EPOCHS);
    let seqs: Vec<i64> = rows.iter().filter_map(|r| r["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq keeps increasing");
    // Deterministic training: the resumed run's numbers equal the uninterrupted one's.
    assert_eq!(strip_timings(&rows), strip_timings(&reference));
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&ref_data);
}

#[test]
fn a_second_server_on_one_data_directory_refuses_to_start() {
    let data = std::env::temp_dir().join(format!("anneal-owner-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("data dir");
    let first = Server::start(&data);
    refused_second(&first, &data, &[]);
    // From another data directory, on the first one's SQLite file by ANNEAL_DB, by a
    // `sqlite://` URL, and by a symlink: refused all the same, the first one's runs untouched.
    let db = data.join("anneal.db");
    let link = std::env::temp_dir().join(format!("anneal-owner-link-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&db, &link).expect("symlink");
    let url = format!("sqlite://{}", db.display());
    for env in [
        ("ANNEAL_DB", db.to_str().expect("utf-8")),
        ("ANNEAL_DATABASE_URL", url.as_str()),
        ("ANNEAL_DB", link.to_str().expect("utf-8")),
    ] {
        let other = std::env::temp_dir().join(format!("anneal-owner-other-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&other);
        std::fs::create_dir_all(&other).expect("other data dir");
        let err = refused_second(&first, &other, &[env]);
        assert!(err.contains("this SQLite database"), "{env:?}: {err}");
    }
    // Private to this user: the data directory and the database.
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&db), 0o600);
    first.kill9();
    let _ = std::fs::remove_dir_all(&data);
}

/// Starts a second server on `data` with `env`, which must exit refusing; its error output.
fn refused_second(first: &Server, data: &std::path::Path, env: &[(&str, &str)]) -> String {
    let port = free_port();
    let mut second = Command::new(env!("CARGO_BIN_EXE_anneal"))
        .arg("serve")
        .env("ANNEAL_ADDR", format!("127.0.0.1:{port}"))
        .env("ANNEAL_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("second server starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = second.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second server kept running on a directory the first owns");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = second.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(!status.success(), "{err}");
    assert!(err.contains("another Anneal server"), "says why: {err}");
    assert_eq!(
        first.request("GET", "/healthz", None).map(|(c, _)| c),
        Some(200),
        "the first server is untouched"
    );
    err
}

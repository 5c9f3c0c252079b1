//! The `anneal` command line as a user runs it: help, `schedule`, `run`, `data check` and the
//! dataset registry's `data add`, `data list` and `data rm`.

use std::process::Command;

fn anneal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_anneal"))
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("anneal-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn help_lists_every_subcommand() {
    let out = anneal().arg("--help").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "run", "sweep", "worker", "schedule", "data"] {
        assert!(text.contains(cmd), "`{cmd}` missing from:\n{text}");
    }
    let run_help = anneal().args(["run", "--help"]).output().expect("runs");
    let text = String::from_utf8_lossy(&run_help.stdout);
    for field in [
        "train_per_class",
        "checkpoint_every",
        "label_noise",
        "momentum",
        "[schedule]",
    ] {
        assert!(text.contains(field), "`{field}` undocumented in run --help");
    }
}

#[test]
fn schedule_prints_one_lr_per_line_from_json_or_toml() {
    let dir = temp_dir("sched");
    let json = dir.join("s.json");
    std::fs::write(
        &json,
        r#"{"kind":"multi_step","lr":0.1,"milestones":[2,4],"gamma":0.5}"#,
    )
    .expect("write");
    let out = anneal()
        .arg("schedule")
        .arg(&json)
        .args(["--steps", "6"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lrs: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.parse().expect("a number"))
        .collect();
    assert_eq!(lrs, vec![0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);

    let toml = dir.join("s.toml");
    std::fs::write(
        &toml,
        "kind = \"decay_at\"\nlr = 0.2\ndecay_step = 3\nfactor = 0.1\n",
    )
    .expect("write");
    let out = anneal()
        .arg("schedule")
        .arg(&toml)
        .args(["--steps", "4", "--steps-per-epoch", "2"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let last: Vec<&str> = text.lines().last().unwrap_or("").split(' ').collect();
    assert_eq!(last[..2], ["3", "1.5"], "{text}");
    assert!((last[2].parse::<f64>().expect("lr") - 0.02).abs() < 1e-15);

    std::fs::write(
        &json,
        r#"{"kind":"multi_step","lr":0.1,"milestones":[4,2],"gamma":0.5}"#,
    )
    .expect("write");
    let out = anneal()
        .arg("schedule")
        .arg(&json)
        .args(["--steps", "6"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("milestones"),
        "the error names the field"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_trains_headless_into_the_database() {
    let dir = temp_dir("run");
    let spec = dir.join("toy.toml");
    std::fs::write(
        &spec,
        "seed = 1\n[schedule]\nkind = \"constant\"\nlr = 0.05\n[experiment]\nkind = \"toy\"\nd = 20\nn = 5\ngamma = 1.0\nlabel_noise = 0.3\nbatch = 1\nsteps = 2000\n",
    )
    .expect("write");
    let out = anneal()
        .arg("run")
        .arg(&spec)
        .env("ANNEAL_DATA_DIR", &dir)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("run 1 completed"));
    assert!(dir.join("anneal.db").exists());

    std::fs::write(&spec, "seed = 1\n[schedule]\nkind = \"constant\"\nlr = -1\n[experiment]\nkind = \"toy\"\nd = 5\nn = 9\ngamma = 1.0\nlabel_noise = 0.3\nbatch = 1\nsteps = 20\n").expect("write");
    let out = anneal()
        .arg("run")
        .arg(&spec)
        .env("ANNEAL_DATA_DIR", &dir)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("experiment.n") && err.contains("schedule.lr"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn data_check_loads_or_says_what_is_missing() {
    let dir = temp_dir("data");
    datasets::testgen::write_idx(&dir.join("m"), 30, 10, true, 1).expect("written");
    let out = anneal()
        .args(["data", "check", "mnist", "--dir"])
        .arg(dir.join("m"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("30 training and 10 test images"));
    let out = anneal()
        .args(["data", "check", "cifar10"])
        .env("ANNEAL_DATA_DIR", &dir)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("anneal data fetch cifar10"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sweep_trains_replicates_headless_and_prints_the_verdict() {
    let data = std::env::temp_dir().join(format!("anneal-cli-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("dir");
    let spec = data.join("sweep.toml");
    std::fs::write(
        &spec,
        r#"
name = "cli sweep"
branch_at = [200, 600]
branch_length = 200
seeds = [1, 2, 3]
[main]
seed = 1
[main.experiment]
kind = "toy"
d = 20
n = 5
gamma = 1.0
label_noise = 0.3
batch = 1
steps = 600
[main.schedule]
kind = "constant"
lr = 0.05
[after]
kind = "constant"
lr = 0.005
"#,
    )
    .expect("spec");
    let out = anneal()
        .args(["sweep"])
        .arg(&spec)
        .env("ANNEAL_DATA_DIR", &data)
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("9 runs queued"), "{text}");
    assert!(
        text.contains("95% CI") && text.contains("3 seeds"),
        "{text}"
    );
    // More seeds later, into the same sweep.
    let out = anneal()
        .args(["sweep", "--add-to", "1", "--seeds", "4:5:1"])
        .env("ANNEAL_DATA_DIR", &data)
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("6 runs queued") && text.contains("5 seeds"),
        "{text}"
    );
    // A repeated seed is refused by field, and nothing is queued.
    let out = anneal()
        .args(["sweep", "--add-to", "1", "--seeds", "2"])
        .env("ANNEAL_DATA_DIR", &data)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("seeds: seed 2 is given twice"));
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn data_add_registers_a_folder_and_refuses_a_corrupt_image_by_name() {
    use datasets::testgen::{ImageCodec, image_folder_files, write_files};
    let dir = temp_dir("data-add");
    let data = dir.join("data");
    let good = dir.join("good");
    let files = image_folder_files(
        "",
        &["train/", "test/"],
        &["cats", "dogs"],
        3,
        (6, 6),
        3,
        ImageCodec::Jpeg,
    )
    .expect("images");
    write_files(&good, &files).expect("folder");
    let add = |name: &str, path: &std::path::Path| {
        anneal()
            .env("ANNEAL_DATA_DIR", &data)
            .args(["data", "add", name])
            .arg(path)
            .output()
            .expect("runs")
    };
    let out = add("pets", &good);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "pets registered as version 1 (2 classes, 6 training and 6 test examples of 3×6×6"
        ),
        "{text}"
    );
    // Again: the same content is already there.
    let again = add("pets", &good);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already registered"));
    let list = anneal()
        .env("ANNEAL_DATA_DIR", &data)
        .args(["data", "list"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("pets") && l.contains("images") && l.contains("3×6×6")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("fashion_mnist")),
        "{text}"
    );

    let bad = dir.join("bad");
    write_files(&bad, &files).expect("folder");
    std::fs::write(
        bad.join("train/dogs/truncated.jpg"),
        b"\xff\xd8\xff garbage",
    )
    .expect("corrupt");
    let out = add("broken", &bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("truncated.jpg") && err.contains("file"),
        "{err}"
    );
    let list = anneal()
        .env("ANNEAL_DATA_DIR", &data)
        .args(["data", "list"])
        .output()
        .expect("runs");
    assert!(!String::from_utf8_lossy(&list.stdout).contains("broken"));

    let rm = anneal()
        .env("ANNEAL_DATA_DIR", &data)
        .args(["data", "rm", "pets"])
        .output()
        .expect("runs");
    assert!(
        String::from_utf8_lossy(&rm.stdout).contains("deleted pets (1 version(s))"),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

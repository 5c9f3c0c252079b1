//! What the end-to-end tests on the real binary share: a server started on a data directory
//! (with extra environment), a minimal HTTP client, and helpers to wait for runs.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(data: &Path) -> Self {
        Self::start_with(data, &[])
    }

    /// A server with these environment variables set as well, on a port it finds free (so
    /// that tests run beside an app already serving on 3000, and beside each other).
    pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Self {
        for _ in 0..5 {
            let port = free_port();
            match Self::try_start(data, port, env) {
                Ok(s) => return s,
                // Free when probed, taken before the server bound it: try another.
                Err(_) if !is_free(port) => continue,
                Err(status) => panic!("the server exited before it was ready ({status})"),
            }
        }
        panic!("five free ports were taken before the server could bind them");
    }

    /// On a given port (a restarted server where its workers look for it).
    pub fn start_on(data: &Path, port: u16, env: &[(&str, &str)]) -> Self {
        Self::try_start(data, port, env).unwrap_or_else(|status| {
            panic!("the server exited before it was ready on port {port} ({status})")
        })
    }

    /// The server once it answers; its exit status if it ends first (its port was taken, say).
    fn try_start(
        data: &Path,
        port: u16,
        env: &[(&str, &str)],
    ) -> Result<Self, std::process::ExitStatus> {
        let child = Command::new(env!("CARGO_BIN_EXE_anneal"))
            .arg("serve")
            .env("ANNEAL_ADDR", format!("127.0.0.1:{port}"))
            .env("ANNEAL_DATA_DIR", data)
            .env("RUST_LOG", "warn")
            // Only what a test asks for: a shell's executor settings must not leak in.
            .env_remove("ANNEAL_EXECUTOR")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("server starts");
        let mut s = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answered = s.request("GET", "/healthz", None).map(|(c, _)| c) == Some(200);
            // Checked after the request too: an answer from another process on the port does
            // not count once this server has exited.
            if let Some(status) = s.child.try_wait().expect("server status") {
                return Err(status);
            }
            if answered {
                return Ok(s);
            }
            assert!(Instant::now() < deadline, "server never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A minimal HTTP/1.1 client: the test needs nothing beyond std.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, Value)> {
        let body = body.map(Value::to_string).unwrap_or_default();
        self.send(method, path, "application/json", body.as_bytes())
    }

    /// The same with a body of raw bytes (a dataset upload).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Option<(u16, Value)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).ok()?;
        stream.write_all(body).ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).ok()?;
        let text = String::from_utf8_lossy(&raw);
        let code = text.split_whitespace().nth(1)?.parse().ok()?;
        let (head, rest) = text.split_once("\r\n\r\n")?;
        let payload = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_owned()
        };
        Some((code, serde_json::from_str(&payload).unwrap_or(Value::Null)))
    }

    pub fn get(&self, path: &str) -> Value {
        self.request("GET", path, None).expect("GET answers").1
    }

    /// The server's process id (for its memory in `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now, as the OS hands out for port 0.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((len, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(len.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("anneal-crash-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub fn wait_status(s: &Server, id: i64, want: &[&str], secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let st = s.get(&format!("/api/runs/{id}"))["status"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if want.contains(&st.as_str()) {
            return st;
        }
        assert!(Instant::now() < deadline, "run {id} stuck in {st}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn metric_rows(s: &Server, id: i64) -> Vec<Value> {
    s.get(&format!("/api/runs/{id}/metrics"))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn prepare(tag: &str) -> PathBuf {
    let data = temp_dir(tag);
    datasets::testgen::write_idx(&data.join("tiny"), 2000, 200, true, 11)
        .expect("test data written");
    data
}

/// Metric rows without what differs between two identical runs (their timings).
pub fn strip_timings(rows: &[Value]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let mut v = r["values"].clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("samples_per_sec");
                o.remove("epoch_seconds");
            }
            json!({"step": r["step"], "values": v})
        })
        .collect()
}

pub fn net_sweep() -> Value {
    json!({
        "name": "worker sweep",
        "main": {
            "seed": 4,
            "schedule": {"kind": "constant", "lr": 0.05},
            "experiment": {
                "kind": "net", "dataset": "fashion_mnist", "data_dir": "tiny",
                "model": {"kind": "mlp", "hidden": [64]},
                "loss": "cross_entropy",
                "optimizer": {"kind": "sgd", "momentum": 0.9},
                "batch": 50, "epochs": 4, "checkpoint_every": 1
            }
        },
        "branch_at": [2, 4],
        "after": {"kind": "constant", "lr": 0.005},
        "branch_length": 2
    })
}

pub fn toy() -> Value {
    json!({
        "experiment": {"kind": "toy", "d": 20, "n": 5, "gamma": 1.0, "label_noise": 0.3, "batch": 1,
                       "steps": 2000, "eval_every": 100},
        "schedule": {"kind": "constant", "lr": 0.05},
        "seed": 1
    })
}

/// Runs the toy run and the sweep on `s`, and answers every run's rows in order.
pub fn train_all(s: &Server) -> Vec<Vec<Value>> {
    let mut ids = vec![post_run(s, &toy())];
    let (code, body) = s
        .request("POST", "/api/sweeps", Some(&net_sweep()))
        .expect("POST");
    assert_eq!(code, 201, "{body}");
    ids.extend(
        body["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .filter_map(Value::as_i64),
    );
    ids.iter()
        .map(|&id| {
            let status = wait_status(s, id, &["completed", "failed", "cancelled"], 300);
            let run = s.get(&format!("/api/runs/{id}"));
            assert_eq!(status, "completed", "{run}");
            metric_rows(s, id)
        })
        .collect()
}

/// Starts a run of `spec` on `s` and answers its id.
pub fn post_run(s: &Server, spec: &Value) -> i64 {
    let (code, body) = s
        .request("POST", "/api/runs", Some(spec))
        .expect("POST answers");
    assert_eq!(code, 201, "{body}");
    body["id"].as_i64().expect("id")
}

/// The rows of `spec` trained to completion, never interrupted, on a server of its own.
pub fn reference_rows(data: &Path, spec: &Value) -> Vec<Value> {
    let s = Server::start(data);
    let id = post_run(&s, spec);
    assert_eq!(
        wait_status(&s, id, &["completed", "failed"], 300),
        "completed"
    );
    metric_rows(&s, id)
}

/// Waits until run `id` has stored at least `n` metric rows.
pub fn wait_rows(s: &Server, id: i64, n: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while metric_rows(s, id).len() < n {
        assert!(Instant::now() < deadline, "run {id} made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The rows are epochs 0 to `last`, each exactly once, in order.
pub fn assert_every_epoch_once(rows: &[Value], last: u64) {
    let epochs: Vec<u64> = rows
        .iter()
        .filter_map(|r| r["epoch"].as_f64())
        .map(|e| e as u64)
        .collect();
    assert_eq!(
        epochs,
        (0..=last).collect::<Vec<_>>(),
        "every epoch exactly once"
    );
}

/// The pid of the worker process training run `id` for the server on `port`, if one is alive.
pub fn worker_pid(port: u16, id: i64) -> Option<u32> {
    let server = format!("http://127.0.0.1:{port}");
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let has = |pair: [&str; 2]| {
            args.windows(2)
                .any(|w| w[0] == pair[0].as_bytes() && w[1] == pair[1].as_bytes())
        };
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // A zombie (Z) is already dead.
        let alive = state
            .rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'));
        (alive && has(["--server", &server]) && has(["--run", &id.to_string()])).then_some(pid)
    })
}

/// Waits for a worker of run `id` other than `old`.
pub fn next_worker(port: u16, id: i64, old: u32, secs: u64) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(pid) = worker_pid(port, id).filter(|&p| p != old) {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "no new worker took run {id} over"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

//! SSE load on loopback: N concurrent viewers follow one run while it trains. Reports events
//! lost per viewer (goal 0), the server's peak RSS, and the delay from database commit to
//! client receipt (p50/p95). A benchmark, not a test:
//!
//! `cargo bench -p server --bench sse_load -- 100 500 1000`

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use domain::clock::now_ms;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Server {
    child: Child,
    port: u16,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn start_server() -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let data = std::env::temp_dir().join(format!("anneal-load-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let child = Command::new(env!("CARGO_BIN_EXE_anneal"))
        .arg("serve")
        .env("ANNEAL_ADDR", format!("127.0.0.1:{port}"))
        .env("ANNEAL_DATA_DIR", &data)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    Server { child, port, data }
}

async fn http(port: u16, method: &str, path: &str, body: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    Some(out)
}

/// Follows the stream to `done`; returns (seq, receipt ms) of every stored event.
async fn viewer(port: u16, run: i64) -> Vec<(i64, i64)> {
    let mut got = Vec::new();
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
        return got;
    };
    let req = format!(
        "GET /api/runs/{run}/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return got;
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut text = String::new();
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(120), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return got,
        };
        let at = now_ms();
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let id = block
                .lines()
                .find_map(|l| l.strip_prefix("id: ").or_else(|| l.strip_prefix("id:")))
                .and_then(|v| v.trim().parse().ok());
            if let Some(id) = id {
                got.push((id, at));
            }
            if block.contains("event: done") || block.contains("event:done") {
                return got;
            }
        }
    }
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return -1;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn round(viewers: usize) {
    let server = start_server();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(server.port, "GET", "/healthz", "")
        .await
        .is_none_or(|r| !r.starts_with("HTTP/1.1 200"))
    {
        assert!(Instant::now() < deadline, "server never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let baseline_kb = rss_kb(server.child.id());
    // A toy run paced by its size: 1,000 metric rows over several seconds.
    let spec = r#"{"experiment":{"kind":"toy","d":400,"n":100,"gamma":1.0,"label_noise":0.3,"batch":50,"steps":100000,"eval_every":100},
                   "schedule":{"kind":"constant","lr":0.01},"seed":1}"#;
    // Queue it behind a short first run so all viewers are connected before it starts.
    let blocker = r#"{"experiment":{"kind":"toy","d":400,"n":100,"gamma":1.0,"label_noise":0.3,"batch":50,"steps":30000,"eval_every":30000},
                      "schedule":{"kind":"constant","lr":0.01},"seed":1}"#;
    http(server.port, "POST", "/api/runs", blocker)
        .await
        .expect("blocker queued");
    http(server.port, "POST", "/api/runs", spec)
        .await
        .expect("run queued");
    let run = 2;
    let tasks: Vec<_> = (0..viewers)
        .map(|_| tokio::spawn(viewer(server.port, run)))
        .collect();
    let pid = server.child.id();
    let peak = tokio::spawn(async move {
        let mut peak = 0;
        for _ in 0..600 {
            peak = peak.max(rss_kb(pid));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    });
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap_or_default());
    }
    peak.abort();
    let peak_kb = peak.await.unwrap_or(0).max(rss_kb(pid));

    // Commit times straight from the database the server wrote.
    let db = server.data.join("anneal.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}?mode=ro", db.display()))
        .await
        .expect("db opens");
    let committed: Vec<(i64, i64)> =
        sqlx::query_as("SELECT seq, created_at_ms FROM run_events WHERE run_id = ? ORDER BY seq")
            .bind(run)
            .fetch_all(&pool)
            .await
            .expect("events");
    let expected: HashSet<i64> = committed.iter().map(|(s, _)| *s).collect();
    let commit_at: std::collections::HashMap<i64, i64> = committed.into_iter().collect();
    let (mut lost, mut dup, mut delays) = (0usize, 0usize, Vec::new());
    for got in &results {
        let seen: HashSet<i64> = got.iter().map(|(s, _)| *s).collect();
        lost += expected.difference(&seen).count();
        dup += got.len() - seen.len();
        delays.extend(
            got.iter()
                .filter_map(|(s, at)| commit_at.get(s).map(|c| at - c)),
        );
    }
    delays.sort_unstable();
    println!(
        "{{\"viewers\":{viewers},\"events_per_viewer\":{},\"lost\":{lost},\"duplicated\":{dup},\"rss_idle_mb\":{:.1},\"rss_peak_mb\":{:.1},\"delay_ms_p50\":{},\"delay_ms_p95\":{},\"delay_ms_max\":{}}}",
        expected.len(),
        baseline_kb as f64 / 1024.0,
        peak_kb as f64 / 1024.0,
        pct(&delays, 0.5),
        pct(&delays, 0.95),
        delays.last().copied().unwrap_or(-1)
    );
}

fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .filter_map(|a| a.parse().ok())
        .collect();
    let counts = if counts.is_empty() {
        vec![100, 500, 1000]
    } else {
        counts
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for n in counts {
        rt.block_on(round(n));
    }
}

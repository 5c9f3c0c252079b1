//! Hostile requests against the real binary over TCP, where memory and connections are real:
//! an unauthenticated checkpoint upload and absurd declared lengths are answered before a byte
//! of their bodies is read, without the server's memory growing, and a client that never
//! finishes its headers is dropped.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, temp_dir};

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// Sends a request's head only and returns the status the server answers with, and how long it
/// took; then tries to push `push` bytes of the body, which the server must not be holding.
fn head_only(port: u16, length: &str, auth: bool, push: usize) -> (u16, Duration) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let object = "ab".repeat(32);
    let auth = if auth {
        "Authorization: Bearer not-a-job-token\r\n"
    } else {
        ""
    };
    let head = format!(
        "PUT /api/worker/runs/1/objects/{object} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/octet-stream\r\n{auth}Content-Length: {length}\r\n\r\n"
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).expect("head");
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).expect("an answer before the body");
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&buf[..n]);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let chunk = vec![0x55u8; 1 << 20];
    let mut sent = 0;
    while sent < push {
        match stream.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => sent += n,
        }
    }
    (status, took)
}

#[test]
fn uploads_are_refused_before_their_bodies_without_the_memory_growing() {
    let data = temp_dir("hostile-uploads");
    let s = Server::start(&data);
    // A few requests first, so what a first request allocates once is not counted.
    head_only(s.port, "10", false, 0);
    let before = rss_kib(s.pid());
    for _ in 0..3 {
        // 512 MiB declared, no token: 401 at once, and the 64 MiB pushed after it is not kept.
        let (status, took) = head_only(s.port, "536870912", false, 64 << 20);
        assert_eq!(status, 401);
        assert!(took < Duration::from_secs(5), "{took:?}");
        let (status, _) = head_only(s.port, "536870912", true, 8 << 20);
        assert_eq!(status, 401);
    }
    // Beyond what the route takes at all: 413 before anything else, token or not.
    for length in ["1000000000000", "2147483649"] {
        let (status, took) = head_only(s.port, length, false, 0);
        assert_eq!(status, 413, "{length}");
        assert!(took < Duration::from_secs(5), "{length}: {took:?}");
    }
    // Within the route's 2 GiB, but no token: 401 at once, not a wait for 2 GiB.
    for length in ["2147483648", "2147483647"] {
        let (status, took) = head_only(s.port, length, false, 0);
        assert_eq!(status, 401, "{length}");
        assert!(took < Duration::from_secs(5), "{length}: {took:?}");
    }
    // A length no u64 holds: hyper itself refuses it (431), at once.
    let (status, _) = head_only(s.port, "18446744073709551616", false, 0);
    assert!((400..500).contains(&status), "{status}");
    std::thread::sleep(Duration::from_millis(300));
    let after = rss_kib(s.pid());
    assert!(
        after < before + 8 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_client_that_never_finishes_its_headers_is_dropped() {
    let data = temp_dir("hostile-slow-headers");
    let s = Server::start(&data);
    let mut stream = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .expect("half a head");
    let started = Instant::now();
    let mut buf = [0u8; 256];
    // Closed (0 bytes, or a reset) well before the test's own 30 s read timeout.
    let closed = match stream.read(&mut buf) {
        Ok(n) => n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"),
        Err(e) => {
            e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut
        }
    };
    assert!(closed, "the connection stayed open");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

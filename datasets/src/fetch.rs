//! `anneal data fetch cifar10`: download the official CIFAR-10 binary archive into a temporary
//! file, verify its SHA-256, and only then unpack it, through a temporary folder and a rename,
//! so `data_root` never holds a half-written or unverified `cifar-10-batches-bin`.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use crate::cifar::{META_FILE, RECORD, TEST_FILE, TRAIN_FILES};
use crate::{CIFAR10_DIR, DataError};

pub const CIFAR10_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/// SHA-256 of `cifar-10-binary.tar.gz`, as recorded by TensorFlow Datasets
/// (`tensorflow_datasets/url_checksums/cifar10.txt`, with size 170052171) and, independently,
/// by torch.rb's CIFAR10 loader and GoMLX's downloader. The official page publishes only an
/// MD5 (c32a1d4ab5d03f1284b67883e8d87530 for this file); SHA-256 is the stronger check.
pub const CIFAR10_SHA256: &str = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd";

/// Size of the official archive, for a progress bar when the server sends no Content-Length.
pub const CIFAR10_BYTES: u64 = 170_052_171;

/// Downloads the CIFAR-10 binary archive from `url` (normally [`CIFAR10_URL`]), checks it
/// against [`CIFAR10_SHA256`], and unpacks it to `data_root/cifar-10-batches-bin`, which it
/// returns. `progress(bytes_so_far, total_if_known)` is called as data arrives. If that folder
/// already holds the six batch files nothing is downloaded. On any failure, nothing new is
/// left in `data_root`.
pub fn fetch_cifar10(
    data_root: &Path,
    url: &str,
    progress: impl FnMut(u64, Option<u64>),
) -> Result<PathBuf, DataError> {
    fetch_verified(data_root, url, CIFAR10_SHA256, progress)
}

/// A temporary file or folder that is deleted when dropped, so every early return cleans up.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: failing to delete scratch must not mask the error being returned.
        let _ = fs::remove_dir_all(&self.0).or_else(|_| fs::remove_file(&self.0));
    }
}

/// A name no concurrent fetch (in this or another process) will also pick.
fn scratch_tag() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn required_files() -> impl Iterator<Item = &'static str> {
    TRAIN_FILES.into_iter().chain([TEST_FILE])
}

pub(crate) fn fetch_verified(
    data_root: &Path,
    url: &str,
    sha256_hex: &str,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<PathBuf, DataError> {
    let final_dir = data_root.join(CIFAR10_DIR);
    if final_dir.exists() {
        return match required_files().find(|f| !final_dir.join(f).is_file()) {
            None => Ok(final_dir),
            Some(missing) => Err(DataError::Archive {
                reason: format!(
                    "{} already exists but lacks {missing}; remove that folder and fetch again",
                    final_dir.display()
                ),
            }),
        };
    }
    fs::create_dir_all(data_root).map_err(|e| DataError::io(data_root, e))?;
    let tag = scratch_tag();
    let part = Scratch(data_root.join(format!(".cifar-10-binary.tar.gz.{tag}.part")));
    let actual = download(url, &part.0, &mut progress)?;
    if !actual.eq_ignore_ascii_case(sha256_hex) {
        return Err(DataError::HashMismatch {
            url: url.to_owned(),
            expected: sha256_hex.to_owned(),
            actual,
        });
    }
    let staging = Scratch(data_root.join(format!(".cifar-10-extract.{tag}")));
    let unpacked = staging.0.join(CIFAR10_DIR);
    extract(&part.0, &unpacked)?;
    // Same filesystem (both under data_root), so the folder appears whole or not at all.
    fs::rename(&unpacked, &final_dir).map_err(|e| DataError::io(&final_dir, e))?;
    Ok(final_dir)
}

/// Streams `url` into `dest`, returning the SHA-256 (lower-case hex) of what was written.
fn download(
    url: &str,
    dest: &Path,
    progress: &mut impl FnMut(u64, Option<u64>),
) -> Result<String, DataError> {
    let failed = |reason: String| DataError::Download {
        url: url.to_owned(),
        reason,
    };
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(60))
        .build();
    let response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Status(code, r) => failed(format!(
            "the server answered HTTP {code} {}",
            r.status_text()
        )),
        ureq::Error::Transport(t) => failed(format!("{t} (this needs internet access to {url})")),
    })?;
    let total = response
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut body = response.into_reader();
    let mut file = File::create(dest).map_err(|e| DataError::io(dest, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    progress(0, total);
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(failed(format!(
                    "the transfer broke after {done} bytes: {e}"
                )));
            }
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| DataError::io(dest, e))?;
        done += n as u64;
        progress(done, total);
    }
    if let Some(total) = total.filter(|&t| t != done) {
        return Err(failed(format!(
            "the connection closed after {done} of {total} bytes"
        )));
    }
    file.sync_all().map_err(|e| DataError::io(dest, e))?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Unpacks the archive's `cifar-10-batches-bin/*` regular files into `out`. Only the known
/// file names are written and links are skipped, so a hostile archive cannot write outside
/// `out` even though the hash has already vouched for it.
fn extract(archive: &Path, out: &Path) -> Result<(), DataError> {
    let bad = |e: io::Error| DataError::Archive {
        reason: e.to_string(),
    };
    fs::create_dir_all(out).map_err(|e| DataError::io(out, e))?;
    let known: Vec<&str> = required_files().chain([META_FILE, "readme.html"]).collect();
    let file = File::open(archive).map_err(|e| DataError::io(archive, e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(bad)?.into_owned();
        let parts: Vec<Component> = path
            .components()
            .filter(|c| *c != Component::CurDir)
            .collect();
        let name = match parts.as_slice() {
            [Component::Normal(dir), Component::Normal(name)] if *dir == CIFAR10_DIR => {
                name.to_str()
            }
            _ => None,
        };
        let Some(name) = name.filter(|n| known.contains(n)) else {
            continue;
        };
        let dest = out.join(name);
        let mut f = File::create(&dest).map_err(|e| DataError::io(&dest, e))?;
        io::copy(&mut entry, &mut f).map_err(bad)?;
    }
    for name in required_files() {
        let path = out.join(name);
        let size = fs::metadata(&path)
            .map_err(|_| DataError::Archive {
                reason: format!("it has no {CIFAR10_DIR}/{name}"),
            })?
            .len();
        if size == 0 || size % RECORD as u64 != 0 {
            return Err(DataError::BadSize {
                path,
                size,
                record: RECORD,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DatasetKind, load, testgen};
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    /// A fresh folder under the system temp dir, removed at the end of the test.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> Self {
            let p = std::env::temp_dir().join(format!("anneal-datasets-{name}-{}", scratch_tag()));
            let _ = fs::remove_dir_all(&p);
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A one-file HTTP/1.1 server on a loopback port; returns its URL and a request counter.
    fn serve(status: &'static str, body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                // Read the request head up to its blank line.
                while reader
                    .read_line(&mut line)
                    .map(|n| n > 0 && line != "\r\n")
                    .unwrap_or(false)
                {
                    line.clear();
                }
                let mut s = reader.into_inner();
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/x-gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s
                    .write_all(head.as_bytes())
                    .and_then(|()| s.write_all(&body));
            }
        });
        (format!("http://{addr}/~kriz/cifar-10-binary.tar.gz"), hits)
    }

    fn sha_hex(bytes: &[u8]) -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn official_hash_is_well_formed() {
        assert_eq!(CIFAR10_SHA256.len(), 64);
        assert!(
            CIFAR10_SHA256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn verified_download_is_unpacked_and_loads() {
        let tarball = testgen::cifar10_tarball(20, 30, 7).expect("tarball");
        let (url, _) = serve("200 OK", tarball.clone());
        let root = TempDir::new("fetch-ok");
        let mut last = (0, None);
        let dir = fetch_verified(&root.0, &url, &sha_hex(&tarball).to_uppercase(), |n, t| {
            last = (n, t)
        })
        .expect("fetches");
        assert_eq!(dir, root.0.join(CIFAR10_DIR));
        assert_eq!(last, (tarball.len() as u64, Some(tarball.len() as u64)));
        assert_eq!(
            entries(&root.0),
            [CIFAR10_DIR],
            "no scratch files may remain"
        );
        let split = load(DatasetKind::Cifar10, &dir).expect("the fetched folder loads");
        assert_eq!((split.train.len(), split.test.len()), (100, 30));
        assert_eq!(split.train.class_names[9], "truck");
        // The same bytes as the generator writes directly.
        let direct = TempDir::new("fetch-direct");
        testgen::write_cifar10(&direct.0, 20, 30, 7).expect("writes");
        assert_eq!(load(DatasetKind::Cifar10, &direct.0).expect("loads"), split);
    }

    #[test]
    fn wrong_hash_leaves_nothing_extracted() {
        let tarball = testgen::cifar10_tarball(2, 3, 1).expect("tarball");
        let (url, _) = serve("200 OK", tarball.clone());
        let root = TempDir::new("fetch-badhash");
        let err =
            fetch_verified(&root.0, &url, &"0".repeat(64), |_, _| {}).expect_err("hash mismatch");
        match &err {
            DataError::HashMismatch {
                actual, expected, ..
            } => {
                assert_eq!(actual, &sha_hex(&tarball));
                assert_eq!(expected, &"0".repeat(64));
            }
            other => panic!("wrong error: {other}"),
        }
        assert!(err.to_string().contains("nothing was extracted"), "{err}");
        assert!(
            entries(&root.0).is_empty(),
            "left behind: {:?}",
            entries(&root.0)
        );
        // The public entry point checks against the real archive's hash, which a generated one fails.
        let err = fetch_cifar10(&root.0, &url, |_, _| {}).expect_err("not the official file");
        assert!(
            matches!(err, DataError::HashMismatch { ref expected, .. } if expected == CIFAR10_SHA256),
            "{err}"
        );
        assert!(entries(&root.0).is_empty());
    }

    #[test]
    fn http_errors_and_unreachable_servers_are_download_errors() {
        let (url, _) = serve("404 Not Found", b"gone".to_vec());
        let root = TempDir::new("fetch-404");
        let err = fetch_verified(&root.0, &url, CIFAR10_SHA256, |_, _| {}).expect_err("404");
        assert!(matches!(err, DataError::Download { .. }), "{err}");
        assert!(err.to_string().contains("HTTP 404"), "{err}");
        assert!(entries(&root.0).is_empty());

        // A port nobody listens on: bind, note it, close.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let err = fetch_verified(
            &root.0,
            &format!("http://127.0.0.1:{port}/x"),
            CIFAR10_SHA256,
            |_, _| {},
        )
        .expect_err("refused");
        assert!(err.to_string().contains("needs internet access"), "{err}");
        assert!(entries(&root.0).is_empty());
    }

    #[test]
    fn archive_without_the_batches_is_rejected_cleanly() {
        // A valid gzipped tar with the wrong contents, such as the Python version of CIFAR-10.
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        tar.append_data(&mut h, "cifar-10-batches-py/data_batch_1", &b"abc"[..])
            .expect("append");
        let bytes = tar
            .into_inner()
            .and_then(flate2::write::GzEncoder::finish)
            .expect("finish");
        let (url, _) = serve("200 OK", bytes.clone());
        let root = TempDir::new("fetch-wrongtar");
        let err =
            fetch_verified(&root.0, &url, &sha_hex(&bytes), |_, _| {}).expect_err("no batches");
        assert!(
            err.to_string()
                .contains("has no cifar-10-batches-bin/data_batch_1.bin"),
            "{err}"
        );
        assert!(entries(&root.0).is_empty());
    }

    #[test]
    fn members_outside_the_folder_are_never_written() {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for name in TRAIN_FILES.into_iter().chain([TEST_FILE]) {
            let record = vec![1u8; RECORD];
            let mut h = tar::Header::new_gnu();
            h.set_size(RECORD as u64);
            h.set_mode(0o644);
            tar.append_data(&mut h, format!("{CIFAR10_DIR}/{name}"), record.as_slice())
                .expect("append");
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o644);
        tar.append_data(&mut h, format!("{CIFAR10_DIR}/evil.sh"), &b"boom"[..])
            .expect("append");
        let bytes = tar
            .into_inner()
            .and_then(flate2::write::GzEncoder::finish)
            .expect("finish");
        let (url, _) = serve("200 OK", bytes.clone());
        let root = TempDir::new("fetch-extra");
        let dir = fetch_verified(&root.0, &url, &sha_hex(&bytes), |_, _| {}).expect("fetches");
        assert!(!dir.join("evil.sh").exists());
        assert_eq!(entries(&dir).len(), 6);
    }

    #[test]
    fn existing_folder_is_not_downloaded_again() {
        let tarball = testgen::cifar10_tarball(1, 1, 2).expect("tarball");
        let (url, hits) = serve("200 OK", tarball);
        let root = TempDir::new("fetch-present");
        testgen::write_cifar10(&root.0.join(CIFAR10_DIR), 1, 1, 2).expect("writes");
        let dir = fetch_verified(&root.0, &url, CIFAR10_SHA256, |_, _| {}).expect("already there");
        assert_eq!(dir, root.0.join(CIFAR10_DIR));
        assert_eq!(hits.load(Ordering::SeqCst), 0);

        fs::remove_file(dir.join(TEST_FILE)).expect("remove");
        let err = fetch_verified(&root.0, &url, CIFAR10_SHA256, |_, _| {})
            .expect_err("incomplete folder");
        assert!(
            err.to_string()
                .contains("lacks test_batch.bin; remove that folder"),
            "{err}"
        );
    }
}

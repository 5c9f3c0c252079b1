//! A dataset upload streamed onto disk: refused by its declared length before a byte is read,
//! counted as it arrives (a body longer than declared or than the cap is cut off), written to a
//! temporary file in the registry folder that is removed however the registration ends.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};

/// Why an upload was not received.
#[derive(Debug)]
pub enum Refused {
    /// Larger than the cap, declared or counted.
    TooLarge {
        limit: u64,
    },
    /// The connection broke off (or stalled) before the body ended.
    BrokeOff(String),
    /// Nothing was sent.
    Empty,
    Io(std::io::Error),
}

/// The received file; removed when dropped.
pub struct Received {
    path: PathBuf,
}

impl Received {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The file name extension the import needs, from the first bytes (browsers name files however
/// they like; the bytes say what they are).
fn sniff(head: &[u8]) -> &'static str {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        "zip"
    } else if head.starts_with(&[0x1f, 0x8b]) {
        "tar.gz"
    } else if is_tar_header(head) {
        "tar"
    } else if head.starts_with(b"\x93NUMPY") {
        "npy"
    } else {
        "csv"
    }
}

/// The format a client's file name states, when it is one the import reads (`.npz` is a zip
/// of arrays, which the first bytes alone cannot tell from a zip of images).
fn named_format(file_name: &str) -> Option<&'static str> {
    let lower = file_name.to_ascii_lowercase();
    ["tar.gz", "tgz", "tar", "zip", "npz", "npy", "csv"]
        .into_iter()
        .find(|ext| lower.ends_with(&format!(".{ext}")))
}

/// Whether `head` starts with a tar header: ustar's magic, or (old-style headers have none) a
/// checksum field that matches the header's bytes.
fn is_tar_header(head: &[u8]) -> bool {
    let Some(block) = head.get(..512) else {
        return false;
    };
    if &block[257..262] == b"ustar" {
        return true;
    }
    let field = String::from_utf8_lossy(&block[148..156]);
    let Ok(stored) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    sum == stored && block[0] != 0
}

/// Streams `body` into a temporary file under `dir`, refusing more than `limit` bytes (at once
/// when `declared` says so); `file_name` is the client's name for it, if any.
pub async fn receive<S, E>(
    dir: &Path,
    file_name: Option<&str>,
    declared: Option<u64>,
    limit: u64,
    body: S,
) -> Result<Received, Refused>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if declared.is_some_and(|n| n > limit) {
        return Err(Refused::TooLarge { limit });
    }
    std::fs::create_dir_all(dir).map_err(Refused::Io)?;
    let stem = format!(".upload-{}", &crate::tokens::new_token()[..16]);
    let partial = Received {
        path: dir.join(&stem),
    };
    let mut file = std::fs::File::create(partial.path()).map_err(Refused::Io)?;
    let (mut total, mut head) = (0u64, Vec::with_capacity(512));
    let mut body = body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Refused::BrokeOff(e.to_string()))?;
        total += chunk.len() as u64;
        if total > limit || declared.is_some_and(|n| total > n) {
            return Err(Refused::TooLarge { limit });
        }
        if head.len() < 512 {
            let take = (512 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        file.write_all(&chunk).map_err(Refused::Io)?;
    }
    if declared.is_some_and(|n| total < n) {
        return Err(Refused::BrokeOff(format!(
            "the upload ended after {total} of {} bytes",
            declared.unwrap_or_default()
        )));
    }
    if total == 0 {
        return Err(Refused::Empty);
    }
    file.sync_all().map_err(Refused::Io)?;
    drop(file);
    let named = Received {
        path: dir.join(format!(
            "{stem}.{}",
            file_name
                .and_then(named_format)
                .unwrap_or_else(|| sniff(&head))
        )),
    };
    std::fs::rename(partial.path(), named.path()).map_err(Refused::Io)?;
    std::mem::forget(partial);
    Ok(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&[u8]]) -> impl Stream<Item = Result<bytes::Bytes, String>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(bytes::Bytes::copy_from_slice(p)))
                .collect::<Vec<_>>(),
        )
    }

    fn left(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|r| {
                r.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn an_upload_lands_named_by_what_it_is_and_goes_when_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let got = receive(
            dir.path(),
            None,
            Some(8),
            100,
            chunks(&[b"PK\x03\x04", b"rest"]),
        )
        .await
        .expect("received");
        assert!(got.path().to_string_lossy().ends_with(".zip"));
        assert_eq!(std::fs::read(got.path()).expect("read"), b"PK\x03\x04rest");
        drop(got);
        assert!(left(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn too_large_broken_off_and_empty_uploads_leave_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let refused = |r: Result<Received, Refused>| r.err().expect("refused");
        assert!(matches!(
            refused(receive(dir.path(), None, Some(101), 100, chunks(&[b"x"])).await),
            Refused::TooLarge { limit: 100 }
        ));
        assert!(matches!(
            refused(receive(dir.path(), None, None, 4, chunks(&[b"abc", b"de"])).await),
            Refused::TooLarge { .. }
        ));
        assert!(matches!(
            refused(receive(dir.path(), None, Some(10), 100, chunks(&[b"abc"])).await),
            Refused::BrokeOff(_)
        ));
        let broken = futures::stream::iter(vec![
            Ok(bytes::Bytes::from_static(b"abc")),
            Err("connection reset".to_owned()),
        ]);
        assert!(matches!(
            refused(receive(dir.path(), None, None, 100, broken).await),
            Refused::BrokeOff(_)
        ));
        assert!(matches!(
            refused(receive(dir.path(), None, None, 100, chunks(&[])).await),
            Refused::Empty
        ));
        assert!(left(dir.path()).is_empty(), "{:?}", left(dir.path()));
    }

    #[test]
    fn formats_are_told_by_their_first_bytes() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&tar), "tar");
        let old = datasets::testgen::tar_bytes(&[("a/b.png".to_owned(), vec![1, 2, 3])], &[])
            .expect("an old-style tar");
        assert_eq!(sniff(&old[..512]), "tar");
        assert_eq!(sniff(&[b'a'; 512]), "csv");
        assert_eq!(sniff(&[0x1f, 0x8b, 8]), "tar.gz");
        assert_eq!(sniff(b"\x93NUMPY\x01\x00"), "npy");
        assert_eq!(sniff(b"a,b,label\n"), "csv");
        assert_eq!(named_format("mine.NPZ"), Some("npz"));
        assert_eq!(named_format("cifar.tar.gz"), Some("tar.gz"));
        assert_eq!(named_format("notes.txt"), None);
    }
}

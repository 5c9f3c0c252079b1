//! Receiving a worker's checkpoint upload into the object store
//! (`checkpoints/objects/<sha256>/`): the body streams through the archive reader onto disk,
//! its address computed on the way, so a checkpoint is never held in memory, however large.
//! A crash mid-upload leaves only an `.incoming-*` folder, never a half-written object.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};

use crate::worker::protocol::{Sink, Unpacker};

/// Why an upload was not stored.
#[derive(Debug)]
pub enum Refused {
    /// The connection broke off or stalled before the declared length arrived.
    BrokeOff(String),
    /// More bytes than were declared, or than the job may send at all.
    Overlong { limit: u64 },
    /// The bytes are not a checkpoint archive.
    Format(String),
    /// The content's address is not the one it was sent as.
    Mismatch { actual: String },
    /// The disk refused.
    Io(std::io::Error),
}

/// Files written straight into a fresh folder.
struct OnDisk {
    dir: PathBuf,
    file: Option<std::fs::File>,
}

impl OnDisk {
    /// Flushes the last file to the disk.
    fn close_file(&mut self) -> Result<(), String> {
        if let Some(f) = self.file.take() {
            f.sync_all()
                .map_err(|e| format!("cannot write the checkpoint: {e}"))?;
        }
        Ok(())
    }
}

/// Reads an upload of an object already stored: checked, not kept.
struct Discard;

impl Sink for Discard {
    fn begin(&mut self, _name: &str, _size: u64) -> Result<(), String> {
        Ok(())
    }

    fn write(&mut self, _bytes: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

impl Sink for OnDisk {
    fn begin(&mut self, name: &str, _size: u64) -> Result<(), String> {
        self.close_file()?;
        // `create_new`: the archive reader already refuses repeated names; this makes sure.
        let file = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(self.dir.join(name))
            .map_err(|e| format!("cannot write the checkpoint: {e}"))?;
        self.file = Some(file);
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        self.close_file()
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        match &mut self.file {
            Some(f) => f
                .write_all(bytes)
                .map_err(|e| format!("cannot write the checkpoint: {e}")),
            None => Err("bytes before any file".into()),
        }
    }
}

/// Streams `body` (of `declared` bytes if it says, and at most `bound`) into `objects/<id>`,
/// checking that its content is what `id` says. An object already stored is not written again,
/// but its body is still read and checked: naming an object is not proof of holding it, and
/// a job may only point its checkpoints at objects it could send.
pub async fn receive<S, E>(
    objects: &Path,
    id: &str,
    declared: Option<u64>,
    bound: u64,
    body: S,
) -> Result<(), Refused>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let target = objects.join(id);
    if target.is_dir() {
        return stream_into(Discard, id, declared, bound, body).await;
    }
    std::fs::create_dir_all(objects).map_err(Refused::Io)?;
    let incoming = objects.join(format!(".incoming-{id}-{:016x}", rand::random::<u64>()));
    std::fs::create_dir(&incoming).map_err(Refused::Io)?;
    let sink = OnDisk {
        dir: incoming.clone(),
        file: None,
    };
    let result = stream_into(sink, id, declared, bound, body).await;
    let result = result.and_then(|()| publish(&incoming, &target, objects));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&incoming);
    }
    result
}

/// The body, chunk by chunk, through the archive reader on a blocking thread (disk writes), with
/// at most a few chunks in flight between the two.
async fn stream_into<K, S, E>(
    sink: K,
    id: &str,
    declared: Option<u64>,
    bound: u64,
    mut body: S,
) -> Result<(), Refused>
where
    K: Sink + Send + 'static,
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let writer = tokio::task::spawn_blocking(move || {
        let mut unpacker = Unpacker::new(sink);
        while let Some(chunk) = rx.blocking_recv() {
            unpacker.feed(&chunk)?;
        }
        let (actual, mut sink) = unpacker.finish()?;
        sink.close()?;
        Ok::<String, String>(actual)
    });
    let limit = declared.unwrap_or(bound).min(bound);
    let mut received = 0u64;
    let mut broke = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                received += chunk.len() as u64;
                if received > limit {
                    broke = Some(Refused::Overlong { limit });
                    break;
                }
                // The writer stopped early: it refused the archive, and says why below.
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                broke = Some(Refused::BrokeOff(e.to_string()));
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| Refused::Io(std::io::Error::other(e.to_string())))?;
    if let Some(refused) = broke {
        return Err(refused);
    }
    let actual = written.map_err(Refused::Format)?;
    if let Some(declared) = declared.filter(|&d| received < d) {
        return Err(Refused::BrokeOff(format!(
            "{received} of the {declared} declared bytes arrived"
        )));
    }
    if actual != id {
        return Err(Refused::Mismatch { actual });
    }
    Ok(())
}

/// Moves a complete upload under its address, durably: the folder's entry is synced too.
fn publish(incoming: &Path, target: &Path, objects: &Path) -> Result<(), Refused> {
    std::fs::File::open(incoming)
        .and_then(|d| d.sync_all())
        .map_err(Refused::Io)?;
    match std::fs::rename(incoming, target) {
        Ok(()) => {}
        // Another upload of the same object won the race: it is the same content.
        Err(_) if target.is_dir() => {
            let _ = std::fs::remove_dir_all(incoming);
        }
        Err(e) => return Err(Refused::Io(e)),
    }
    std::fs::File::open(objects)
        .and_then(|d| d.sync_all())
        .map_err(Refused::Io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::protocol::{Files, object_id, pack};

    fn chunks(
        data: &[u8],
        size: usize,
    ) -> impl Stream<Item = Result<bytes::Bytes, String>> + Unpin {
        let parts: Vec<Result<bytes::Bytes, String>> = data
            .chunks(size)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(parts)
    }

    fn files() -> Files {
        vec![
            (
                "model.bin".into(),
                (0..=255u8).cycle().take(100_000).collect(),
            ),
            ("position.json".into(), b"{}".to_vec()),
        ]
    }

    #[tokio::test]
    async fn a_streamed_upload_lands_under_its_address_and_nothing_else_stays() {
        let tmp = crate::testing::TempDir::new("objects");
        let tmp = tmp.path();
        let (files, id) = (files(), object_id(&files()));
        let packed = pack(&files);
        receive(tmp, &id, None, 1 << 20, chunks(&packed, 777))
            .await
            .expect("stored");
        let stored = crate::worker::protocol::read_files(&tmp.join(&id)).expect("read");
        assert_eq!(stored, files);
        assert_eq!(
            std::fs::read_dir(tmp).expect("ls").count(),
            1,
            "no leftovers"
        );
    }

    #[tokio::test]
    async fn wrong_address_short_long_and_broken_bodies_leave_nothing() {
        let tmp = crate::testing::TempDir::new("objects");
        let tmp = tmp.path();
        let (files, id) = (files(), object_id(&files()));
        let packed = pack(&files);
        let n = packed.len() as u64;
        let wrong = "f".repeat(64);
        assert!(matches!(
            receive(tmp, &wrong, Some(n), n, chunks(&packed, 4096)).await,
            Err(Refused::Mismatch { actual }) if actual == id
        ));
        assert!(matches!(
            receive(tmp, &id, Some(n - 10), n, chunks(&packed, 4096)).await,
            Err(Refused::Overlong { limit }) if limit == n - 10
        ));
        // Undeclared: bounded by what the job may send at all.
        assert!(matches!(
            receive(tmp, &id, None, n - 1, chunks(&packed, 4096)).await,
            Err(Refused::Overlong { limit }) if limit == n - 1
        ));
        let cut = &packed[..packed.len() - 10];
        assert!(matches!(
            receive(tmp, &id, None, n, chunks(cut, 4096)).await,
            Err(Refused::Format(e)) if e.contains("middle of a record")
        ));
        let broken = futures::stream::iter(vec![
            Ok(bytes::Bytes::copy_from_slice(&packed[..100])),
            Err("connection reset".to_string()),
        ]);
        assert!(matches!(
            receive(tmp, &id, Some(n), n, broken).await,
            Err(Refused::BrokeOff(e)) if e.contains("reset")
        ));
        assert_eq!(
            std::fs::read_dir(tmp).expect("ls").count(),
            0,
            "nothing stays"
        );
    }
}

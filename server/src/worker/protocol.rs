//! What a worker and the server say to each other over HTTP, and how a checkpoint travels: a
//! flat folder packed as (name, bytes) records, named by the SHA-256 of its files, and checked
//! against that name on arrival.

use std::path::Path;

use serde::{Deserialize, Serialize};

use domain::wire::{MetricPoint, RunSpec};

/// Header carrying a job's token: `Authorization: Bearer <token>`.
pub const TOKEN_ENV: &str = "ANNEAL_WORKER_TOKEN";

/// At most this many events per batch.
pub const MAX_BATCH: usize = 1000;

/// At most this many files in a checkpoint, and bytes in all.
pub const MAX_FILES: usize = 16;
pub const MAX_OBJECT_BYTES: usize = 2 << 30;

/// A job as the worker fetches it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub run_id: i64,
    pub spec: RunSpec,
    /// The checkpoint object to start from (a resumed run's own, or a branch's parent's).
    pub resume: Option<String>,
    /// Metric rows up to this step are already stored: a resumed run does not send them again.
    pub skip_through: Option<u64>,
    /// The seq the job's first event carries (events already ingested for this job).
    pub next_seq: i64,
}

/// One stored event of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WorkerEvent {
    Started {
        backend: String,
        device: String,
    },
    Metric {
        point: MetricPoint,
    },
    /// A checkpoint already uploaded as `object`.
    Checkpoint {
        epoch: u32,
        step: u64,
        object: String,
    },
}

/// Consecutive events: `events[i]` has seq `first + i`. A batch that starts before the next
/// expected seq repeats what is stored (those events are skipped); one that starts after it
/// leaves a gap and is refused whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub first: i64,
    pub events: Vec<WorkerEvent>,
}

/// Events of the job stored so far: the seq of the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acked {
    pub acked: i64,
}

/// A heartbeat, with the progress the live charts show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beat {
    pub step: u64,
    pub total_steps: u64,
    pub samples_per_sec: f64,
}

/// The answer to a heartbeat: stop when the run was cancelled or the server is stopping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeatAnswer {
    pub stop: bool,
}

/// How the job ended, as the worker saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum End {
    Completed,
    Stopped { at_step: u64 },
    Failed { message: String },
}

/// A checkpoint folder's files, sorted by name.
pub type Files = Vec<(String, Vec<u8>)>;

/// Reads a flat checkpoint folder.
pub fn read_files(dir: &Path) -> std::io::Result<Files> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        files.push((name, std::fs::read(entry.path())?));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// The content address of a checkpoint: SHA-256 over each file's name, length and bytes in
/// name order (the length first, so two files cannot run together into one digest).
pub fn object_id(files: &Files) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for (name, bytes) in files {
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    }
    domain::hex::encode(&hash.finalize())
}

/// Packs files as records of (u32 name length, name, u64 length, bytes), little-endian, in
/// ascending name order: the order the content address hashes them in, so a receiver can
/// compute the address while the bytes stream past, without holding them.
pub fn pack(files: &Files) -> Vec<u8> {
    let mut order: Vec<&(String, Vec<u8>)> = files.iter().collect();
    order.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (name, bytes) in order {
        out.extend((name.len() as u32).to_le_bytes());
        out.extend(name.as_bytes());
        out.extend((bytes.len() as u64).to_le_bytes());
        out.extend(bytes);
    }
    out
}

/// Where an [`Unpacker`] puts the files it reads: memory ([`unpack`]) or disk (an upload).
pub trait Sink {
    /// A new file begins; `size` bytes of it follow.
    fn begin(&mut self, name: &str, size: u64) -> Result<(), String>;
    /// The next bytes of the current file.
    fn write(&mut self, bytes: &[u8]) -> Result<(), String>;
    /// The archive ended well: make what was written last.
    fn close(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// What the unpacker waits for next.
#[derive(Debug)]
enum Want {
    NameLength,
    Name(usize),
    Size,
    Bytes(u64),
}

/// Reads what [`pack`] wrote, in chunks of any size, refusing anything that is not a small set
/// of plain file names in ascending order, and computing the content address as it goes. The
/// one reader of the format: [`unpack`] and the server's streamed upload both use it.
pub struct Unpacker<S> {
    sink: S,
    want: Want,
    /// Bytes of a length or name that arrived split across chunks.
    head: Vec<u8>,
    last_name: Option<String>,
    files: usize,
    hash: sha2::Sha256,
}

impl<S: Sink> Unpacker<S> {
    pub fn new(sink: S) -> Self {
        use sha2::Digest;
        Self {
            sink,
            want: Want::NameLength,
            head: Vec::new(),
            last_name: None,
            files: 0,
            hash: sha2::Sha256::new(),
        }
    }

    /// Takes the next chunk of the archive.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), String> {
        use sha2::Digest;
        while !data.is_empty() {
            if let Want::Bytes(left) = self.want {
                let n = data.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let (now, rest) = data.split_at(n);
                self.sink.write(now)?;
                self.hash.update(now);
                data = rest;
                self.want = match left - n as u64 {
                    0 => Want::NameLength,
                    left => Want::Bytes(left),
                };
                continue;
            }
            let need = match self.want {
                Want::NameLength => 4,
                Want::Name(n) => n,
                Want::Size => 8,
                Want::Bytes(_) => unreachable!("handled above"),
            };
            let take = (need - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.head.len() == need {
                let head = std::mem::take(&mut self.head);
                self.advance(&head)?;
            }
        }
        Ok(())
    }

    /// A length, a name or a size is complete.
    fn advance(&mut self, head: &[u8]) -> Result<(), String> {
        use sha2::Digest;
        self.want = match self.want {
            Want::NameLength => {
                if self.files == MAX_FILES {
                    return Err(format!("more than {MAX_FILES} files"));
                }
                let len = u32::from_le_bytes(head.try_into().map_err(|_| "bad length")?);
                // Refused before its bytes are read: a name is short.
                if len == 0 || len > MAX_NAME {
                    return Err(format!(
                        "a file name of {len} bytes is not a plain file name"
                    ));
                }
                Want::Name(len as usize)
            }
            Want::Name(_) => {
                let name = std::str::from_utf8(head).map_err(|_| "a file name is not UTF-8")?;
                check_name(name, self.last_name.as_deref())?;
                self.last_name = Some(name.to_owned());
                Want::Size
            }
            Want::Size => {
                let size = u64::from_le_bytes(head.try_into().map_err(|_| "bad length")?);
                let name = self.last_name.as_deref().unwrap_or_default();
                self.sink.begin(name, size)?;
                self.hash.update(name.as_bytes());
                self.hash.update(size.to_le_bytes());
                self.files += 1;
                match size {
                    0 => Want::NameLength,
                    n => Want::Bytes(n),
                }
            }
            Want::Bytes(_) => unreachable!("bytes never go through the header buffer"),
        };
        Ok(())
    }

    /// The archive ended: its content address (as [`object_id`] computes it) and the sink.
    pub fn finish(self) -> Result<(String, S), String> {
        use sha2::Digest;
        if !matches!(self.want, Want::NameLength) || !self.head.is_empty() {
            return Err("the archive ends in the middle of a record".into());
        }
        Ok((domain::hex::encode(&self.hash.finalize()), self.sink))
    }
}

/// The longest file name a checkpoint may hold.
const MAX_NAME: u32 = 128;

/// A plain file name (no path, no dots alone), after the previous one in byte order.
fn check_name(name: &str, previous: Option<&str>) -> Result<(), String> {
    let plain = name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !plain {
        return Err(format!("{name:?} is not a plain file name"));
    }
    match previous {
        Some(p) if p == name => Err("a file name repeats".into()),
        Some(p) if p > name => Err(format!(
            "files must come in ascending name order: {name:?} after {p:?}"
        )),
        _ => Ok(()),
    }
}

/// Files kept in memory.
#[derive(Default)]
struct InMemory(Files);

impl Sink for InMemory {
    fn begin(&mut self, name: &str, _size: u64) -> Result<(), String> {
        // The declared size is not trusted for an allocation: the bytes grow the file as they come.
        self.0.push((name.to_owned(), Vec::new()));
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self.0.last_mut() {
            Some((_, file)) => {
                file.extend_from_slice(bytes);
                Ok(())
            }
            None => Err("bytes before any file".into()),
        }
    }
}

/// Reads what `pack` wrote, refusing anything that is not a small set of plain file names.
pub fn unpack(data: &[u8]) -> Result<Files, String> {
    let mut unpacker = Unpacker::new(InMemory::default());
    unpacker.feed(data)?;
    Ok(unpacker.finish()?.1.0)
}

/// Writes files into `dir` (created).
pub fn write_files(dir: &Path, files: &Files) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_computed_while_streaming_in_chunks_of_any_size() {
        let files: Files = vec![
            ("a.json".into(), b"{\"x\":1}".to_vec()),
            ("empty".into(), vec![]),
            ("model.bin".into(), (0..=255u8).cycle().take(5000).collect()),
        ];
        let packed = pack(&files);
        for chunk in [1, 3, 7, 64, 4096, packed.len()] {
            let mut u = Unpacker::new(InMemory::default());
            for part in packed.chunks(chunk) {
                u.feed(part).expect("feed");
            }
            let (id, sink) = u.finish().expect("finish");
            assert_eq!(id, object_id(&files), "chunk {chunk}");
            assert_eq!(sink.0, files, "chunk {chunk}");
        }
    }

    #[test]
    fn out_of_order_and_oversized_names_are_refused_before_their_bytes() {
        // Hand-made, since pack() sorts: "b" then "a".
        let mut evil = Vec::new();
        for name in ["b", "a"] {
            evil.extend(1u32.to_le_bytes());
            evil.extend(name.as_bytes());
            evil.extend(0u64.to_le_bytes());
        }
        assert!(unpack(&evil).is_err_and(|e| e.contains("ascending")));
        // A name that claims 4 GiB is refused on its length alone.
        let mut u = Unpacker::new(InMemory::default());
        assert!(
            u.feed(&u32::MAX.to_le_bytes())
                .is_err_and(|e| e.contains("not a plain file name"))
        );
        // pack() writes in name order whatever order it is given.
        let files: Files = vec![("z".into(), vec![1]), ("a".into(), vec![2])];
        let mut sorted = files.clone();
        sorted.sort();
        assert_eq!(unpack(&pack(&files)), Ok(sorted));
    }

    #[test]
    fn archives_round_trip_and_refuse_tricks() {
        let files: Files = vec![
            ("model.bin".into(), vec![1, 2, 3]),
            ("position.json".into(), b"{}".to_vec()),
        ];
        let packed = pack(&files);
        assert_eq!(unpack(&packed), Ok(files.clone()));
        assert!(unpack(&packed[..packed.len() - 1]).is_err(), "truncated");
        let evil: Files = vec![("../x".into(), vec![0])];
        assert!(unpack(&pack(&evil)).is_err_and(|e| e.contains("plain")));
        let twice: Files = vec![("a".into(), vec![]), ("a".into(), vec![])];
        assert!(unpack(&pack(&twice)).is_err());
        // The id is the content's, whatever the order files were listed in.
        let mut reversed = files.clone();
        reversed.reverse();
        reversed.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(object_id(&files), object_id(&reversed));
        assert_ne!(
            object_id(&files),
            object_id(&vec![("model.bin".into(), vec![1, 2])])
        );
    }
}

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

/// Packs files as records of (u32 name length, name, u64 length, bytes), little-endian.
pub fn pack(files: &Files) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        out.extend((name.len() as u32).to_le_bytes());
        out.extend(name.as_bytes());
        out.extend((bytes.len() as u64).to_le_bytes());
        out.extend(bytes);
    }
    out
}

/// Reads what `pack` wrote, refusing anything that is not a small set of plain file names.
pub fn unpack(mut data: &[u8]) -> Result<Files, String> {
    fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if data.len() < n {
            return Err("the archive ends in the middle of a record".into());
        }
        let (head, rest) = data.split_at(n);
        *data = rest;
        Ok(head)
    }
    let mut files: Files = Vec::new();
    while !data.is_empty() {
        if files.len() == MAX_FILES {
            return Err(format!("more than {MAX_FILES} files"));
        }
        let len = u32::from_le_bytes(take(&mut data, 4)?.try_into().map_err(|_| "bad length")?);
        let name = std::str::from_utf8(take(&mut data, len as usize)?)
            .map_err(|_| "a file name is not UTF-8")?
            .to_owned();
        let plain = !name.is_empty()
            && name.len() <= 128
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !plain {
            return Err(format!("{name:?} is not a plain file name"));
        }
        let size = u64::from_le_bytes(take(&mut data, 8)?.try_into().map_err(|_| "bad length")?);
        let size = usize::try_from(size).map_err(|_| "a file is too large")?;
        files.push((name, take(&mut data, size)?.to_vec()));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if files.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err("a file name repeats".into());
    }
    Ok(files)
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

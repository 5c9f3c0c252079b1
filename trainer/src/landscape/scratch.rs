//! Flattened checkpoints parked on disk as raw little-endian f32, one file each, so that PCA over
//! a few hundred checkpoints of a 10M-parameter network never holds T×P floats in memory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::TrainError;

/// A private folder under the caller's scratch directory, removed with everything in it when
/// dropped: on success, on error and on stop alike.
pub struct Scratch {
    dir: PathBuf,
    /// Number of f32 values in every stored vector.
    dim: usize,
    count: usize,
}

fn io(what: &str, path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint(format!("scratch: {what} {}: {e}", path.display()))
}

impl Scratch {
    pub fn new(parent: &Path, dim: usize) -> Result<Self, TrainError> {
        // Unique per process and per call, so concurrent landscape jobs never share files.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("landscape-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
        Ok(Self { dir, dim, count: 0 })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn len(&self) -> usize {
        self.count
    }

    fn path(&self, t: usize) -> PathBuf {
        self.dir.join(format!("{t:06}.f32"))
    }

    /// Stores `v` as vector number `len()`.
    pub fn push(&mut self, v: &[f32]) -> Result<(), TrainError> {
        if v.len() != self.dim {
            return Err(TrainError::Checkpoint(format!(
                "scratch: vector of {} values, expected {}",
                v.len(),
                self.dim
            )));
        }
        let path = self.path(self.count);
        let mut bytes = Vec::with_capacity(v.len() * 4);
        for x in v {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        File::create(&path)
            .and_then(|mut f| f.write_all(&bytes))
            .map_err(|e| io("cannot write", &path, e))?;
        self.count += 1;
        Ok(())
    }

    /// Reads values `start..start + out.len()` of vector `t` into `out`.
    pub fn read(&self, t: usize, start: usize, out: &mut [f32]) -> Result<(), TrainError> {
        let path = self.path(t);
        let mut bytes = vec![0u8; out.len() * 4];
        File::open(&path)
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(start as u64 * 4))?;
                f.read_exact(&mut bytes)
            })
            .map_err(|e| io("cannot read", &path, e))?;
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_cleanup() {
        let parent = std::env::temp_dir().join(format!("anneal-scratch-{}", std::process::id()));
        let dir;
        {
            let mut s = Scratch::new(&parent, 5).expect("creates");
            dir = s.dir.clone();
            s.push(&[1.0, 2.0, 3.0, 4.0, 5.0]).expect("writes");
            s.push(&[-1.0, -2.0, -3.0, -4.0, -5.0]).expect("writes");
            assert!(s.push(&[1.0]).is_err());
            let mut out = [0.0f32; 3];
            s.read(1, 2, &mut out).expect("reads");
            assert_eq!(out, [-3.0, -4.0, -5.0]);
            assert_eq!(s.len(), 2);
            assert!(dir.is_dir());
        }
        assert!(!dir.exists(), "dropped scratch leaves nothing behind");
        let _ = std::fs::remove_dir_all(&parent);
    }
}

//! The checkpoint object store under the data directory: each checkpoint folder is stored once
//! as `checkpoints/objects/<sha-256 of its files>` (identical checkpoints, a branch's copy of
//! its parent's state say, share one object), and runs' rows point at it by a path relative to
//! the data directory, so that the directory can be moved. Uploads stream in through `receive`.

mod receive;

use std::path::{Path, PathBuf};

pub use receive::Refused;

use crate::db::{Db, DbError};
use crate::worker::protocol::{Files, object_id, read_files};

/// Where objects live, relative to the data directory.
const OBJECTS: &str = "checkpoints/objects";

/// A content address: 64 lowercase hex digits.
pub fn is_object_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where a run starts: the checkpoint it resumes from, and the last step it already stored.
pub type StartingPoint = (Option<PathBuf>, Option<u64>);

#[derive(Clone, Debug)]
pub struct CheckpointStore {
    data_dir: PathBuf,
}

impl CheckpointStore {
    pub fn new(data_dir: PathBuf) -> Self {
        Self { data_dir }
    }

    fn objects(&self) -> PathBuf {
        self.data_dir.join(OBJECTS)
    }

    /// Where a stored checkpoint path points: relative to the data directory, or absolute as
    /// rows written before relative paths were.
    pub fn resolve(&self, stored: &str) -> PathBuf {
        let p = PathBuf::from(stored);
        if p.is_absolute() {
            p
        } else {
            self.data_dir.join(p)
        }
    }

    /// The path a run's row stores for object `id`.
    pub fn stored_path(id: &str) -> String {
        format!("{OBJECTS}/{id}")
    }

    /// Whether object `id` is in the store.
    pub fn has(&self, id: &str) -> bool {
        is_object_id(id) && self.objects().join(id).is_dir()
    }

    /// The files of object `id`.
    pub fn read(&self, id: &str) -> std::io::Result<Files> {
        read_files(&self.objects().join(id))
    }

    /// Moves a checkpoint folder into the store and answers the path its row stores.
    pub fn store_folder(&self, dir: &Path) -> std::io::Result<String> {
        let files = read_files(dir)?;
        let objects = self.objects();
        std::fs::create_dir_all(&objects)?;
        let id = object_id(&files);
        let target = objects.join(&id);
        if target.exists() {
            std::fs::remove_dir_all(dir)?;
        } else {
            std::fs::rename(dir, &target)?;
        }
        Ok(Self::stored_path(&id))
    }

    /// Streams an upload into object `id` (see [`receive`]).
    pub async fn receive<S, E>(
        &self,
        id: &str,
        declared: Option<u64>,
        bound: u64,
        body: S,
    ) -> Result<(), Refused>
    where
        S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        receive::receive(&self.objects(), id, declared, bound, body).await
    }

    /// Where run `id` starts from: its own newest checkpoint (a resumed run), else its
    /// parent's at the branch point; and the last step it already stored.
    pub async fn starting_point(&self, db: &Db, id: i64) -> Result<StartingPoint, DbError> {
        let mut resume_from = db
            .latest_checkpoint(id)
            .await?
            .map(|(_, p)| self.resolve(&p));
        if resume_from.is_none()
            && let Some((parent, epoch)) = db.branch_origin(id).await?
        {
            resume_from = db
                .checkpoint_at(parent, epoch)
                .await?
                .map(|p| self.resolve(&p));
        }
        Ok((resume_from, db.last_metric_step(id).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_stored_by_content_once() {
        let tmp = crate::testing::TempDir::new("cas");
        let root = tmp.path().to_owned();
        let write = |name: &str, body: &str| {
            let d = root.join(name);
            std::fs::create_dir_all(&d).expect("dir");
            std::fs::write(d.join("model.bin"), body).expect("write");
            std::fs::write(d.join("position.json"), "{}").expect("write");
            d
        };
        let store = CheckpointStore::new(root.clone());
        let a = store.resolve(&store.store_folder(&write("a", "weights")).expect("stored"));
        let b = store.resolve(&store.store_folder(&write("b", "weights")).expect("stored"));
        let c = store.resolve(&store.store_folder(&write("c", "other")).expect("stored"));
        assert_eq!(a, b, "same content, same object");
        assert_ne!(a, c);
        assert!(
            a.join("model.bin").exists() && !root.join("a").exists() && !root.join("b").exists()
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}

//! The dataset registry: a user's image folder, arrays or table registered once (decoded into a
//! cache file named by its SHA-256, an immutable entry in the database, nothing left behind on
//! failure), the built-in datasets beside them, the dataset a submitted run names resolved and
//! pinned, thumbnails, and deletion refused while runs use the data.

mod builtin;
pub mod upload;

use std::path::{Path, PathBuf};

use domain::wire::{DatasetInfo, FieldError};
use experiment::DatasetChoice;

use crate::db::{DatasetInserted, Db, DbError};

/// The field an import's own error is reported at (the file or folder it read).
pub const SOURCE_FIELD: &str = "file";
pub const NAME_FIELD: &str = "name";

/// How a registration is to be read, beyond the file itself.
#[derive(Clone, Debug, Default)]
pub struct RegisterOptions {
    /// Fraction of each class held out as the test split when the data has no test split.
    pub held_out: Option<f64>,
    /// Resize every image to (width, height) instead of refusing mixed sizes.
    pub resize: Option<(u32, u32)>,
    /// A table's label column (default `label`).
    pub label_column: Option<String>,
}

/// What a registration came to: the entry, and whether it was already there.
pub struct Registered {
    pub info: DatasetInfo,
    pub existed: bool,
}

/// How much a registration may read: the upload's size, the archive's files and unpacked bytes.
#[derive(Clone, Debug)]
pub struct RegistryLimits {
    pub import: datasets::ImportLimits,
    pub max_upload_bytes: u64,
}

impl Default for RegistryLimits {
    fn default() -> Self {
        Self {
            import: datasets::ImportLimits::default(),
            max_upload_bytes: 2 << 30,
        }
    }
}

#[derive(Clone)]
pub struct Registry {
    db: Db,
    data_dir: PathBuf,
}

fn field(field: &str, message: impl Into<String>) -> Vec<FieldError> {
    vec![FieldError {
        field: field.into(),
        message: message.into(),
    }]
}

impl Registry {
    pub fn new(db: Db, data_dir: PathBuf) -> Self {
        Self { db, data_dir }
    }

    /// The folder of cache files, one per registered content hash.
    pub fn dir(&self) -> PathBuf {
        self.data_dir.join(datasets::REGISTRY_DIR)
    }

    /// Where uploads wait while they are read: beside the cache files, on the same disk.
    pub fn uploads_dir(&self) -> PathBuf {
        self.dir().join("incoming")
    }

    /// Reads `source` (a folder or file on this machine), decodes it into a cache file and
    /// records it as the next version of `name` (or finds that `name` already holds exactly
    /// this content). A refusal names its field, and `source` as `shown_as`; nothing of a
    /// failed registration stays behind.
    pub async fn register(
        &self,
        name: &str,
        source: &Path,
        options: RegisterOptions,
        limits: &datasets::ImportLimits,
        shown_as: &str,
    ) -> Result<Result<Registered, Vec<FieldError>>, DbError> {
        if let Err(e) = check_name(name) {
            return Ok(Err(e));
        }
        let mut opts = datasets::ImportOptions {
            limits: *limits,
            ..datasets::ImportOptions::default()
        };
        if let Some(h) = options.held_out {
            if !(h > 0.0 && h < 1.0) {
                return Ok(Err(field(
                    "held_out",
                    "must be between 0 and 1 (exclusive)",
                )));
            }
            opts.held_out = h;
        }
        opts.resize = options.resize;
        if let Some(c) = options.label_column {
            opts.label_column = c;
        }
        let (dir, src) = (self.dir(), source.to_path_buf());
        let cached = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let imported = datasets::import(&src, &opts).map_err(|e| e.to_string())?;
            datasets::write_cache(&imported, &dir).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| DbError::Unsupported(format!("the import task failed: {e}")))?;
        let cached = match cached {
            Ok(c) => c,
            Err(why) => {
                // Messages name files as the user knows them (an upload by its client's name).
                let why = why.replace(&source.display().to_string(), shown_as);
                return Ok(Err(field(
                    SOURCE_FIELD,
                    crate::redact::hide_paths(&why, &self.data_dir),
                )));
            }
        };
        let info = info_of(name, &cached.hash, &cached.summary, cached.bytes);
        match self.db.insert_dataset(info).await {
            Ok(DatasetInserted::New(info)) => Ok(Ok(Registered {
                info,
                existed: false,
            })),
            Ok(DatasetInserted::Existing(info)) => Ok(Ok(Registered {
                info,
                existed: true,
            })),
            Err(e) => {
                // No entry names the new file: remove it, unless another name holds the same bytes.
                if !self
                    .db
                    .dataset_hash_registered(&cached.hash)
                    .await
                    .unwrap_or(true)
                {
                    let _ = std::fs::remove_file(&cached.path);
                }
                Err(e)
            }
        }
    }

    /// The built-in datasets (with whether this server has their files), then every registered
    /// name's newest version.
    pub async fn list(&self) -> Result<Vec<DatasetInfo>, DbError> {
        let mut all = builtin::entries(&self.data_dir);
        for mut info in self.db.list_datasets().await? {
            info.available = self.has_file(info.hash.as_deref());
            all.push(info);
        }
        Ok(all)
    }

    /// A dataset by name (the newest version of a registered one).
    pub async fn get(&self, name: &str) -> Result<Option<DatasetInfo>, DbError> {
        if let Some(b) = builtin::entries(&self.data_dir)
            .into_iter()
            .find(|b| b.name == name)
        {
            return Ok(Some(b));
        }
        if !experiment::limits::is_dataset_name(name) {
            return Ok(None);
        }
        Ok(self.db.get_dataset(name, None).await?.map(|mut info| {
            info.available = self.has_file(info.hash.as_deref());
            info
        }))
    }

    fn has_file(&self, hash: Option<&str>) -> bool {
        hash.is_some_and(|h| datasets::cache_path(&self.dir(), h).is_file())
    }

    /// Pins a registered dataset a run names: its hash (the newest version's, or checked
    /// against the name's versions when given) and the registry's facts, replacing whatever a
    /// client sent. Built-in datasets are left as they are. Errors are at `prefix`.
    pub async fn resolve(
        &self,
        choice: &mut DatasetChoice,
        prefix: &str,
    ) -> Result<Result<(), Vec<FieldError>>, DbError> {
        let DatasetChoice::Registered(r) = choice else {
            return Ok(Ok(()));
        };
        if !experiment::limits::is_dataset_name(&r.name) {
            // Validation says what is wrong with the name.
            return Ok(Ok(()));
        }
        let found = match r.hash.as_deref() {
            Some(h) => self.db.get_dataset(&r.name, Some(h)).await?,
            None => self.db.get_dataset(&r.name, None).await?,
        };
        let Some(info) = found else {
            let message = match r.hash {
                Some(_) => format!("no version of dataset {:?} has this hash", r.name),
                None => format!(
                    "no dataset named {:?} is registered (see GET /api/datasets or `anneal data list`)",
                    r.name
                ),
            };
            return Ok(Err(field(&format!("{prefix}experiment.dataset"), message)));
        };
        r.hash = info.hash.clone();
        r.facts = Some(info.facts());
        Ok(Ok(()))
    }

    /// Deletes every version of `name` and the files no other name holds; refused with the ids
    /// of the runs that trained on it. None: no such registered dataset.
    pub async fn delete(&self, name: &str) -> Result<Option<Result<u32, Vec<i64>>>, DbError> {
        if !experiment::limits::is_dataset_name(name) || builtin::is_builtin(name) {
            return Ok(None);
        }
        let hashes = self.db.dataset_hashes(name).await?;
        if hashes.is_empty() {
            return Ok(None);
        }
        let used = self.db.runs_using_datasets(&hashes).await?;
        if !used.is_empty() {
            return Ok(Some(Err(used)));
        }
        let n = self.db.delete_dataset(name).await?;
        for h in &hashes {
            if !self.db.dataset_hash_registered(h).await? {
                let _ = std::fs::remove_file(datasets::cache_path(&self.dir(), h));
            }
        }
        Ok(Some(Ok(u32::try_from(n).unwrap_or(u32::MAX))))
    }

    /// A PNG of the first training images of each class, one row per class.
    pub async fn samples_png(&self, name: &str) -> Result<Option<Vec<u8>>, DbError> {
        let Some(info) = self.get(name).await? else {
            return Ok(None);
        };
        let Some(hash) = info.hash.filter(|_| info.available) else {
            return Ok(None);
        };
        let path = datasets::cache_path(&self.dir(), &hash);
        let png =
            tokio::task::spawn_blocking(move || datasets::sample_grid_png_from_cache(&path, 8, 2))
                .await
                .map_err(|e| DbError::Unsupported(format!("the thumbnail task failed: {e}")))?;
        match png {
            Ok(p) => Ok(Some(p)),
            Err(e) => {
                tracing::warn!(dataset = name, error = %e, "no thumbnails");
                Ok(None)
            }
        }
    }
}

/// A name a dataset may be registered under: well-formed, and not a built-in dataset's.
pub fn check_name(name: &str) -> Result<(), Vec<FieldError>> {
    if !experiment::limits::is_dataset_name(name) {
        return Err(field(
            NAME_FIELD,
            format!(
                "must be 1 to {} letters, digits, `.`, `_` or `-`, starting with a letter or digit",
                experiment::limits::MAX_DATASET_NAME
            ),
        ));
    }
    if builtin::is_builtin(name) {
        return Err(field(
            NAME_FIELD,
            format!("{name:?} is a built-in dataset's name; choose another"),
        ));
    }
    Ok(())
}

/// The registry entry of a freshly written cache file.
fn info_of(name: &str, hash: &str, s: &datasets::DatasetSummary, bytes: u64) -> DatasetInfo {
    let u32_of = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    DatasetInfo {
        name: name.to_owned(),
        version: 0,
        hash: Some(hash.to_owned()),
        builtin: false,
        available: true,
        kind: match s.kind {
            datasets::SampleKind::Images => "images",
            datasets::SampleKind::Features => "features",
        }
        .to_owned(),
        shape: s.shape.map(u32_of),
        class_names: s.class_names.clone(),
        train_per_class: s.train_per_class.clone(),
        test_per_class: s.test_per_class.clone(),
        mean: s.mean.clone(),
        std: s.std.clone(),
        source: s.format.clone(),
        bytes,
        created_at_ms: 0,
    }
}

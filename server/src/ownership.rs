//! One server per data directory and per SQLite file: `anneal serve` holds an exclusive lock on
//! a file in its data directory and another beside its database for as long as it runs, so a
//! second server on the same directory, or on the same database from another directory (through
//! `ANNEAL_DB` or a `sqlite://` URL, under any name that resolves to the same file), refuses to
//! start instead of marking the first one's live runs interrupted. The operating system drops
//! the locks when the process ends, however it ends, so a crash never leaves a stale lock.
//! The server's files are kept from other local users: the data directory is 0700 and the
//! database 0600 (SQLite gives its `-wal` and `-shm` files the database's mode).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Held while the server runs; dropping it releases the directory.
pub struct Owner {
    _file: File,
}

/// Takes `dir` for this process, or says who has it.
pub fn claim(dir: &Path) -> Result<Owner, String> {
    lock(
        &dir.join("anneal.lock"),
        "this data directory; stop it, or give this one its own ANNEAL_DATA_DIR",
    )
}

/// The SQLite file a server with these settings opens, if it uses SQLite.
pub fn sqlite_file(database_url: Option<&str>, db_path: &Path) -> Option<PathBuf> {
    let Some(url) = database_url else {
        return Some(db_path.to_path_buf());
    };
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Takes the SQLite file `db` for this process: a lock file beside the file it resolves to, so
/// that two names for one database (a symlink, a relative path) meet at the same lock. A lock
/// on the database file itself would not do: SQLite's own POSIX locks are dropped when any
/// descriptor of the file closes in the process.
pub fn claim_database(db: &Path) -> Result<Owner, String> {
    let resolved = resolve(db).map_err(|e| {
        format!(
            "cannot find the database file's folder {}: {e}",
            db.display()
        )
    })?;
    let mut name = resolved.file_name().unwrap_or_default().to_os_string();
    name.push(".owner");
    lock(
        &resolved.with_file_name(name),
        "this SQLite database from another data directory; stop it, or give this one its own \
         ANNEAL_DB",
    )
}

/// `path` with its folder (and, if it exists, the file itself) resolved to a canonical path.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Ok(p);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok(std::fs::canonicalize(parent)?.join(path.file_name().unwrap_or_default()))
}

/// Keeps the server's files from other local users: the data directory 0700, and the SQLite
/// database (created empty if missing, so it never exists with a looser mode) 0600 with its
/// `-wal` and `-shm` files.
pub fn make_private(data_dir: &Path, db: Option<&Path>) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    let Some(db) = db else { return Ok(()) };
    if !db.exists() {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(db)?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        let file = PathBuf::from(name);
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// An exclusive lock on `path`, or who holds it; `what` ends "another Anneal server is using …".
fn lock(path: &Path, what: &str) -> Result<Owner, String> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            // For a person looking: which process holds it.
            let _ = file.set_len(0);
            let _ = writeln!(file, "{}", std::process::id());
            Ok(Owner { _file: file })
        }
        Err(TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(path).unwrap_or_default();
            Err(format!(
                "another Anneal server (pid {}) is using {what}",
                holder.trim()
            ))
        }
        Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_is_refused_until_the_first_lets_go() {
        let dir = crate::testing::TempDir::new("owner");
        let first = claim(dir.path()).expect("first owner");
        let second = claim(dir.path()).map(|_| ()).expect_err("refused");
        assert!(second.contains("another Anneal server"), "{second}");
        assert!(second.contains(&std::process::id().to_string()), "{second}");
        drop(first);
        claim(dir.path()).expect("free again");
    }

    #[test]
    fn one_database_under_two_names_has_one_owner() {
        let dir = crate::testing::TempDir::new("owner-db");
        let db = dir.path().join("anneal.db");
        std::fs::write(&db, b"").expect("db");
        let link = dir.path().join("other-name.db");
        std::os::unix::fs::symlink(&db, &link).expect("symlink");
        let first = claim_database(&db).expect("first owner");
        let second = claim_database(&link).map(|_| ()).expect_err("refused");
        assert!(second.contains("this SQLite database"), "{second}");
        // The same file through a relative-looking path with `..` in it.
        let dotted = dir.path().join("x").join("..").join("anneal.db");
        std::fs::create_dir_all(dir.path().join("x")).expect("x");
        assert!(claim_database(&dotted).is_err());
        drop(first);
        claim_database(&link).expect("free again");
    }

    #[test]
    fn sqlite_urls_name_their_file_and_postgres_none() {
        let default = Path::new("data/anneal.db");
        assert_eq!(sqlite_file(None, default), Some(default.to_path_buf()));
        for url in [
            "sqlite://x/y.db",
            "sqlite:x/y.db",
            "sqlite://x/y.db?mode=rwc",
        ] {
            assert_eq!(
                sqlite_file(Some(url), default),
                Some(PathBuf::from("x/y.db")),
                "{url}"
            );
        }
        assert_eq!(sqlite_file(Some("postgres://u@h/db"), default), None);
        assert_eq!(sqlite_file(Some("sqlite::memory:"), default), None);
    }

    #[test]
    fn the_data_directory_and_the_database_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::testing::TempDir::new("private");
        let db = dir.path().join("anneal.db");
        std::fs::write(dir.path().join("anneal.db-wal"), b"").expect("wal");
        make_private(dir.path(), Some(&db)).expect("private");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&dir.path().join("anneal.db-wal")), 0o600);
    }
}

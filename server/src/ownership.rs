//! One server per data directory: `anneal serve` holds an exclusive lock on a file there for as
//! long as it runs, so a second server on the same directory (and its SQLite file) refuses to
//! start instead of marking the first one's live runs interrupted. The operating system drops
//! the lock when the process ends, however it ends, so a crash never leaves a stale lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

/// Held while the server runs; dropping it releases the directory.
pub struct Owner {
    _file: File,
}

/// Takes `dir` for this process, or says who has it.
pub fn claim(dir: &Path) -> Result<Owner, String> {
    let path = dir.join("anneal.lock");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open the lock file in the data directory: {e}"))?;
    match file.try_lock() {
        Ok(()) => {
            // For a person looking: which process holds it.
            let _ = file.set_len(0);
            let _ = writeln!(file, "{}", std::process::id());
            Ok(Owner { _file: file })
        }
        Err(TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            Err(format!(
                "another Anneal server (pid {}) is using this data directory; stop it, or give \
                 this one its own ANNEAL_DATA_DIR",
                holder.trim()
            ))
        }
        Err(TryLockError::Error(e)) => Err(format!("cannot lock the data directory: {e}")),
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
}

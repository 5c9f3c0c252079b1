//! What users see of the server's own paths: nothing. Messages that reach a page or an API
//! answer (a training error, a missing dataset) have the data directory's location replaced.

use std::path::Path;

/// Replaces the data directory's absolute location in a user-facing message, so errors never
/// show where the server keeps its files.
pub fn hide_paths(message: &str, data_dir: &Path) -> String {
    // The system's dataset folder is a path of this server too.
    let mut out = message.replace(datasets::SYSTEM_DATASETS, "<system datasets>");
    for p in [
        std::fs::canonicalize(data_dir).ok(),
        Some(data_dir.to_path_buf()),
    ]
    .into_iter()
    .flatten()
    {
        let p = p.to_string_lossy().into_owned();
        if !p.is_empty() && p != "." {
            out = out.replace(&p, "<data dir>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_do_not_show_the_data_directory() {
        let dir = Path::new("/srv/anneal-data");
        let m = hide_paths(
            "cannot write /srv/anneal-data/checkpoints/x: disk full",
            dir,
        );
        assert_eq!(m, "cannot write <data dir>/checkpoints/x: disk full");
        let mnist = hide_paths(
            "MNIST not found in /usr/share/datasets/mnist (missing train-images-idx3-ubyte.gz).",
            dir,
        );
        assert!(!mnist.contains("/usr/share"), "{mnist}");
    }
}

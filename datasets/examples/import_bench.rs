//! Imports a dataset path, writes its cache to a temporary folder and prints each phase's wall
//! time and the summary: `cargo run --release -p datasets --example import_bench -- PATH`.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: import_bench PATH")?
        .into();
    let opts = datasets::ImportOptions::default();
    let total = Instant::now();
    let imported = datasets::import(&path, &opts)?;
    let import_time = total.elapsed();
    let dir = std::env::temp_dir().join(format!("anneal-import-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let t = Instant::now();
    let cached = datasets::write_cache(&imported, &dir);
    let write = t.elapsed();
    // Peak memory of import and write, before the read-back below adds its own copy.
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        });
    let t = Instant::now();
    let thumbs = datasets::sample_grid_png(&imported, 8, 2).map(|p| p.len());
    let thumb_time = t.elapsed();
    let t = Instant::now();
    let read_back = cached
        .as_ref()
        .ok()
        .map(|c| datasets::read_cache_raw(&c.path).map(|_| ()));
    let read_back_time = t.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    let cached = cached?;
    let tm = imported.timings;
    println!("read    {:>8.3} s", tm.read.as_secs_f64());
    println!("decode  {:>8.3} s", tm.decode.as_secs_f64());
    println!("stats   {:>8.3} s", tm.stats.as_secs_f64());
    println!(
        "import  {:>8.3} s (total of the above and the layout)",
        import_time.as_secs_f64()
    );
    println!(
        "write   {:>8.3} s ({} bytes, sha256 {})",
        write.as_secs_f64(),
        cached.bytes,
        cached.hash
    );
    println!(
        "total   {:>8.3} s (import + write)",
        (import_time + write).as_secs_f64()
    );
    println!("peak    {}", peak.as_deref().unwrap_or("VmHWM unknown"));
    println!(
        "thumbs  {:>8.3} s ({:?} PNG bytes)",
        thumb_time.as_secs_f64(),
        thumbs.ok()
    );
    println!(
        "reread  {:>8.3} s ({:?})",
        read_back_time.as_secs_f64(),
        read_back.map(|r| r.is_ok())
    );
    println!("{}", serde_json::to_string_pretty(&cached.summary)?);
    Ok(())
}

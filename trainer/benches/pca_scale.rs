//! Scale benchmark of the landscape's streamed PCA: T checkpoints of P parameters (default the
//! size of VGG-11, 10M, and T = 200) written to scratch files, then the Gram-matrix PCA, with
//! its time and the process's peak resident memory. Not a test: run it by hand.
//! `cargo bench -p trainer --bench pca_scale -- [P] [T] [scratch-dir]`

use std::time::Instant;

use trainer::landscape::pca::{block_len, pca};
use trainer::landscape::scratch::Scratch;

// mimalloc, as every binary that trains (see the `trainer` crate's docs for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Peak resident set size of this process so far, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// A cheap deterministic stream of values in [-1, 1).
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let p: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let t: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let dir = args
        .get(2)
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    // A trajectory that moves mostly along two fixed directions (a curve: a line in u, a
    // parabola in v) plus small isotropic noise: PC1/PC2 must carry nearly all the variance.
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let u: Vec<f32> = (0..p).map(|_| rng.next()).collect();
    let v: Vec<f32> = (0..p).map(|_| rng.next()).collect();
    let mut scratch = Scratch::new(&dir, p).expect("scratch");
    let started = Instant::now();
    let mut mean = vec![0.0f64; p];
    let mut theta = vec![0.0f32; p];
    for i in 0..t {
        let s = i as f32 / t as f32;
        let (a, b) = (2.0 * s - 1.0, (2.0 * s - 1.0).powi(2) - 0.33);
        for k in 0..p {
            theta[k] = a * u[k] + b * v[k] + 0.01 * rng.next();
            mean[k] += f64::from(theta[k]);
        }
        scratch.push(&theta).expect("write");
    }
    mean.iter_mut().for_each(|m| *m /= t as f64);
    drop((u, v, theta));
    let written = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let block = block_len(t, p);
    let out = pca(&scratch, &mean, 3, block, &mut || true)
        .expect("pca")
        .expect("not stopped");
    let secs = started.elapsed().as_secs_f64();
    let ev = out.explained();
    println!(
        "{{\"params\":{p},\"checkpoints\":{t},\"write_secs\":{written:.1},\"pca_secs\":{secs:.1},\
         \"peak_rss_mib\":{:.0},\"scratch_gib\":{:.2},\"explained\":[{:.4},{:.4},{:.4}]}}",
        peak_rss_mib(),
        (p * t * 4) as f64 / (1u64 << 30) as f64,
        ev[0],
        ev[1],
        ev[2]
    );
}

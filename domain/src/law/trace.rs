//! The LR trace a loss law reads: the LR of every optimizer step, its prefix sums (the forward
//! area S₁), and prefix sums over the steps where the LR changes, from which the changes before
//! any step come merged into O(log n) blocks, so that evaluating a law at a step stays cheap
//! however long the run and however many steps a cosine changes the LR at.

/// Longest trace kept: up to six f64 per step (a cosine changes the LR at every one) is 48 MB
/// here, already a lot for a browser tab, and far beyond the lab's runs (≤ ~50,000 steps).
/// Longer schedules are truncated.
pub const MAX_TRACE_STEPS: u64 = 1_000_000;

/// A merged block of LR changes spans at most this fraction of its distance from the step
/// being evaluated (see [`LrTrace::changes_before`]).
const KAPPA: f64 = 0.1;

/// LR changes smaller than this fraction of the peak are float noise (e.g. a cosine's flat
/// top), not annealing.
const CHANGE_EPS: f64 = 1e-12;

/// The LR used at each optimizer step 0..n (step i's update uses `lr[i]`), with precomputed
/// sums. Non-finite or negative LRs are taken as 0, so every sum stays finite.
#[derive(Clone, Debug, PartialEq)]
pub struct LrTrace {
    lrs: Vec<f64>,
    /// `area[s]` = Σ_{j<s} lr[j], the forward area after s completed steps; n + 1 entries.
    area: Vec<f64>,
    peak: f64,
    /// Index of the first step at the peak LR. Changes up to it are warmup: they count in the
    /// forward area but are neither annealing (Tissue) nor part of the loss drop (multi-power).
    warmup_end: usize,
    /// The steps j after the warmup where δⱼ = lr[j−1] − lr[j] ≠ 0, ascending.
    change_at: Vec<usize>,
    /// Prefix sums over those changes of δ, δ·j and δ·lr[j]; one more entry than `change_at`.
    sum_drop: Vec<f64>,
    sum_pos: Vec<f64>,
    sum_lr: Vec<f64>,
    /// Indices into `change_at` where each run of same-sign changes starts (0 first): blocks
    /// never mix decreases with increases, so a drop-weighted mean stays a mean.
    runs: Vec<usize>,
}

/// One (possibly merged) LR change before a step: `drop` = η before − η after (negative for an
/// increase), at fractional step index `pos`, with `lr` the LR after it. Raw LR units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Change {
    pub drop: f64,
    pub pos: f64,
    pub lr: f64,
}

impl LrTrace {
    /// `total_steps` LRs from the schedule (steps 0..total_steps), capped at
    /// [`MAX_TRACE_STEPS`].
    pub fn from_schedule(s: &schedule::Schedule, total_steps: u64) -> Self {
        let n = total_steps.min(MAX_TRACE_STEPS);
        Self::from_lrs((0..n).map(|i| s.lr_at(i)).collect())
    }

    /// The trace of these LRs (capped at [`MAX_TRACE_STEPS`]).
    pub fn from_lrs(mut lrs: Vec<f64>) -> Self {
        lrs.truncate(MAX_TRACE_STEPS as usize);
        for lr in &mut lrs {
            if !(lr.is_finite() && *lr > 0.0) {
                *lr = 0.0;
            }
        }
        let mut area = Vec::with_capacity(lrs.len() + 1);
        let mut acc = 0.0;
        area.push(acc);
        for &lr in &lrs {
            acc += lr;
            area.push(acc);
        }
        let (warmup_end, peak) = lrs
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, 0.0),
                |best, (i, lr)| if lr > best.1 { (i, lr) } else { best },
            );
        let mut trace = Self {
            lrs,
            area,
            peak,
            warmup_end,
            change_at: Vec::new(),
            sum_drop: vec![0.0],
            sum_pos: vec![0.0],
            sum_lr: vec![0.0],
            runs: Vec::new(),
        };
        let mut last_sign = None;
        for j in warmup_end + 1..trace.lrs.len() {
            let d = trace.lrs[j - 1] - trace.lrs[j];
            if d.abs() <= CHANGE_EPS * peak {
                continue;
            }
            let k = trace.change_at.len();
            if last_sign != Some(d > 0.0) {
                trace.runs.push(k);
                last_sign = Some(d > 0.0);
            }
            trace.change_at.push(j);
            trace.sum_drop.push(trace.sum_drop[k] + d);
            trace.sum_pos.push(trace.sum_pos[k] + d * j as f64);
            trace.sum_lr.push(trace.sum_lr[k] + d * trace.lrs[j]);
        }
        trace
    }

    /// Number of steps (LRs) in the trace.
    pub fn len(&self) -> u64 {
        self.lrs.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.lrs.is_empty()
    }

    /// The LR of step `step` (0 past the end).
    pub fn lr(&self, step: u64) -> f64 {
        usize::try_from(step)
            .ok()
            .and_then(|i| self.lrs.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// The largest LR; the laws' LR unit when a fit is made from this trace.
    pub fn peak(&self) -> f64 {
        self.peak
    }

    /// Steps before the first step at the peak LR (0 without a warmup).
    pub fn warmup_steps(&self) -> u64 {
        self.warmup_end as u64
    }

    /// S₁ after `steps` completed steps: Σ_{j<steps} `lr[j]`, raw LR units; None past the end.
    pub fn forward_area(&self, steps: u64) -> Option<f64> {
        self.area_at_step(steps)
    }

    /// Tissue et al.'s annealing area S₂ after `steps` completed steps, raw LR units: Σ mᵢ with
    /// mᵢ = λ·mᵢ₋₁ + (ηᵢ₋₁ − ηᵢ), warmup changes left out. Exact for step decays; for
    /// gradual decays within the merging of old LR changes described in [`crate::law`] (≤ 2·10⁻⁴
    /// relative on a 50,000-step cosine); None past the end.
    pub fn annealing_area(&self, steps: u64, lambda: f64) -> Option<f64> {
        let s = self.index(steps)?;
        let ln_lambda = lambda.ln();
        let mut total = 0.0;
        self.changes_before(s, |c| {
            total += c.drop * geometric_sum(ln_lambda, s as f64 - c.pos);
        });
        Some(total)
    }

    pub(super) fn index(&self, steps: u64) -> Option<usize> {
        usize::try_from(steps).ok().filter(|&s| s <= self.lrs.len())
    }

    pub(super) fn area_at_step(&self, steps: u64) -> Option<f64> {
        self.index(steps).map(|s| self.area[s])
    }

    /// The forward area before fractional step index `pos` (linear within a step).
    pub(super) fn area_at(&self, pos: f64) -> f64 {
        let pos = pos.clamp(0.0, self.lrs.len() as f64);
        let i = (pos.floor() as usize).min(self.lrs.len());
        let frac = pos - i as f64;
        self.area[i] + frac * self.lrs.get(i).copied().unwrap_or(0.0)
    }

    /// The changes `lo..hi` (indices into `change_at`, one sign) as one.
    fn merge(&self, lo: usize, hi: usize) -> Change {
        if hi == lo + 1 {
            let j = self.change_at[lo];
            return Change {
                drop: self.lrs[j - 1] - self.lrs[j],
                pos: j as f64,
                lr: self.lrs[j],
            };
        }
        let drop = self.sum_drop[hi] - self.sum_drop[lo];
        // Clamped because the prefix differences round: a mean stays inside what it averages.
        let (first, last) = (self.change_at[lo] as f64, self.change_at[hi - 1] as f64);
        Change {
            drop,
            pos: ((self.sum_pos[hi] - self.sum_pos[lo]) / drop).clamp(first, last),
            lr: ((self.sum_lr[hi] - self.sum_lr[lo]) / drop).clamp(0.0, self.peak),
        }
    }

    /// Every change at a step j < s (those the s completed updates saw), merged into blocks of
    /// one sign, walking back from s: a block whose nearest change is `lag` steps
    /// before s spans at most KAPPA·lag steps, and stands for its changes by their
    /// drop-weighted mean position and LR. Both laws respond to a change smoothly in the time
    /// since it, on a scale that grows with that time, so merging changes within a tenth of
    /// their age costs little accuracy (exact for a step decay, whose blocks are single steps;
    /// on a 50,000-step cosine ≤ 2·10⁻⁴ relative in S₂ and ~10⁻⁵ in a multi-power prediction,
    /// in the tests), and the number of blocks grows like ln(s)/ln(1 + KAPPA) (94 at the end of
    /// that cosine), plus one per run of one sign.
    pub(super) fn changes_before(&self, s: usize, mut f: impl FnMut(Change)) {
        let mut hi = self.change_at.partition_point(|&j| j < s);
        let mut run = self.runs.partition_point(|&start| start < hi);
        while hi > 0 {
            let start = self.runs[run - 1];
            let last = self.change_at[hi - 1];
            let reach = last as f64 - KAPPA * (s - last) as f64;
            let lo = start + self.change_at[start..hi].partition_point(|&j| (j as f64) < reach);
            let c = self.merge(lo, hi);
            if c.drop != 0.0 && c.pos.is_finite() {
                f(c);
            }
            hi = lo;
            if hi == start {
                run -= 1;
            }
        }
    }

    /// Single-step changes as (step, drop), for choosing where to sample a curve densely.
    pub(super) fn drops(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.change_at
            .iter()
            .map(|&j| (j as f64, self.lrs[j - 1] - self.lrs[j]))
    }
}

/// Σ_{k=0}^{lag−1} λᵏ = (1 − λ^lag)/(1 − λ), continued to fractional lags; ln λ is passed so
/// callers can hoist it.
pub(super) fn geometric_sum(ln_lambda: f64, lag: f64) -> f64 {
    if lag <= 0.0 {
        return 0.0;
    }
    if ln_lambda == f64::NEG_INFINITY {
        return 1.0;
    }
    if ln_lambda == 0.0 {
        return lag;
    }
    // expm1/exp_m1 keep precision when λ is close to 1.
    (lag * ln_lambda).exp_m1() / ln_lambda.exp_m1()
}

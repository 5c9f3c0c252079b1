//! Statistics over replicate seeds: mean, sample sd, Student-t 95% intervals, paired differences
//! and a pooled correlation. Small, exact and tested against published quantiles, so the
//! numbers a verdict quotes can be checked by hand.

use serde::{Deserialize, Serialize};

/// How every interval here is computed, in the words a page shows.
pub const METHOD: &str = "95% intervals are Student-t intervals of the mean over seeds \
    (mean ± t₀.₉₇₅,ₙ₋₁ · sd/√n), which assume the per-seed values are roughly normal; \
    differences between decay points are paired by seed, because a seed's branches share \
    its main path";

/// A metric over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    /// Sample standard deviation (n − 1); None with one value.
    pub sd: Option<f64>,
    /// Student-t 95% interval of the mean; None with one value.
    pub ci95: Option<[f64; 2]>,
    pub n: usize,
    /// The per-seed values, in seed order.
    pub values: Vec<f64>,
}

impl Stat {
    /// None when `values` holds no finite number; non-finite values are left out.
    pub fn of(values: &[f64]) -> Option<Self> {
        let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = (n >= 2).then(|| {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        });
        let ci95 = sd.map(|sd| {
            let half = t975(n - 1) * sd / (n as f64).sqrt();
            [mean - half, mean + half]
        });
        Some(Self {
            mean,
            sd,
            ci95,
            n,
            values,
        })
    }

    /// "mean [lo, hi]" (the 95% interval) with `digits` decimals after scaling by `scale`
    /// (100 for percent), or the mean alone with one value; "—" without a statistic.
    pub fn with_interval(s: Option<&Self>, scale: f64, digits: usize) -> String {
        match s {
            None => "—".into(),
            Some(s) => match s.ci95 {
                Some([lo, hi]) => format!(
                    "{:.digits$} [{:.digits$}, {:.digits$}]",
                    s.mean * scale,
                    lo * scale,
                    hi * scale
                ),
                None => format!("{:.digits$}", s.mean * scale),
            },
        }
    }

    pub fn min(&self) -> f64 {
        self.values.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// The paired difference of a metric between two decay points (later minus earlier).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The earlier and the later decay point.
    pub from_k: u64,
    pub to_k: u64,
    pub mean: f64,
    pub sd: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    /// Seeds in which both branches finished.
    pub n: usize,
    /// The interval excludes zero: the difference is larger than seed noise explains.
    pub distinguishable: bool,
    /// The per-seed differences, in seed order.
    pub values: Vec<f64>,
}

impl Effect {
    /// From per-seed pairs (earlier, later); None without a pair of finite values.
    pub fn paired(from_k: u64, to_k: u64, pairs: &[(f64, f64)]) -> Option<Self> {
        let diffs: Vec<f64> = pairs
            .iter()
            .map(|(a, b)| b - a)
            .filter(|d| d.is_finite())
            .collect();
        let s = Stat::of(&diffs)?;
        Some(Self {
            from_k,
            to_k,
            mean: s.mean,
            sd: s.sd,
            distinguishable: s.ci95.is_some_and(|[lo, hi]| lo > 0.0 || hi < 0.0),
            ci95: s.ci95,
            n: s.n,
            values: s.values,
        })
    }
}

/// Correlation pooled over seeds: per-seed Pearson r, Fisher-z averaged, with a t-interval on
/// the z scale mapped back (tanh), so each seed counts once whatever its number of branches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PooledR {
    pub r: f64,
    pub ci95: Option<[f64; 2]>,
    /// Seeds with an r (3 or more finished branches and some spread).
    pub n: usize,
}

impl PooledR {
    pub fn of(per_seed: &[f64]) -> Option<Self> {
        // atanh(±1) is infinite: clamp just inside, so a perfect line still pools.
        let z: Vec<f64> = per_seed
            .iter()
            .filter(|r| r.is_finite())
            .map(|r| r.clamp(-0.999_999, 0.999_999).atanh())
            .collect();
        let s = Stat::of(&z)?;
        Some(Self {
            r: s.mean.tanh(),
            ci95: s.ci95.map(|[lo, hi]| [lo.tanh(), hi.tanh()]),
            n: s.n,
        })
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (df ≥ 1).
pub fn t975(df: usize) -> f64 {
    // Published values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2) to 9 digits.
    const TABLE: [f64; 30] = [
        12.706_204_736,
        4.302_652_730,
        3.182_446_305,
        2.776_445_105,
        2.570_581_836,
        2.446_911_851,
        2.364_624_252,
        2.306_004_135,
        2.262_157_163,
        2.228_138_852,
        2.200_985_160,
        2.178_812_830,
        2.160_368_656,
        2.144_786_688,
        2.131_449_546,
        2.119_905_299,
        2.109_815_578,
        2.100_922_040,
        2.093_024_054,
        2.085_963_447,
        2.079_613_845,
        2.073_873_068,
        2.068_657_610,
        2.063_898_562,
        2.059_538_553,
        2.055_529_439,
        2.051_830_516,
        2.048_407_142,
        2.045_229_642,
        2.042_272_456,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => {
            // Cornish–Fisher expansion around the normal quantile; below 1e-5 off past df = 30.
            let z: f64 = 1.959_963_985;
            let v = df as f64;
            let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
            z + (z3 + z) / (4.0 * v)
                + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
                + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v * v * v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_published_values() {
        assert_eq!(t975(1), 12.706_204_736);
        assert_eq!(t975(4), 2.776_445_105);
        // Beyond the table: R's qt(0.975, 40), qt(0.975, 60), qt(0.975, 120).
        for (df, want) in [(40, 2.021_075_39), (60, 2.000_297_82), (120, 1.979_930_41)] {
            assert!((t975(df) - want).abs() < 1e-5, "df {df}: {}", t975(df));
        }
    }

    #[test]
    fn mean_sd_and_interval_by_hand() {
        // 1, 2, 3, 4, 5: mean 3, sd √2.5, half-width t₄·sd/√5 = 2.776445105·0.707106781.
        let s = Stat::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).expect("values");
        assert_eq!(s.mean, 3.0);
        assert!((s.sd.unwrap_or(0.0) - 2.5f64.sqrt()).abs() < 1e-12);
        let [lo, hi] = s.ci95.unwrap_or([0.0, 0.0]);
        assert!((hi - 3.0 - 1.963_243_5).abs() < 1e-6, "{hi}");
        assert!((3.0 - lo - 1.963_243_5).abs() < 1e-6, "{lo}");
        assert_eq!(
            Stat::with_interval(Some(&s), 100.0, 1),
            "300.0 [103.7, 496.3]"
        );
        assert_eq!(Stat::with_interval(None, 1.0, 2), "—");
        let one = Stat::of(&[0.5, f64::NAN]).expect("one finite value");
        assert_eq!(Stat::with_interval(Some(&one), 1.0, 2), "0.50");
        assert_eq!((one.n, one.sd, one.ci95), (1, None, None));
        assert!(Stat::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn pairing_removes_what_the_seeds_share() {
        // Each seed's level differs a lot, the later decay is always 0.01 lower: a paired
        // difference sees it clearly, though the two groups' intervals overlap.
        let pairs = [(0.50, 0.49), (0.70, 0.69), (0.30, 0.29), (0.90, 0.89)];
        let e = Effect::paired(5, 60, &pairs).expect("pairs");
        assert!((e.mean + 0.01).abs() < 1e-12);
        assert!(e.distinguishable, "{e:?}");
        let a = Stat::of(&pairs.map(|p| p.0)).and_then(|s| s.ci95);
        let b = Stat::of(&pairs.map(|p| p.1)).and_then(|s| s.ci95);
        assert!(a.zip(b).is_some_and(|(a, b)| a[0] < b[1] && b[0] < a[1]));
        // Differences of both signs: not told apart from noise.
        let e = Effect::paired(5, 60, &[(0.5, 0.51), (0.5, 0.49), (0.5, 0.505)]).expect("pairs");
        assert!(!e.distinguishable, "{e:?}");
        // One pair: an estimate without an interval is never "distinguishable".
        let e = Effect::paired(5, 60, &[(0.5, 0.4)]).expect("pair");
        assert!(!e.distinguishable && e.ci95.is_none());
    }

    #[test]
    fn pooled_r_averages_on_the_fisher_scale() {
        let p = PooledR::of(&[-0.9, -0.9, -0.9]).expect("rs");
        assert!((p.r + 0.9).abs() < 1e-12);
        // No spread: the interval collapses to the point.
        assert!(
            p.ci95
                .is_some_and(|[lo, hi]| (lo + 0.9).abs() < 1e-9 && (hi + 0.9).abs() < 1e-9)
        );
        let p = PooledR::of(&[-1.0, -0.5]).expect("rs");
        assert!(p.r < -0.5 && p.r > -1.0);
        assert!(PooledR::of(&[0.3]).is_some_and(|p| p.ci95.is_none()));
    }
}

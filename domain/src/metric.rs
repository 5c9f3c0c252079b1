//! The metric keys: one typed definition of every value a run reports, used by the trainer that
//! writes them, the server that stores and exports them, and the UI that draws them.

use std::collections::BTreeMap;

/// A value in a metric row. Rows cross the wire as `{key: value}` maps (so stored rows stay
/// readable whatever the enum grows into); this enum is the only place a key is spelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    TrainLoss,
    TestLoss,
    /// Networks only.
    TrainAcc,
    /// Networks only.
    TestAcc,
    /// The learning rate the next step uses (at the end, the last one used).
    Lr,
    /// ‖w‖ of all parameters.
    WNorm,
    /// ‖w − w₀‖, the distance travelled from the initialisation (networks).
    DistInit,
    /// Training throughput over the last epoch (networks).
    SamplesPerSec,
    /// Wall-clock seconds the last epoch trained for, evaluation excluded (networks).
    EpochSeconds,
    /// ‖α‖ of the toy model's effective predictor α = ‖w‖^γ·w.
    AlphaNorm,
    /// ‖α − α_mn‖, the toy model's distance to the minimum-norm interpolant.
    DistMn,
    /// The toy model's first two weights, for the exact d = 2 landscape.
    W1,
    W2,
}

impl Metric {
    pub const ALL: [Metric; 13] = [
        Metric::TrainLoss,
        Metric::TestLoss,
        Metric::TrainAcc,
        Metric::TestAcc,
        Metric::Lr,
        Metric::WNorm,
        Metric::DistInit,
        Metric::SamplesPerSec,
        Metric::EpochSeconds,
        Metric::AlphaNorm,
        Metric::DistMn,
        Metric::W1,
        Metric::W2,
    ];

    /// The key in a row's map, in stored events, in CSV headers and in the JSON API.
    pub const fn key(self) -> &'static str {
        match self {
            Metric::TrainLoss => "train_loss",
            Metric::TestLoss => "test_loss",
            Metric::TrainAcc => "train_acc",
            Metric::TestAcc => "test_acc",
            Metric::Lr => "lr",
            Metric::WNorm => "w_norm",
            Metric::DistInit => "dist_init",
            Metric::SamplesPerSec => "samples_per_sec",
            Metric::EpochSeconds => "epoch_seconds",
            Metric::AlphaNorm => "alpha_norm",
            Metric::DistMn => "dist_mn",
            Metric::W1 => "w1",
            Metric::W2 => "w2",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.key() == key)
    }

    /// How a chart or table labels it.
    pub const fn label(self) -> &'static str {
        match self {
            Metric::TrainLoss => "train loss",
            Metric::TestLoss => "test loss",
            Metric::TrainAcc => "train accuracy",
            Metric::TestAcc => "test accuracy",
            Metric::Lr => "learning rate",
            Metric::WNorm => "‖w‖",
            Metric::DistInit => "‖w − w₀‖",
            Metric::SamplesPerSec => "samples/s",
            Metric::EpochSeconds => "epoch seconds",
            Metric::AlphaNorm => "‖α‖",
            Metric::DistMn => "‖α − α_mn‖",
            Metric::W1 => "w₁",
            Metric::W2 => "w₂",
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// A metric row's values as they are stored and sent.
pub type Values = BTreeMap<String, f64>;

/// Builds a row's map from typed keys.
pub fn values(pairs: impl IntoIterator<Item = (Metric, f64)>) -> Values {
    pairs
        .into_iter()
        .map(|(m, v)| (m.key().to_owned(), v))
        .collect()
}

/// Reads one typed value from a row's map.
pub fn get(values: &Values, metric: Metric) -> Option<f64> {
    values.get(metric.key()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for m in Metric::ALL {
            assert!(seen.insert(m.key()), "{} spelled twice", m.key());
            assert_eq!(Metric::parse(m.key()), Some(m));
        }
        assert_eq!(Metric::parse("bogus"), None);
    }

    #[test]
    fn rows_are_built_and_read_by_key() {
        let v = values([(Metric::TestLoss, 0.5), (Metric::Lr, 0.1)]);
        assert_eq!(v.get("test_loss"), Some(&0.5));
        assert_eq!(get(&v, Metric::Lr), Some(0.1));
        assert_eq!(get(&v, Metric::TestAcc), None);
    }
}

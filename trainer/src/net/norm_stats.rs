//! Batch norm's running statistics for weights that were not trained as they are: the
//! schedule-free average x (its statistics were gathered at the gradient point y), and a
//! landscape's grid points (weights nobody trained).
//!
//! What Anneal does (Defazio et al.'s recommendation for schedule-free, and the usual practice
//! for loss landscapes since Li et al. 2018): reset every batch norm's statistics and recompute
//! them as the plain average over a fixed sample, [`SAMPLE_BATCHES`] batches of
//! [`SAMPLE_BATCH`] training examples in the split's stored order (the same for every
//! epoch, checkpoint and grid point, so the evaluation is a function of the weights alone),
//! each normalised with its own batch statistics as in training. The mean of the batch means is
//! the sample's mean; the running variance is the mean of the unbiased batch variances, as
//! PyTorch's `momentum=None` cumulative average gives.

use burn::module::AutodiffModule;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use super::data;
use super::model::Net;
use datasets::Dataset;

/// Batches in the sample the statistics are recomputed on.
pub const SAMPLE_BATCHES: usize = 4;
/// Examples per batch of the sample.
pub const SAMPLE_BATCH: usize = 128;

/// The fixed sample: the first `SAMPLE_BATCHES × SAMPLE_BATCH` training examples, batched.
pub fn sample<B: Backend>(train: &Dataset, device: &B::Device) -> Vec<Tensor<B, 4>> {
    let n = train.labels.len().min(SAMPLE_BATCHES * SAMPLE_BATCH);
    let idx: Vec<usize> = (0..n).collect();
    idx.chunks(SAMPLE_BATCH)
        .map(|chunk| {
            let (x, dims) = data::gather(train, chunk);
            data::to_tensor::<B>(x, dims, device)
        })
        .collect()
}

/// `model` with every batch norm's running statistics recomputed on `sample` (see the module
/// docs); a model without batch norm is returned as is.
pub fn recompute<A: AutodiffBackend>(
    model: Net<A::InnerBackend>,
    sample: &[Tensor<A::InnerBackend, 4>],
) -> Net<A::InnerBackend> {
    if model.running_state_ids().is_empty() || sample.is_empty() {
        return model;
    }
    // Training mode is the autodiff backend's (Burn's convention); nothing is differentiated.
    let mut ad = Net::<A>::from_inner(model);
    let momentum = ad.norms().first().map_or(0.1, |n| n.momentum);
    for (k, x) in sample.iter().enumerate() {
        // With momentum 1/(k+1), r_k = (k·r_{k−1} + s_k)/(k+1): the running mean of the batches.
        ad = set_momentum(ad, 1.0 / (k as f64 + 1.0));
        let _ = ad.forward(Tensor::from_inner(x.clone()));
    }
    set_momentum(ad, momentum).valid()
}

fn set_momentum<B: Backend>(mut net: Net<B>, m: f64) -> Net<B> {
    for n in net.norms_mut() {
        n.momentum = m;
    }
    net
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::flex::FlexDevice;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Distribution, TensorData};
    use experiment::ModelSpec;

    use crate::net::model::{Feature, build};

    #[test]
    fn statistics_are_the_sample_average_whatever_they_were() {
        let d = FlexDevice;
        let spec = ModelSpec::Layers {
            layers: experiment::zoo::resnet20(10),
        };
        let net = build::<Flex>(&spec, [3, 8, 8], 10, &d);
        let sample: Vec<Tensor<Flex, 4>> = (0..3)
            .map(|_| Tensor::random([5, 3, 8, 8], Distribution::Normal(2.0, 3.0), &d))
            .collect();
        let a = recompute::<Autodiff<Flex>>(net, &sample);
        let Some(Feature::Norm(stem)) = a.features.get(1) else {
            panic!("ResNet-20's stem has batch norm second");
        };
        // The stem's running mean is the average of the three batch means of the stem conv's
        // output, whatever the statistics were before: recomputing again changes nothing.
        let once = stem.running_mean.value().into_data();
        let b = recompute::<Autodiff<Flex>>(a, &sample);
        let Some(Feature::Norm(stem)) = b.features.get(1) else {
            panic!("ResNet-20's stem has batch norm second");
        };
        once.assert_approx_eq::<f32>(
            &stem.running_mean.value().into_data(),
            burn::tensor::Tolerance::absolute(1e-6),
        );
        assert_ne!(
            once,
            TensorData::zeros::<f32, _>([16]),
            "statistics were gathered"
        );
        assert!(
            b.norms().iter().all(|n| n.momentum == 0.1),
            "momentum restored"
        );
    }
}

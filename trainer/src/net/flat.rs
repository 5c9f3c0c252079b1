//! A network's trained parameters as one flat f32 vector and back, in a fixed traversal
//! order: for ‖w‖, PCA of trajectories and evaluating the loss anywhere in parameter space.
//!
//! Batch norm's running statistics are visited by Burn like parameters, but they are not
//! trained weights (‖w‖ and distances must not count them, and a landscape recomputes them
//! rather than interpolating them): they are skipped here, and keep their values on the way
//! back.

use std::collections::HashSet;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::model::Net;

struct Flatten {
    values: Vec<f32>,
    skip: HashSet<ParamId>,
}

impl<B: Backend> ModuleVisitor<B> for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if self.skip.contains(&param.id) {
            return;
        }
        let data = param.val().into_data().convert::<f32>();
        // convert::<f32>() guarantees the element type, so this cannot fail.
        self.values
            .extend_from_slice(data.as_slice::<f32>().expect("converted to f32"));
    }
}

struct Shapes {
    dims: Vec<Vec<usize>>,
    skip: HashSet<ParamId>,
}

impl<B: Backend> ModuleVisitor<B> for Shapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if self.skip.contains(&param.id) {
            return;
        }
        self.dims.push(param.val().dims().to_vec());
    }
}

struct Unflatten<'a> {
    src: &'a [f32],
    offset: usize,
    skip: HashSet<ParamId>,
}

impl<B: Backend> ModuleMapper<B> for Unflatten<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        if self.skip.contains(&param.id) {
            return param;
        }
        let (src, off) = (self.src, self.offset);
        let n: usize = param.shape().num_elements();
        self.offset += n;
        param.map(|old| {
            let (device, dims) = (old.device(), old.dims());
            let end = (off + n).min(src.len());
            let mut chunk = src[off.min(end)..end].to_vec();
            chunk.resize(n, 0.0);
            let t = Tensor::<B, D>::from_data(TensorData::new(chunk, dims), &device);
            if old.is_require_grad() {
                t.require_grad()
            } else {
                t
            }
        })
    }
}

/// All trained parameters, in traversal order.
pub fn flatten<B: Backend>(module: &Net<B>) -> Vec<f32> {
    let mut f = Flatten {
        values: Vec::with_capacity(module.num_params()),
        skip: module.running_state_ids(),
    };
    module.visit(&mut f);
    f.values
}

/// The shape of every float parameter, in the order [`flatten`] lays them out: which slice of
/// the flat vector is which tensor (filter-wise normalisation needs it).
pub fn shapes<B: Backend>(module: &Net<B>) -> Vec<Vec<usize>> {
    let mut s = Shapes {
        dims: Vec::new(),
        skip: module.running_state_ids(),
    };
    module.visit(&mut s);
    s.dims
}

/// Writes `values` (as produced by [`flatten`] for the same architecture) into `module`.
/// A vector of the wrong length is a caller bug; missing values become zeros.
pub fn unflatten<B: Backend>(module: Net<B>, values: &[f32]) -> Net<B> {
    debug_assert_eq!(
        values.len(),
        module.trainable_params(),
        "flat vector length must match the module"
    );
    let skip = module.running_state_ids();
    module.map(&mut Unflatten {
        src: values,
        offset: 0,
        skip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::model::build;
    use burn::backend::Flex;
    use burn::backend::flex::FlexDevice;
    use experiment::ModelSpec;

    #[test]
    fn round_trip_is_bit_exact() {
        let net = build::<Flex>(&ModelSpec::SmallCnn, [1, 28, 28], 10, &FlexDevice);
        let v = flatten(&net);
        assert_eq!(v.len(), net.trainable_params());
        let shifted: Vec<f32> = v.iter().map(|x| x + 1.0).collect();
        let net = unflatten(net, &shifted);
        assert_eq!(flatten(&net), shifted);
    }
}

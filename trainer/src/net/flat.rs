//! A module's parameters as one flat f32 vector and back, in a fixed traversal order:
//! for PCA of trajectories and for evaluating the loss anywhere in parameter space.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

struct Flatten {
    values: Vec<f32>,
}

impl<B: Backend> ModuleVisitor<B> for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let data = param.val().into_data().convert::<f32>();
        // convert::<f32>() guarantees the element type, so this cannot fail.
        self.values
            .extend_from_slice(data.as_slice::<f32>().expect("converted to f32"));
    }
}

struct Shapes {
    dims: Vec<Vec<usize>>,
}

impl<B: Backend> ModuleVisitor<B> for Shapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.dims.push(param.val().dims().to_vec());
    }
}

struct Unflatten<'a> {
    src: &'a [f32],
    offset: usize,
}

impl<B: Backend> ModuleMapper<B> for Unflatten<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
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

/// All float parameters, in traversal order.
pub fn flatten<B: Backend, M: Module<B>>(module: &M) -> Vec<f32> {
    let mut f = Flatten {
        values: Vec::with_capacity(module.num_params()),
    };
    module.visit(&mut f);
    f.values
}

/// The shape of every float parameter, in the order [`flatten`] lays them out: which slice of
/// the flat vector is which tensor (filter-wise normalisation needs it).
pub fn shapes<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<usize>> {
    let mut s = Shapes { dims: Vec::new() };
    module.visit(&mut s);
    s.dims
}

/// Writes `values` (as produced by [`flatten`] for the same architecture) into `module`.
/// A vector of the wrong length is a caller bug; missing values become zeros.
pub fn unflatten<B: Backend, M: Module<B>>(module: M, values: &[f32]) -> M {
    debug_assert_eq!(
        values.len(),
        module.num_params(),
        "flat vector length must match the module"
    );
    module.map(&mut Unflatten {
        src: values,
        offset: 0,
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
        assert_eq!(v.len(), net.num_params());
        let shifted: Vec<f32> = v.iter().map(|x| x + 1.0).collect();
        let net = unflatten(net, &shifted);
        assert_eq!(flatten(&net), shifted);
    }
}

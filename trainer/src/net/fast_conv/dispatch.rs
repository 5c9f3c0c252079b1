//! Which convolution a model's Conv2d layer runs: this module's on flex (with its autodiff node
//! under `Autodiff<Flex>`) when the layer and backend are ones it covers, else Burn's own.

use burn::backend::{Autodiff, Flex};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::backend::Backend;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor, TensorPrimitive};

use super::activation::Activation;
use super::autodiff::conv2d;
use super::gemm::conv2d_forward_with;
use super::geometry::supported;
use crate::net::same_backend::{cast, same_type};

/// The backend the training loop runs on the CPU (default checkpointing: none).
type Ad = Autodiff<Flex>;

/// `act` of a Conv2d layer's output for `x`: through this module's convolution on flex (with
/// autodiff: with its backward) when the layer is one it covers, else through
/// `Conv2d::forward` and Burn's activation. Same parameters, same result up to float rounding.
pub fn forward<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>, act: Activation) -> Tensor<B, 4> {
    let Some(options) = layer_options(conv, x.dims()) else {
        return act.on_tensor(conv.forward(x));
    };
    if x.dtype() != DType::F32 {
        return act.on_tensor(conv.forward(x));
    }
    let x = match same_type::<_, Tensor<Ad, 4>>(x) {
        Ok(x) => {
            let (w, b) = (cast(conv.weight.val()), conv_bias(conv));
            return cast(conv2d(x, w, b, options, act));
        }
        Err(x) => x,
    };
    match same_type::<_, Tensor<Flex, 4>>(x) {
        Ok(x) => {
            let bias = conv_bias::<B, Flex>(conv).map(|b| b.into_primitive().tensor());
            let y = conv2d_forward_with(
                x.into_primitive().tensor(),
                cast::<_, Tensor<Flex, 4>>(conv.weight.val())
                    .into_primitive()
                    .tensor(),
                bias,
                &options,
                act,
            );
            cast(Tensor::<Flex, 4>::from_primitive(TensorPrimitive::Float(y)))
        }
        Err(x) => act.on_tensor(conv.forward(x)),
    }
}

fn conv_bias<B: Backend, C: Backend>(conv: &Conv2d<B>) -> Option<Tensor<C, 1>> {
    conv.bias.as_ref().map(|b| cast(b.val()))
}

/// The layer's options when this module covers it: groups 1, dilation 1, symmetric padding
/// (as `Conv2d::forward` would compute it for this input).
fn layer_options<B: Backend>(conv: &Conv2d<B>, dims: [usize; 4]) -> Option<ConvOptions<2>> {
    let [_, _, h, w] = dims;
    let [(top, bottom), (left, right)] = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        // burn-nn's rule, which ignores dilation (only dilation 1 is covered here anyway).
        PaddingConfig2d::Same => [
            same_padding(conv.kernel_size[0], conv.stride[0], h),
            same_padding(conv.kernel_size[1], conv.stride[1], w),
        ],
    };
    if top != bottom || left != right {
        return None;
    }
    let options = ConvOptions::new(conv.stride, [top, left], conv.dilation, conv.groups);
    let shape = [dims[0], dims[1], h, w];
    let weight = conv.weight.dims();
    supported(&shape, &weight, &options).then_some(options)
}

fn same_padding(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = if out > 0 {
        ((out - 1) * stride + kernel).saturating_sub(size)
    } else {
        0
    };
    (total / 2, total - total / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_burn_nn() {
        assert_eq!(same_padding(3, 1, 28), (1, 1));
        assert_eq!(same_padding(5, 1, 9), (2, 2));
        // Even kernels pad more at the end: not covered, Conv2d::forward handles them.
        assert_eq!(same_padding(2, 1, 8), (0, 1));
        assert_eq!(same_padding(3, 2, 8), (0, 1));
    }
}

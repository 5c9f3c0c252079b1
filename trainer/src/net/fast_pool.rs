//! Max pooling on the flex CPU backend with its own backward pass, for the models' pool layers.
//!
//! burn-flex 0.21 runs 2-D max pooling as 3-D pooling with a depth of one and a bounds check on
//! every tap; the per-op profile (`benches/conv_profile.rs`) had the small CNN's two 2×2 pools
//! at 45 ms of a 105 ms forward pass at batch 128, against under 10 ms for PyTorch. Here each
//! (image, channel) plane is one rayon task and the window loops run over known-valid ranges.
//!
//! Semantics are burn-flex's: the first maximum in a window wins (strict `>`, row-major taps),
//! and the gradient goes to that element only. Scope: f32, no padding, dilation 1, floor
//! rounding, any kernel and stride; anything else, and backends other than flex (with or
//! without autodiff), go through Burn's `MaxPool2d::forward`. Like [`super::fast_conv`], the
//! functions on `FlexTensor` could be proposed upstream as burn-flex's `max_pool2d`,
//! `max_pool2d_with_indices` and `max_pool2d_with_indices_backward`.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorData, TensorMetadata, TensorPrimitive};
use rayon::prelude::*;

use super::same_backend::{cast, same_type};

/// A MaxPool2d layer's output for `x`: through this module on flex (with or without autodiff)
/// when the layer is one it covers, else through `MaxPool2d::forward`. Same result.
pub fn forward<B: Backend>(pool: &MaxPool2d, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let no_padding = match pool.padding {
        PaddingConfig2d::Valid => true,
        PaddingConfig2d::Explicit(t, l, b, r) => [t, l, b, r] == [0; 4],
        // Same pads only when the strided windows overhang the input.
        PaddingConfig2d::Same => [(h, 0), (w, 1)].iter().all(|&(size, d)| {
            let out = size.div_ceil(pool.stride[d]);
            out == 0 || (out - 1) * pool.stride[d] + pool.kernel_size[d] <= size
        }),
    };
    let covered = no_padding
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
        && supported([h, w], pool.kernel_size, pool.stride)
        && x.dtype() == DType::F32;
    if !covered {
        return pool.forward(x);
    }
    let (kernel, stride) = (pool.kernel_size, pool.stride);
    let x = match same_type::<_, Tensor<Autodiff<Flex>, 4>>(x) {
        Ok(x) => {
            let y = max_pool2d_autodiff(x, kernel, stride);
            return cast(y);
        }
        Err(x) => x,
    };
    match same_type::<_, Tensor<Flex, 4>>(x) {
        Ok(x) => {
            let y = max_pool2d(x.into_primitive().tensor(), kernel, stride);
            cast(Tensor::<Flex, 4>::from_primitive(TensorPrimitive::Float(y)))
        }
        Err(x) => pool.forward(x),
    }
}

/// Whether this module covers pooling an [H, W] plane with `kernel` and `stride` (no padding).
pub fn supported(hw: [usize; 2], kernel: [usize; 2], stride: [usize; 2]) -> bool {
    (0..2).all(|d| kernel[d] >= 1 && stride[d] >= 1 && hw[d] >= kernel[d])
}

/// Max pooling on `Autodiff<Flex>` with this module's backward.
///
/// # Panics
/// If [`supported`] is false for `x`'s planes, or `x` is not f32.
pub fn max_pool2d_autodiff<C: CheckpointStrategy>(
    x: Tensor<Autodiff<Flex, C>, 4>,
    kernel: [usize; 2],
    stride: [usize; 2],
) -> Tensor<Autodiff<Flex, C>, 4> {
    let x = x.into_primitive().tensor();
    let shape = x.primitive.shape().dims::<4>();
    let out = match MaxPoolBackward
        .prepare::<C>([x.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (y, idx) = max_pool2d_with_indices(x.primitive, kernel, stride);
            prep.finish((Arc::new(idx), shape), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(max_pool2d(x.primitive, kernel, stride)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    /// The argmax of every window (offset in its plane) and the input's shape.
    type State = (Arc<Vec<u32>>, [usize; 4]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node {
            let (idx, shape) = ops.state;
            grads.register::<Flex>(node.id, max_pool2d_backward(grad, &idx, shape));
        }
    }
}

struct Pool {
    planes: usize,
    h: usize,
    w: usize,
    k: [usize; 2],
    s: [usize; 2],
    ho: usize,
    wo: usize,
}

impl Pool {
    fn new(shape: [usize; 4], k: [usize; 2], s: [usize; 2]) -> Self {
        let [b, c, h, w] = shape;
        assert!(
            supported([h, w], k, s),
            "fast_pool: unsupported pooling of {shape:?} with kernel {k:?}, stride {s:?}"
        );
        Self {
            planes: b * c,
            h,
            w,
            k,
            s,
            ho: (h - k[0]) / s[0] + 1,
            wo: (w - k[1]) / s[1] + 1,
        }
    }

    /// The first maximum of window (oh, ow) of `plane` and its offset in the plane.
    #[inline]
    fn window(&self, plane: &[f32], oh: usize, ow: usize) -> (f32, u32) {
        let (r0, c0) = (oh * self.s[0], ow * self.s[1]);
        let at = r0 * self.w + c0;
        if self.k == [2, 2] {
            // The models' pools, unrolled: four taps in row-major order, later ones taking
            // over only when strictly larger.
            let (top, bottom) = (&plane[at..at + 2], &plane[at + self.w..at + self.w + 2]);
            let mut best = (top[0], at);
            for (v, i) in [
                (top[1], at + 1),
                (bottom[0], at + self.w),
                (bottom[1], at + self.w + 1),
            ] {
                if v > best.0 {
                    best = (v, i);
                }
            }
            return (best.0, best.1 as u32);
        }
        let mut best = (plane[at], at);
        for r in r0..r0 + self.k[0] {
            let row = &plane[r * self.w..][c0..c0 + self.k[1]];
            for (dc, &v) in row.iter().enumerate() {
                if v > best.0 {
                    best = (v, r * self.w + c0 + dc);
                }
            }
        }
        (best.0, best.1 as u32)
    }
}

/// Max pooling without indices (evaluation), as burn-backend's `ModuleOps::max_pool2d` with no
/// padding, dilation 1 and floor rounding.
///
/// # Panics
/// As [`max_pool2d_autodiff`].
pub fn max_pool2d(x: FlexTensor, kernel: [usize; 2], stride: [usize; 2]) -> FlexTensor {
    let shape = x.shape().dims::<4>();
    let p = Pool::new(shape, kernel, stride);
    let x = x.to_contiguous();
    let xs = x.as_slice::<f32>().expect("contiguous f32");
    let mut out = vec![0.0f32; p.planes * p.ho * p.wo];
    out.par_chunks_mut(p.ho * p.wo)
        .zip(xs.par_chunks(p.h * p.w))
        .for_each(|(out, plane)| {
            for (oh, row) in out.chunks_exact_mut(p.wo).enumerate() {
                for (ow, o) in row.iter_mut().enumerate() {
                    *o = p.window(plane, oh, ow).0;
                }
            }
        });
    FlexTensor::from_data(TensorData::new(out, [shape[0], shape[1], p.ho, p.wo]))
}

/// Max pooling and each window's argmax as an offset in its plane, as burn-backend's
/// `ModuleOps::max_pool2d_with_indices` (which gives the same offsets as i64 tensors).
///
/// # Panics
/// As [`max_pool2d_autodiff`].
pub fn max_pool2d_with_indices(
    x: FlexTensor,
    kernel: [usize; 2],
    stride: [usize; 2],
) -> (FlexTensor, Vec<u32>) {
    let shape = x.shape().dims::<4>();
    let p = Pool::new(shape, kernel, stride);
    let x = x.to_contiguous();
    let xs = x.as_slice::<f32>().expect("contiguous f32");
    let n = p.ho * p.wo;
    let mut out = vec![0.0f32; p.planes * n];
    let mut idx = vec![0u32; p.planes * n];
    out.par_chunks_mut(n)
        .zip(idx.par_chunks_mut(n))
        .zip(xs.par_chunks(p.h * p.w))
        .for_each(|((out, idx), plane)| {
            let rows = out.chunks_exact_mut(p.wo).zip(idx.chunks_exact_mut(p.wo));
            for (oh, (out, idx)) in rows.enumerate() {
                for (ow, (o, k)) in out.iter_mut().zip(idx.iter_mut()).enumerate() {
                    (*o, *k) = p.window(plane, oh, ow);
                }
            }
        });
    let y = FlexTensor::from_data(TensorData::new(out, [shape[0], shape[1], p.ho, p.wo]));
    (y, idx)
}

/// The input gradient of max pooling: each output's gradient added at its window's argmax, in
/// output order within a plane (so overlapping windows accumulate deterministically).
pub fn max_pool2d_backward(grad: FlexTensor, indices: &[u32], input: [usize; 4]) -> FlexTensor {
    let [b, c, h, w] = input;
    let grad = grad.to_contiguous();
    let gs = grad.as_slice::<f32>().expect("contiguous f32");
    let n = gs.len() / (b * c).max(1);
    let mut dx = vec![0.0f32; b * c * h * w];
    dx.par_chunks_mut(h * w)
        .zip(gs.par_chunks(n.max(1)).zip(indices.par_chunks(n.max(1))))
        .for_each(|(dx, (g, idx))| {
            for (&g, &i) in g.iter().zip(idx) {
                dx[i as usize] += g;
            }
        });
    FlexTensor::from_data(TensorData::new(dx, input))
}

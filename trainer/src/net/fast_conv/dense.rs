//! Convolutions on maps no larger than the kernel, as plain matrix products.
//!
//! On such a map every output pixel's window covers most of the input plane, so the layer is
//! close to a fully connected one: the matrix `u[(co, q), (c, s)] = w[co, c, tap(q, s)]`, with
//! q an output pixel, s an input pixel and tap(q, s) the kernel tap that joins them (0 where s
//! is outside q's window), maps an image's C_in·H·W inputs to its C_out·P outputs. In NCHW an
//! image's input, output and their gradients are already rows of the products' operands:
//!
//! - forward: `y[B, C_out·P] = x[B, C_in·H·W] · uᵀ`;
//! - input gradient: `dx[B, C_in·H·W] = dy[B, C_out·P] · u`;
//! - weight gradient: `du = dyᵀ · x`, each `du` entry added to the tap it belongs to.
//!
//! That is H·W multiplications per output pixel and channel pair against im2col's kh·kw, most of
//! which multiply padding on small maps (16 against 36 on 2×2 maps), with no columns, col2im or
//! layout changes, and products of at least 128 on every side for VGG-11's 2×2 layers, where
//! gemm runs near its peak. Every sum has a fixed order, so results repeat run to run.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::TensorMetadata;
use burn::tensor::ops::FloatTensorOps;
use rayon::prelude::*;

use super::activation::Activation;
use super::geometry::{Geometry, f32s, tensor};

/// For each (output pixel q, input pixel s), at `q·H·W + s`: the kernel tap `i·kw + j`
/// that joins them, if any.
fn taps(g: &Geometry) -> Vec<Option<usize>> {
    let hw = g.h * g.w;
    let mut taps = vec![None; g.p() * hw];
    for (q, row) in taps.chunks_exact_mut(hw).enumerate() {
        let (oh, ow) = (q / g.wo, q % g.wo);
        for i in 0..g.kh {
            for j in 0..g.kw {
                let ih = (oh * g.stride[0] + i).checked_sub(g.pad[0]);
                let iw = (ow * g.stride[1] + j).checked_sub(g.pad[1]);
                if let (Some(ih), Some(iw)) = (ih, iw)
                    && ih < g.h
                    && iw < g.w
                {
                    row[ih * g.w + iw] = Some(i * g.kw + j);
                }
            }
        }
    }
    taps
}

/// `u` [C_out·P, C_in·H·W] from the weight [C_out, C_in, kh, kw].
fn unrolled(weight: &FlexTensor, g: &Geometry) -> FlexTensor {
    let weight = weight.to_contiguous();
    let ws = f32s(&weight);
    let (taps, hw, kk) = (taps(g), g.h * g.w, g.kh * g.kw);
    let width = g.cin * hw;
    let mut u = vec![0.0f32; g.cout * g.p() * width];
    u.par_chunks_mut(g.p() * width)
        .enumerate()
        .for_each(|(co, block)| {
            for (q, row) in block.chunks_exact_mut(width).enumerate() {
                let taps = &taps[q * hw..][..hw];
                for (c, seg) in row.chunks_exact_mut(hw).enumerate() {
                    let wk = &ws[(co * g.cin + c) * kk..][..kk];
                    for (v, t) in seg.iter_mut().zip(taps) {
                        if let Some(t) = t {
                            *v = wk[*t];
                        }
                    }
                }
            }
        });
    tensor(u, [g.cout * g.p(), width])
}

fn rows(t: &FlexTensor, batch: usize) -> FlexTensor {
    let per = t.shape().num_elements() / batch.max(1);
    t.reshape([batch, per].into())
}

pub(super) fn forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&[f32]>,
    act: Activation,
    g: &Geometry,
) -> FlexTensor {
    let u = unrolled(weight, g);
    let mut y = Flex::float_matmul(rows(x, g.batch), Flex::float_swap_dims(u, 0, 1));
    let p = g.p();
    if bias.is_some() || act != Activation::Identity {
        // The product is fresh, so this writes in place.
        y.storage_mut::<f32>()
            .par_chunks_mut(p)
            .enumerate()
            .for_each(|(plane, out)| {
                let b = bias.map_or(0.0, |b| b[plane % g.cout]);
                for v in out {
                    *v = act.apply(*v + b);
                }
            });
    }
    y.reshape([g.batch, g.cout, g.ho, g.wo].into())
}

pub(super) fn x_backward(weight: &FlexTensor, grad: &FlexTensor, g: &Geometry) -> FlexTensor {
    let dx = Flex::float_matmul(rows(grad, g.batch), unrolled(weight, g));
    dx.reshape([g.batch, g.cin, g.h, g.w].into())
}

pub(super) fn weight_backward(x: &FlexTensor, grad: &FlexTensor, g: &Geometry) -> FlexTensor {
    let du = Flex::float_matmul(
        Flex::float_swap_dims(rows(grad, g.batch), 0, 1),
        rows(x, g.batch),
    );
    let du = du.to_contiguous();
    let dus = f32s(&du);
    let (taps, hw, kk, p) = (taps(g), g.h * g.w, g.kh * g.kw, g.p());
    let width = g.cin * hw;
    let mut dw = vec![0.0f32; g.cout * g.cin * kk];
    dw.par_chunks_mut(g.cin * kk)
        .enumerate()
        .for_each(|(co, dw)| {
            for q in 0..p {
                let row = &dus[(co * p + q) * width..][..width];
                let taps = &taps[q * hw..][..hw];
                for (c, seg) in row.chunks_exact(hw).enumerate() {
                    let dk = &mut dw[c * kk..][..kk];
                    for (v, t) in seg.iter().zip(taps) {
                        if let Some(t) = t {
                            dk[*t] += *v;
                        }
                    }
                }
            }
        });
    tensor(dw, [g.cout, g.cin, g.kh, g.kw])
}

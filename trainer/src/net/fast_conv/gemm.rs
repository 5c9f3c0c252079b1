//! The four convolution ops on `FlexTensor`, with the arguments of burn-backend's `ModuleOps`:
//! forward and both gradients as GEMMs over im2col columns, chunk by chunk on rayon (or the
//! [`dense`](super::dense) products on maps no larger than the kernel), and the bias gradient.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::TensorMetadata;
use burn::tensor::ops::{ConvOptions, FloatTensorOps};
use rayon::prelude::*;

use super::activation::Activation;
use super::dense;
use super::geometry::{Geometry, LARGE, SMALL, f32s, tensor};
use super::im2col::{channel_major, col2im, im2col};

/// Forward convolution: `x` [B, C_in, H, W], `weight` [C_out, C_in, kh, kw], `bias` [C_out]
/// → [B, C_out, H_out, W_out], as burn-backend's `ModuleOps::conv2d`.
///
/// # Panics
/// If [`supported`](super::supported) is false for these shapes and options, or the tensors are not f32.
pub fn conv2d_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    conv2d_forward_with(x, weight, bias, options, Activation::Identity)
}

/// [`conv2d_forward`] followed by `act`, applied as the output is written.
pub fn conv2d_forward_with(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
    act: Activation,
) -> FlexTensor {
    let g = Geometry::new(&x, &weight, options);
    let x = x.to_contiguous();
    let bias = bias.map(|b| b.to_contiguous());
    if dense_pays_off(&g) {
        return dense::forward(&x, &weight, bias.as_ref().map(f32s), act, &g);
    }
    let mut out = vec![0.0f32; g.batch * g.cout * g.p()];
    convolve(
        f32s(&x),
        &weight_matrix(&weight, &g),
        bias.as_ref().map(f32s),
        act,
        &g,
        &mut out,
    );
    tensor(out, [g.batch, g.cout, g.ho, g.wo])
}

/// The convolution of `x` (NCHW, all of it) into `out` [B, C_out, P], chunk by chunk in
/// parallel; `w` is the [C_out, K] weight matrix.
fn convolve(
    x: &[f32],
    w: &FlexTensor,
    bias: Option<&[f32]>,
    act: Activation,
    g: &Geometry,
    out: &mut [f32],
) {
    let (p, chunk) = (g.p(), g.chunk(SMALL));
    out.par_chunks_mut(chunk * g.cout * p)
        .enumerate()
        .for_each(|(ci, out)| {
            let n = out.len() / (g.cout * p);
            let y = Flex::float_matmul(w.clone(), im2col(x, g, ci * chunk, n));
            let ys = f32s(&y);
            for (plane, dst) in out.chunks_exact_mut(p).enumerate() {
                let (bl, co) = (plane / g.cout, plane % g.cout);
                let src = &ys[co * n * p + bl * p..][..p];
                let b = bias.map_or(0.0, |b| b[co]);
                match (bias, act) {
                    (None, Activation::Identity) => dst.copy_from_slice(src),
                    _ => {
                        for (d, s) in dst.iter_mut().zip(src) {
                            *d = act.apply(*s + b);
                        }
                    }
                }
            }
        });
}

/// The weight as the [C_out, K] matrix the GEMMs use (K runs over (c, i, j) in the weight's
/// own memory order, so this is a view).
fn weight_matrix(weight: &FlexTensor, g: &Geometry) -> FlexTensor {
    weight.to_contiguous().reshape([g.cout, g.k()].into())
}

/// Gradient of the loss with respect to `x`, as burn-backend's `ModuleOps::conv2d_x_backward`.
///
/// Two ways, chosen by [`flipped_pays_off`]: `Wᵀ · dy` and col2im (a scatter-add), or, for
/// stride 1, the forward convolution of `dy` with the kernel flipped in space and transposed in
/// channels, padded by kernel − 1 − pad: a [C_in, C_out·kh·kw] GEMM with nothing to scatter.
///
/// # Panics
/// As [`conv2d_forward`].
pub fn conv2d_x_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let g = Geometry::new(&x, &weight, options);
    let grad = output_grad.to_contiguous();
    if dense_pays_off(&g) {
        return dense::x_backward(&weight, &grad, &g);
    }
    let gs = f32s(&grad);
    let mut dx = vec![0.0f32; g.batch * g.cin * g.h * g.w];
    if flipped_pays_off(&g) {
        let flipped = Geometry {
            cin: g.cout,
            h: g.ho,
            w: g.wo,
            cout: g.cin,
            pad: [g.kh - 1 - g.pad[0], g.kw - 1 - g.pad[1]],
            ho: g.h,
            wo: g.w,
            ..g
        };
        let w = weight.to_contiguous();
        let ws = f32s(&w);
        let (kk, k) = (g.kh * g.kw, g.k());
        // w'[ci, co, i, j] = w[co, ci, kh − 1 − i, kw − 1 − j]
        let wf: Vec<f32> = (0..g.cin * g.cout * kk)
            .map(|idx| {
                let (ci, co, ij) = (idx / (g.cout * kk), idx / kk % g.cout, idx % kk);
                ws[co * k + ci * kk + (kk - 1 - ij)]
            })
            .collect();
        let wf = tensor(wf, [g.cin, g.cout * kk]);
        convolve(gs, &wf, None, Activation::Identity, &flipped, &mut dx);
    } else {
        let (p, chunk, span) = (g.p(), g.chunk(SMALL), g.cin * g.h * g.w);
        // Wᵀ copied once: gemm packs a contiguous left operand faster than a transposed view.
        let wt = Flex::float_swap_dims(weight_matrix(&weight, &g), 0, 1).to_contiguous();
        dx.par_chunks_mut(chunk * span)
            .enumerate()
            .for_each(|(ci, dx)| {
                let n = dx.len() / span;
                let dy = channel_major(gs, &g, ci * chunk, n);
                let dcols = Flex::float_matmul(wt.clone(), dy);
                col2im(f32s(&dcols), &g, n, dx);
                debug_assert_eq!(f32s(&dcols).len(), g.k() * n * p);
            });
    }
    tensor(dx, [g.batch, g.cin, g.h, g.w])
}

/// Whether the input gradient is cheaper as a convolution with the flipped kernel. It needs
/// stride 1 and padding < kernel; by CPU time on 3×3 convs it won from 8×8 images and 16 input
/// channels on (64→64 at 8×8: 10.7 ms against 15.1 ms for col2im), and lost on small images,
/// whose flipped columns are mostly padding (256→256 at 2×2: 21.7 against 15.0 ms; 128→128 at
/// 4×4: 8.3 against 6.8 ms), and on few input channels, where its GEMM has as few rows (1→32:
/// 11.6 against 2.9 ms).
fn flipped_pays_off(g: &Geometry) -> bool {
    g.stride == [1, 1] && g.pad[0] < g.kh && g.pad[1] < g.kw && g.cin >= 16 && g.h * g.w >= 64
}

/// Gradient with respect to `weight`, as burn-backend's `ModuleOps::conv2d_weight_backward`:
/// per chunk ONE GEMM over the chunk's columns, the chunks' products summed in chunk order
/// (so the result does not depend on which thread ran which chunk).
///
/// # Panics
/// As [`conv2d_forward`].
pub fn conv2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let g = Geometry::new(&x, &weight, options);
    let x = x.to_contiguous();
    let grad = output_grad.to_contiguous();
    if dense_pays_off(&g) {
        return dense::weight_backward(&x, &grad, &g);
    }
    let xs = f32s(&x);
    let gs = f32s(&grad);
    let (k, chunk) = (g.k(), g.chunk(LARGE));
    let parts: Vec<FlexTensor> = (0..g.batch.div_ceil(chunk))
        .into_par_iter()
        .map(|ci| {
            let (b0, n) = (ci * chunk, chunk.min(g.batch - ci * chunk));
            // dWᵀ [K, C_out] = cols · dyᵀ: the long n·P axis is the contiguous one in both
            // operands' rows, which gemm packs faster than dy · colsᵀ.
            let dy = channel_major(gs, &g, b0, n);
            Flex::float_matmul(im2col(xs, &g, b0, n), Flex::float_swap_dims(dy, 0, 1))
        })
        .collect();
    let mut dwt = vec![0.0f32; k * g.cout];
    for part in &parts {
        for (a, b) in dwt.iter_mut().zip(f32s(part)) {
            *a += *b;
        }
    }
    // flex's copy of a transposed view is blocked; an index-mapping loop was 15% of the
    // weight gradient of VGG's 2304×256 convs.
    Flex::float_swap_dims(tensor(dwt, [k, g.cout]), 0, 1)
        .to_contiguous()
        .reshape([g.cout, g.cin, g.kh, g.kw].into())
}

/// Whether the convolution is cheaper as one dense product over the batch (see [`dense`]): when
/// the whole input plane has no more pixels than the kernel has taps (H·W ≤ kh·kw, as VGG-11's
/// 2×2 maps under 3×3 kernels).
fn dense_pays_off(g: &Geometry) -> bool {
    g.h * g.w <= g.kh * g.kw
}

/// Gradient with respect to the bias: the output gradient summed over batch and pixels, as
/// burn-backend's `ModuleOps::conv2d_bias_backward`. Each (image, channel) plane is summed in
/// parallel, then a channel's planes in batch order, in f64 so B·P terms lose nothing to f32.
pub fn conv2d_bias_backward(output_grad: FlexTensor) -> FlexTensor {
    let [batch, cout, ho, wo] = output_grad.shape().dims::<4>();
    let grad = output_grad.to_contiguous();
    let sums: Vec<f64> = f32s(&grad)
        .par_chunks((ho * wo).max(1))
        .map(|plane| plane.iter().map(|&v| f64::from(v)).sum())
        .collect();
    let b: Vec<f32> = (0..cout)
        .map(|co| (0..batch).map(|b| sums[b * cout + co]).sum::<f64>() as f32)
        .collect();
    tensor(b, [cout])
}

//! 2-D convolution on the flex CPU backend with its own backward pass, for the models' conv
//! layers under `Autodiff<Flex>`.
//!
//! burn-flex 0.21 implements `conv2d` but not `conv2d_weight_backward` / `conv2d_x_backward`,
//! so autodiff falls back to burn-backend's generic versions: the input gradient as a
//! `conv_transpose2d`, and the weight gradient as a conv2d over the batch/channel-swapped input
//! whose "kernel" is the whole output gradient, which flex runs as C_in small GEMMs after
//! several transposes. With the bias gradient's strided sum that made the backward ~60% of a
//! small-CNN step on CPU. Here the products are large GEMMs over im2col columns laid out
//! channel-major, `cols[(c, i, j), (b, oh, ow)] = x[b, c, oh·s + i − p, ow·s + j − p]`, with
//! K = C_in·kh·kw rows and P = H_out·W_out output pixels per image:
//!
//! - forward: `y[C_out, n·P] = W[C_out, K] · cols[K, n·P]`, then to NCHW with the bias added;
//! - weight gradient: `dWᵀ[K, C_out] = cols[K, n·P] · dyᵀ[n·P, C_out]`, one GEMM per chunk of
//!   n images, the chunks' products summed;
//! - input gradient: `dcols[K, n·P] = Wᵀ[K, C_out] · dy[C_out, n·P]` and col2im (scatter-add),
//!   or, where it measured faster, the forward convolution of `dy` with the flipped kernel;
//! - bias gradient: per-channel sums of `dy`.
//!
//! On maps no larger than the kernel (VGG-11's 2×2 layers) the layer is instead one dense
//! product over the whole batch, with no columns at all (see [`dense`]), and a ReLU that follows
//! the convolution can be fused into it ([`Activation`]).
//!
//! The batch is cut into chunks (see [`Chunking`]), so memory stays bounded (the columns are
//! rebuilt in the backward rather than kept from the forward) and columns stay in cache between
//! being written and being packed by the GEMM. The GEMMs are flex's own `float_matmul` (the
//! `gemm` crate; strided operands, so the transposes above are views) and the chunks run in
//! parallel on rayon. Every output element is computed by one thread in a fixed order, and the
//! weight-gradient chunks are summed in chunk order, so results are the same run to run.
//!
//! Scope: f32, groups 1, dilation 1, any stride, symmetric zero padding, with or without bias.
//! Anything else, and every backend other than `Autodiff<Flex>`, goes through Burn's own
//! `Conv2d::forward`. The functions on `FlexTensor` take the arguments of burn-backend's
//! `ModuleOps::conv2d` / `conv2d_x_backward` / `conv2d_weight_backward` /
//! `conv2d_bias_backward` and use only burn-flex's public API, so they could be proposed
//! upstream as burn-flex's implementations of those methods (delegating to the defaults for
//! the cases not covered), which would make the autodiff node below unnecessary.

use std::any::Any;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{ActivationOps, ConvOptions, FloatTensorOps};
use burn::tensor::{DType, Tensor, TensorData, TensorMetadata, TensorPrimitive};
use rayon::prelude::*;

/// The backend the training loop runs on the CPU (default checkpointing: none).
type Ad = Autodiff<Flex>;

/// How the batch is cut into chunks: at most `floats` im2col floats and about `pixels` output
/// pixels (GEMM columns) per chunk, at least one image.
///
/// Chunks bound the temporaries, and their size was tuned by CPU time on this project's 2-core
/// AMD EPYC (3×3 convs of the small CNN and VGG-11, batch 128): the gemm crate slows down once
/// N reaches tens of thousands (one [64, 288]·[288, 25 088] product took about twice as long as
/// 16 with N = 1 568), temporaries of several MiB are fresh pages on every call (page faults
/// were half the time of the small CNN's first conv at 64 images a chunk), and col2im and the
/// GEMM's packing run fastest on columns still in cache. The chunks are also what the threads
/// share out.
#[derive(Clone, Copy, Debug)]
struct Chunking {
    floats: usize,
    pixels: usize,
}

/// The forward pass and both input-gradient paths: 1 MiB of columns, 2048 pixels.
const SMALL: Chunking = Chunking {
    floats: 1 << 18,
    pixels: 2048,
};

/// The weight gradient: each chunk's product is a whole [K, C_out] matrix to write and then add
/// up, so fewer, larger chunks pay off where K·C_out is large (VGG's 256-channel convs at 2×2,
/// before they went [`dense`], took 18 ms at 4 MiB of columns, 33 ms at 512 KiB).
const LARGE: Chunking = Chunking {
    floats: 1 << 20,
    pixels: 4096,
};

/// What a convolution applies to its output: nothing, or a ReLU.
///
/// The models' conv → ReLU pairs run as one op on flex: the ReLU then costs no pass of its own
/// over the output in the forward, and no autodiff node. It is the same `max(0)` on the same
/// values and its backward is flex's own `relu_backward`, so the result equals conv followed by
/// `relu` bit for bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
}

impl Activation {
    fn apply(self, v: f32) -> f32 {
        match self {
            Self::Identity => v,
            Self::Relu => v.max(0.0),
        }
    }

    /// `act(y)` through Burn's own ops: the path of the layers this module does not cover.
    fn on_tensor<B: Backend>(self, y: Tensor<B, 4>) -> Tensor<B, 4> {
        match self {
            Self::Identity => y,
            Self::Relu => burn::tensor::activation::relu(y),
        }
    }
}

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

/// A tensor of the layer's backend as one of `T`'s, once the input showed that they are the
/// same backend (the layer's parameters and output share its input's).
pub(crate) fn cast<S: 'static, T: 'static>(value: S) -> T {
    same_type(value)
        .map_err(|_| std::any::type_name::<S>())
        .expect("a layer's tensors share its input's backend")
}

/// `value` as a `T` when `S` and `T` are the same type, else `value` back. How the layers pick
/// the flex path without a bound on `Net`'s backend: every generic caller keeps working.
pub(crate) fn same_type<S: 'static, T: 'static>(value: S) -> Result<T, S> {
    let mut slot = Some(value);
    if let Some(t) = (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take)
    {
        return Ok(t);
    }
    slot.map_or_else(
        || unreachable!("the slot is emptied only by a successful downcast"),
        Err,
    )
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

/// Whether this module's kernels cover a convolution of `x` [B, C_in, H, W] with `weight`
/// [C_out, C_in, kh, kw] (groups 1, dilation 1, stride ≥ 1, channels and a non-empty output).
pub fn supported(x: &[usize; 4], weight: &[usize; 4], options: &ConvOptions<2>) -> bool {
    let [_, cin, h, w] = *x;
    let [cout, wcin, kh, kw] = *weight;
    options.groups == 1
        && options.dilation == [1, 1]
        && options.stride.iter().all(|&s| s >= 1)
        && cin >= 1
        && cout >= 1
        && wcin == cin
        && kh >= 1
        && kw >= 1
        && h + 2 * options.padding[0] >= kh
        && w + 2 * options.padding[1] >= kw
}

/// `act` of conv2d on `Autodiff<Flex>` with this module's backward, or of Burn's own conv2d
/// where [`supported`] says no. Gradients flow to `x`, `weight` and `bias` as with Burn's.
pub fn conv2d<C: CheckpointStrategy>(
    x: Tensor<Autodiff<Flex, C>, 4>,
    weight: Tensor<Autodiff<Flex, C>, 4>,
    bias: Option<Tensor<Autodiff<Flex, C>, 1>>,
    options: ConvOptions<2>,
    act: Activation,
) -> Tensor<Autodiff<Flex, C>, 4> {
    if !supported(&x.dims(), &weight.dims(), &options) || x.dtype() != DType::F32 {
        return act.on_tensor(burn::tensor::module::conv2d(x, weight, bias, options));
    }
    let x = x.into_primitive().tensor();
    let weight = weight.into_primitive().tensor();
    let out = match bias {
        Some(bias) => {
            let bias = bias.into_primitive().tensor();
            match Conv2dBackward
                .prepare::<C>([x.node.clone(), weight.node.clone(), bias.node.clone()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let (xp, wp) = (x.primitive.clone(), weight.primitive.clone());
                    let y = conv2d_forward_with(
                        x.primitive,
                        weight.primitive,
                        Some(bias.primitive),
                        &options,
                        act,
                    );
                    prep.finish(state(xp, wp, options, act, &y), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(conv2d_forward_with(
                    x.primitive,
                    weight.primitive,
                    Some(bias.primitive),
                    &options,
                    act,
                )),
            }
        }
        None => match Conv2dNoBiasBackward
            .prepare::<C>([x.node.clone(), weight.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.primitive.clone(), weight.primitive.clone());
                let y = conv2d_forward_with(x.primitive, weight.primitive, None, &options, act);
                prep.finish(state(xp, wp, options, act, &y), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(conv2d_forward_with(
                x.primitive,
                weight.primitive,
                None,
                &options,
                act,
            )),
        },
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// The backward node: keeps the input and the weight (shared buffers, not copies), and the
/// output when a ReLU was fused in, and computes the gradients of the parents that need one.
#[derive(Debug)]
struct Conv2dBackward;

#[derive(Debug)]
struct Conv2dNoBiasBackward;

/// Input, weight, options, and the (post-ReLU) output when the ReLU's mask is to be applied.
type State = (FlexTensor, FlexTensor, ConvOptions<2>, Option<FlexTensor>);

fn state(
    x: FlexTensor,
    w: FlexTensor,
    o: ConvOptions<2>,
    act: Activation,
    y: &FlexTensor,
) -> State {
    (x, w, o, (act == Activation::Relu).then(|| y.clone()))
}

/// The gradient reaching the convolution itself: the fused ReLU's backward first, if any.
fn pre_activation(grad: FlexTensor, out: &Option<FlexTensor>) -> FlexTensor {
    match out {
        Some(y) => Flex::relu_backward(y.clone(), grad),
        None => grad,
    }
}

/// Registers the gradients of the input and the weight, for the nodes that want them.
fn register_x_and_weight(
    [node_x, node_w]: [Option<NodeId>; 2],
    (x, weight, options, _): State,
    grad: &FlexTensor,
    grads: &mut Gradients,
) {
    if let Some(node) = node_w {
        let dw = conv2d_weight_backward(x.clone(), weight.clone(), grad.clone(), &options);
        grads.register::<Flex>(node, dw);
    }
    if let Some(node) = node_x {
        grads.register::<Flex>(node, conv2d_x_backward(x, weight, grad.clone(), &options));
    }
}

impl Backward<Flex, 3> for Conv2dBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = pre_activation(grads.consume::<Flex>(&ops.node), &ops.state.3);
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, conv2d_bias_backward(grad.clone()));
        }
        let ids = [node_x.map(|n| n.id), node_w.map(|n| n.id)];
        register_x_and_weight(ids, ops.state, &grad, grads);
    }
}

impl Backward<Flex, 2> for Conv2dNoBiasBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = pre_activation(grads.consume::<Flex>(&ops.node), &ops.state.3);
        let ids = ops.parents.map(|n| n.map(|n| n.id));
        register_x_and_weight(ids, ops.state, &grad, grads);
    }
}

/// Sizes of one convolution, all in elements.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    ho: usize,
    wo: usize,
}

impl Geometry {
    fn new(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Self {
        let [batch, cin, h, w] = x.shape().dims::<4>();
        let [cout, wcin, kh, kw] = weight.shape().dims::<4>();
        assert!(
            supported(&[batch, cin, h, w], &[cout, wcin, kh, kw], options),
            "fast_conv: unsupported convolution {options:?} of {:?} with {:?} (check `supported` first)",
            [batch, cin, h, w],
            [cout, wcin, kh, kw]
        );
        let [sh, sw] = options.stride;
        let [ph, pw] = options.padding;
        Self {
            batch,
            cin,
            h,
            w,
            cout,
            kh,
            kw,
            stride: options.stride,
            pad: options.padding,
            ho: (h + 2 * ph - kh) / sh + 1,
            wo: (w + 2 * pw - kw) / sw + 1,
        }
    }

    /// Rows of the columns: one per (input channel, kernel row, kernel column).
    fn k(&self) -> usize {
        self.cin * self.kh * self.kw
    }

    /// Output pixels per image.
    fn p(&self) -> usize {
        self.ho * self.wo
    }

    /// Images per chunk.
    fn chunk(&self, c: Chunking) -> usize {
        let p = self.p().max(1);
        (c.floats / (self.k() * p))
            .min(c.pixels / p)
            .clamp(1, self.batch.max(1))
    }

    /// Output indices `o` in `0..out` whose input index `o·stride + offset` lies in `0..size`.
    fn valid(out: usize, stride: usize, offset: isize, size: usize) -> (usize, usize) {
        let (stride, size) = (stride as isize, size as isize);
        let lo = if offset >= 0 {
            0
        } else {
            (-offset + stride - 1) / stride
        };
        let hi = if size - offset <= 0 {
            0
        } else {
            (size - offset - 1) / stride + 1
        };
        let hi = (hi as usize).min(out);
        ((lo as usize).min(hi), hi)
    }

    fn rows(&self, i: usize) -> (usize, usize) {
        Self::valid(
            self.ho,
            self.stride[0],
            i as isize - self.pad[0] as isize,
            self.h,
        )
    }

    fn cols(&self, j: usize) -> (usize, usize) {
        Self::valid(
            self.wo,
            self.stride[1],
            j as isize - self.pad[1] as isize,
            self.w,
        )
    }
}

fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("fast_conv works on contiguous f32 tensors")
}

fn tensor<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

/// The weight as the [C_out, K] matrix the GEMMs use (K runs over (c, i, j) in the weight's
/// own memory order, so this is a view).
fn weight_matrix(weight: &FlexTensor, g: &Geometry) -> FlexTensor {
    weight.to_contiguous().reshape([g.cout, g.k()].into())
}

/// im2col of images `b0..b0 + n` of `x` (NCHW): [K, n·P], channel-major.
fn im2col(x: &[f32], g: &Geometry, b0: usize, n: usize) -> FlexTensor {
    let (p, hw) = (g.p(), g.h * g.w);
    let mut cols = vec![0.0f32; g.k() * n * p];
    for (row, dst) in cols.chunks_exact_mut(n * p).enumerate() {
        let (c, i, j) = (row / (g.kh * g.kw), row / g.kw % g.kh, row % g.kw);
        let (oh_lo, oh_hi) = g.rows(i);
        let (ow_lo, ow_hi) = g.cols(j);
        if oh_lo == oh_hi || ow_lo == ow_hi {
            continue; // all padding
        }
        for (bl, image) in dst.chunks_exact_mut(p).enumerate() {
            let plane = &x[((b0 + bl) * g.cin + c) * hw..][..hw];
            if g.stride == [1, 1] && g.wo == g.w {
                // Same-size stride-1 output: over the valid rows, output (oh, ow) reads input
                // offset (oh·W + ow) + (i − pad)·W + (j − pad), so the whole band is one copy
                // (one call instead of one per row); the columns that wrap into the
                // neighbouring row are zeroed after.
                let shift = (i as isize - g.pad[0] as isize) * g.w as isize + j as isize
                    - g.pad[1] as isize;
                let (mut d0, mut d1) = (oh_lo * g.w, oh_hi * g.w);
                // Clip to the plane: only wrapped (zeroed) positions fall outside it.
                d0 = d0.max((-shift).max(0) as usize);
                d1 = d1.min((hw as isize - shift) as usize);
                let s0 = (d0 as isize + shift) as usize;
                image[d0..d1].copy_from_slice(&plane[s0..s0 + (d1 - d0)]);
                for oh in oh_lo..oh_hi {
                    let r = &mut image[oh * g.wo..][..g.wo];
                    r[..ow_lo].fill(0.0);
                    r[ow_hi..].fill(0.0);
                }
            } else {
                for oh in oh_lo..oh_hi {
                    let ih = oh * g.stride[0] + i - g.pad[0];
                    let src = &plane[ih * g.w..][..g.w];
                    let out = &mut image[oh * g.wo..][ow_lo..ow_hi];
                    // ow_lo·s + j − pad ≥ 0 by construction of the valid range.
                    let iw0 = ow_lo * g.stride[1] + j - g.pad[1];
                    for (o, v) in out.iter_mut().zip(src[iw0..].iter().step_by(g.stride[1])) {
                        *o = *v;
                    }
                }
            }
        }
    }
    tensor(cols, [g.k(), n * p])
}

/// col2im: adds `dcols` [K, n·P] into the gradient `dx` [n, C_in, H, W] of those images.
fn col2im(dcols: &[f32], g: &Geometry, n: usize, dx: &mut [f32]) {
    let (p, hw) = (g.p(), g.h * g.w);
    for (plane_idx, plane) in dx.chunks_exact_mut(hw).enumerate() {
        let (bl, c) = (plane_idx / g.cin, plane_idx % g.cin);
        for i in 0..g.kh {
            let (oh_lo, oh_hi) = g.rows(i);
            for j in 0..g.kw {
                let (ow_lo, ow_hi) = g.cols(j);
                let row = (c * g.kh + i) * g.kw + j;
                let src = &dcols[row * n * p + bl * p..][..p];
                for oh in oh_lo..oh_hi {
                    let ih = oh * g.stride[0] + i - g.pad[0];
                    let from = &src[oh * g.wo..][ow_lo..ow_hi];
                    let iw0 = ow_lo * g.stride[1] + j - g.pad[1];
                    let to = &mut plane[ih * g.w..][..g.w];
                    for (d, s) in to[iw0..].iter_mut().step_by(g.stride[1]).zip(from) {
                        *d += *s;
                    }
                }
            }
        }
    }
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

/// Forward convolution: `x` [B, C_in, H, W], `weight` [C_out, C_in, kh, kw], `bias` [C_out]
/// → [B, C_out, H_out, W_out], as burn-backend's `ModuleOps::conv2d`.
///
/// # Panics
/// If [`supported`] is false for these shapes and options, or the tensors are not f32.
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

/// The output gradient of images `b0..b0 + n` as [C_out, n·P]: row co holds the images' planes
/// of channel co one after another, the column order of [`im2col`].
fn channel_major(grad: &[f32], g: &Geometry, b0: usize, n: usize) -> FlexTensor {
    let p = g.p();
    let mut dy = vec![0.0f32; g.cout * n * p];
    for (co, row) in dy.chunks_exact_mut(n * p).enumerate() {
        for (bl, dst) in row.chunks_exact_mut(p).enumerate() {
            dst.copy_from_slice(&grad[((b0 + bl) * g.cout + co) * p..][..p]);
        }
    }
    tensor(dy, [g.cout, n * p])
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

/// Convolutions on maps no larger than the kernel, as plain matrix products.
///
/// On such a map every output pixel's window covers most of the input plane, so the layer is
/// close to a fully connected one: the matrix `u[(co, q), (c, s)] = w[co, c, tap(q, s)]`, with
/// q an output pixel, s an input pixel and tap(q, s) the kernel tap that joins them (0 where s
/// is outside q's window), maps an image's C_in·H·W inputs to its C_out·P outputs. In NCHW an
/// image's input, output and their gradients are already rows of the products' operands:
///
/// - forward: `y[B, C_out·P] = x[B, C_in·H·W] · uᵀ`;
/// - input gradient: `dx[B, C_in·H·W] = dy[B, C_out·P] · u`;
/// - weight gradient: `du = dyᵀ · x`, each `du` entry added to the tap it belongs to.
///
/// That is H·W multiplications per output pixel and channel pair against im2col's kh·kw, most of
/// which multiply padding on small maps (16 against 36 on 2×2 maps), with no columns, col2im or
/// layout changes, and products of at least 128 on every side for VGG-11's 2×2 layers, where
/// gemm runs near its peak. Every sum has a fixed order, so results repeat run to run.
mod dense {
    use super::*;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ranges_keep_the_input_index_inside() {
        for stride in 1..4 {
            for offset in -3isize..4 {
                for size in 1..6 {
                    let out = 7;
                    let (lo, hi) = Geometry::valid(out, stride, offset, size);
                    for o in 0..out {
                        let i = o as isize * stride as isize + offset;
                        let inside = (0..size as isize).contains(&i);
                        assert_eq!(
                            inside,
                            (lo..hi).contains(&o),
                            "{stride} {offset} {size} {o}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn same_padding_matches_burn_nn() {
        assert_eq!(same_padding(3, 1, 28), (1, 1));
        assert_eq!(same_padding(5, 1, 9), (2, 2));
        // Even kernels pad more at the end: not covered, Conv2d::forward handles them.
        assert_eq!(same_padding(2, 1, 8), (0, 1));
        assert_eq!(same_padding(3, 2, 8), (0, 1));
    }
}

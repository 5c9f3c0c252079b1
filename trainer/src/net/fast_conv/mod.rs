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
//! The batch is cut into chunks (see [`geometry::Chunking`]), so memory stays bounded (the columns are
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
//!
//! Layout: [`dispatch`] picks the path for a layer, [`autodiff`] is the backward node,
//! [`gemm`] holds the four ops on `FlexTensor` over the columns of [`im2col`], [`dense`] the
//! products on small maps, and [`geometry`] the sizes and chunking they share.

mod activation;
mod autodiff;
mod dense;
mod dispatch;
mod gemm;
mod geometry;
mod im2col;

pub use activation::Activation;
pub use autodiff::conv2d;
pub use dispatch::forward;
pub use gemm::{
    conv2d_bias_backward, conv2d_forward, conv2d_forward_with, conv2d_weight_backward,
    conv2d_x_backward,
};
pub use geometry::supported;

//! The layouts the GEMMs read: im2col columns, channel-major output gradients, and col2im,
//! the scatter-add of column gradients back onto the input planes.

use burn::backend::flex::FlexTensor;

use super::geometry::{Geometry, tensor};

/// im2col of images `b0..b0 + n` of `x` (NCHW): [K, n·P], channel-major.
pub(super) fn im2col(x: &[f32], g: &Geometry, b0: usize, n: usize) -> FlexTensor {
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
pub(super) fn col2im(dcols: &[f32], g: &Geometry, n: usize, dx: &mut [f32]) {
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

/// The output gradient of images `b0..b0 + n` as [C_out, n·P]: row co holds the images' planes
/// of channel co one after another, the column order of [`im2col`].
pub(super) fn channel_major(grad: &[f32], g: &Geometry, b0: usize, n: usize) -> FlexTensor {
    let p = g.p();
    let mut dy = vec![0.0f32; g.cout * n * p];
    for (co, row) in dy.chunks_exact_mut(n * p).enumerate() {
        for (bl, dst) in row.chunks_exact_mut(p).enumerate() {
            dst.copy_from_slice(&grad[((b0 + bl) * g.cout + co) * p..][..p]);
        }
    }
    tensor(dy, [g.cout, n * p])
}

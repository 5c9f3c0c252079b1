//! The sizes of one convolution, the cases this module covers, how the batch is cut into
//! chunks, and the slices and tensors the kernels read and write.

use burn::backend::flex::FlexTensor;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{TensorData, TensorMetadata};

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
pub(super) struct Chunking {
    floats: usize,
    pixels: usize,
}

/// The forward pass and both input-gradient paths: 1 MiB of columns, 2048 pixels.
pub(super) const SMALL: Chunking = Chunking {
    floats: 1 << 18,
    pixels: 2048,
};

/// The weight gradient: each chunk's product is a whole [K, C_out] matrix to write and then add
/// up, so fewer, larger chunks pay off where K·C_out is large (VGG's 256-channel convs at 2×2,
/// before they went [`dense`](super::dense), took 18 ms at 4 MiB of columns, 33 ms at 512 KiB).
pub(super) const LARGE: Chunking = Chunking {
    floats: 1 << 20,
    pixels: 4096,
};

/// Sizes of one convolution, all in elements.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geometry {
    pub(super) batch: usize,
    pub(super) cin: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) cout: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) stride: [usize; 2],
    pub(super) pad: [usize; 2],
    pub(super) ho: usize,
    pub(super) wo: usize,
}

impl Geometry {
    pub(super) fn new(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Self {
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
    pub(super) fn k(&self) -> usize {
        self.cin * self.kh * self.kw
    }

    /// Output pixels per image.
    pub(super) fn p(&self) -> usize {
        self.ho * self.wo
    }

    /// Images per chunk.
    pub(super) fn chunk(&self, c: Chunking) -> usize {
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

    pub(super) fn rows(&self, i: usize) -> (usize, usize) {
        Self::valid(
            self.ho,
            self.stride[0],
            i as isize - self.pad[0] as isize,
            self.h,
        )
    }

    pub(super) fn cols(&self, j: usize) -> (usize, usize) {
        Self::valid(
            self.wo,
            self.stride[1],
            j as isize - self.pad[1] as isize,
            self.w,
        )
    }
}

pub(super) fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("fast_conv works on contiguous f32 tensors")
}

pub(super) fn tensor<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
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
}

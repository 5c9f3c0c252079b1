//! Thumbnail grids for the dataset page: one row per class, the first training images of each,
//! as a PNG. Feature datasets have no pixels to show and get [`ImportError::NotImages`].

use std::path::Path;

use image::ImageEncoder;
use image::codecs::png::PngEncoder;

use crate::import::{ImportError, Imported, SampleKind, Values};

/// Gap between cells and around the grid, in output pixels.
const PAD: usize = 2;
/// Background grey, so black images stand out from the gaps.
const BACKGROUND: u8 = 40;

/// A PNG with one row per class (in class order) of its first `per_class` training images,
/// each drawn `scale` times larger (nearest neighbour). Gray datasets give a gray PNG.
/// Float pixels are clamped to [0, 1]. `per_class` must be 1..=64 and `scale` 1..=16.
pub fn sample_grid_png(
    data: &Imported,
    per_class: usize,
    scale: usize,
) -> Result<Vec<u8>, ImportError> {
    let s = &data.summary;
    if s.kind != SampleKind::Images {
        return Err(ImportError::NotImages {
            what: format!("{} features per sample", s.shape[2]),
        });
    }
    if !(1..=64).contains(&per_class) || !(1..=16).contains(&scale) {
        return Err(ImportError::InvalidOption {
            name: "per_class/scale",
            reason: format!("{per_class}/{scale}: per_class must be 1..=64 and scale 1..=16"),
        });
    }
    let [c, h, w] = s.shape;
    let (cw, ch) = (w * scale, h * scale);
    let rows = s.class_names.len();
    let width = PAD + per_class * (cw + PAD);
    let height = PAD + rows * (ch + PAD);
    if width > 16384 || height > 16384 {
        return Err(ImportError::InvalidOption {
            name: "per_class/scale",
            reason: format!("the grid would be {width}×{height} pixels; ask for fewer or smaller"),
        });
    }
    let out_c = if c == 3 { 3 } else { 1 };
    let mut canvas = vec![BACKGROUND; width * height * out_c];
    let mut placed = vec![0usize; rows];
    let sample = c * h * w;
    let pixel = |i: usize| -> u8 {
        match &data.train.x {
            Values::U8(v) => v[i],
            Values::F32(v) => (v[i].clamp(0.0, 1.0) * 255.0).round() as u8,
        }
    };
    for (n, &label) in data.train.y.iter().enumerate() {
        let row = usize::from(label);
        if row >= rows || placed[row] >= per_class {
            continue;
        }
        let (x0, y0) = (PAD + placed[row] * (cw + PAD), PAD + row * (ch + PAD));
        placed[row] += 1;
        for y in 0..ch {
            for x in 0..cw {
                let at = ((y0 + y) * width + x0 + x) * out_c;
                for k in 0..out_c {
                    canvas[at + k] = pixel(n * sample + k * h * w + (y / scale) * w + x / scale);
                }
            }
        }
    }
    let mut png = Vec::new();
    let color = if out_c == 3 {
        image::ExtendedColorType::Rgb8
    } else {
        image::ExtendedColorType::L8
    };
    PngEncoder::new(&mut png)
        .write_image(&canvas, width as u32, height as u32, color)
        .map_err(|e| ImportError::InvalidOption {
            name: "thumbnail",
            reason: e.to_string(),
        })?;
    Ok(png)
}

/// [`sample_grid_png`] of a cache file.
pub fn sample_grid_png_from_cache(
    path: &Path,
    per_class: usize,
    scale: usize,
) -> Result<Vec<u8>, ImportError> {
    let data = crate::cache::read_cache_raw(path).map_err(|e| ImportError::Malformed {
        path: path.into(),
        reason: e.to_string(),
    })?;
    sample_grid_png(&data, per_class, scale)
}

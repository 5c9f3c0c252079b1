//! In-memory dataset operations: per-class subsets, channel statistics, normalisation, and the
//! random crop + flip augmentation applied to a batch.

use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{DataError, Dataset};

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// `k` images of every class, drawn without replacement by a ChaCha8 stream seeded with
    /// `seed`, kept in their original order (so the subset of a sorted set stays sorted, and
    /// the same seed always picks the same images).
    pub fn subset_per_class(&self, k: usize, seed: u64) -> Result<Dataset, DataError> {
        if k == 0 {
            return Err(DataError::Invalid(
                "a per-class subset needs at least one image per class".into(),
            ));
        }
        let per = self.image_len();
        if self.images.len() != self.labels.len() * per {
            return Err(DataError::Invalid(format!(
                "the dataset holds {} values, not {} labels × {per} pixels",
                self.images.len(),
                self.labels.len()
            )));
        }
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.num_classes];
        for (i, &label) in self.labels.iter().enumerate() {
            // Loaders reject out-of-range labels; a hand-built Dataset could still have them.
            let class = by_class.get_mut(usize::from(label)).ok_or_else(|| {
                DataError::Invalid(format!(
                    "image {i} has label {label} but the dataset has {} classes",
                    self.num_classes
                ))
            })?;
            class.push(i);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut chosen = Vec::with_capacity(k * self.num_classes);
        for (class, members) in by_class.iter().enumerate() {
            if members.len() < k {
                return Err(DataError::NotEnoughPerClass {
                    class,
                    name: self
                        .class_names
                        .get(class)
                        .cloned()
                        .unwrap_or_else(|| class.to_string()),
                    have: members.len(),
                    want: k,
                });
            }
            chosen.extend(
                index::sample(&mut rng, members.len(), k)
                    .into_iter()
                    .map(|j| members[j]),
            );
        }
        chosen.sort_unstable();
        let mut images = Vec::with_capacity(chosen.len() * per);
        for &i in &chosen {
            images.extend_from_slice(&self.images[i * per..(i + 1) * per]);
        }
        Ok(Dataset {
            images,
            labels: chosen.iter().map(|&i| self.labels[i]).collect(),
            shape: self.shape,
            num_classes: self.num_classes,
            class_names: self.class_names.clone(),
        })
    }

    /// Per-channel mean and (population) standard deviation over all images and pixels,
    /// accumulated in f64 so 50 000 CIFAR images don't lose precision. An empty dataset gives
    /// mean 0 and std 1, which makes `normalize` a no-op.
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let [c, h, w] = self.shape;
        let plane = h * w;
        let mut sum = vec![0.0f64; c];
        let mut sq = vec![0.0f64; c];
        if plane > 0 {
            for image in self.images.chunks_exact(c * plane) {
                for (ch, values) in image.chunks_exact(plane).enumerate() {
                    for &v in values {
                        sum[ch] += f64::from(v);
                        sq[ch] += f64::from(v) * f64::from(v);
                    }
                }
            }
        }
        let count = (self.images.len() / c.max(1)) as f64;
        if count == 0.0 {
            return (vec![0.0; c], vec![1.0; c]);
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        // max(0) because rounding can make E[x²] − E[x]² slightly negative for flat channels.
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| (s / count - m * m).max(0.0).sqrt() as f32)
            .collect();
        (mean.iter().map(|&m| m as f32).collect(), std)
    }

    /// `x ← (x − mean[c]) / std[c]` per channel. A channel whose std is zero (a constant channel)
    /// is only centred, since dividing would turn it into NaN; channels beyond the given slices
    /// are left as they are.
    pub fn normalize(&mut self, mean: &[f32], std: &[f32]) {
        let [c, h, w] = self.shape;
        let plane = h * w;
        if plane == 0 {
            return;
        }
        for image in self.images.chunks_exact_mut(c * plane) {
            for ((values, &m), &s) in image.chunks_exact_mut(plane).zip(mean).zip(std) {
                let inv = if s > f32::EPSILON { 1.0 / s } else { 1.0 };
                for v in values {
                    *v = (*v - m) * inv;
                }
            }
        }
    }
}

/// Training-time augmentation, as in the usual CIFAR recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Augment {
    /// Pad each side by this many zero pixels, then crop back to H×W at a random offset.
    pub crop_padding: usize,
    /// Mirror left–right with probability ½.
    pub hflip: bool,
}

/// Applies `aug` in place to every whole image in `images` (C·H·W each; a trailing partial
/// image is left alone). Draws, per image, the crop offsets then the flip, so a seeded `rng`
/// reproduces the batch exactly. Padding is with zeros; on normalised data that is the
/// channel mean rather than black, which keeps the padded border neutral.
pub fn augment_batch(images: &mut [f32], shape: [usize; 3], aug: &Augment, rng: &mut ChaCha8Rng) {
    let [c, h, w] = shape;
    let per = c * h * w;
    if per == 0 || (aug.crop_padding == 0 && !aug.hflip) {
        return;
    }
    let p = aug.crop_padding;
    let mut scratch = vec![0.0f32; per];
    for image in images.chunks_exact_mut(per) {
        // Offsets in the padded frame, 0..=2p; 0 shifts the content p pixels right/down.
        let (dy, dx) = if p > 0 {
            (rng.random_range(0..=2 * p), rng.random_range(0..=2 * p))
        } else {
            (p, p)
        };
        let flip = aug.hflip && rng.random_bool(0.5);
        if dy == p && dx == p && !flip {
            continue;
        }
        for ch in 0..c {
            for y in 0..h {
                let sy = (y + dy).checked_sub(p).filter(|&sy| sy < h);
                for x in 0..w {
                    // Flipping the crop's output equals cropping the flipped padded image.
                    let ox = if flip { w - 1 - x } else { x };
                    let sx = (ox + dx).checked_sub(p).filter(|&sx| sx < w);
                    scratch[(ch * h + y) * w + x] = match (sy, sx) {
                        (Some(sy), Some(sx)) => image[(ch * h + sy) * w + sx],
                        _ => 0.0,
                    };
                }
            }
        }
        image.copy_from_slice(&scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(labels: &[u8], shape: [usize; 3]) -> Dataset {
        let per: usize = shape.iter().product();
        Dataset {
            images: (0..labels.len() * per).map(|i| i as f32).collect(),
            labels: labels.to_vec(),
            shape,
            num_classes: 3,
            class_names: vec!["a".into(), "b".into(), "c".into()],
        }
    }

    #[test]
    fn subset_is_balanced_deterministic_and_ordered() {
        let labels: Vec<u8> = (0..60).map(|i| (i * 7 % 3) as u8).collect();
        let ds = toy(&labels, [1, 2, 2]);
        let a = ds.subset_per_class(4, 9).expect("enough");
        assert_eq!(a.len(), 12);
        for class in 0..3u8 {
            assert_eq!(a.labels.iter().filter(|&&l| l == class).count(), 4);
        }
        assert_eq!(a, ds.subset_per_class(4, 9).expect("enough"));
        assert_ne!(
            a.images,
            ds.subset_per_class(4, 10).expect("enough").images,
            "seed should matter"
        );
        // Images travel with their labels, in original order.
        let firsts: Vec<usize> = a.images.chunks(4).map(|im| im[0] as usize / 4).collect();
        assert!(firsts.windows(2).all(|p| p[0] < p[1]));
        for (idx, &l) in firsts.iter().zip(&a.labels) {
            assert_eq!(ds.labels[*idx], l);
        }
    }

    #[test]
    fn subset_errors_name_the_short_class() {
        let ds = toy(&[0, 0, 1, 1, 2], [1, 1, 1]);
        let err = ds.subset_per_class(2, 0).expect_err("class 2 has one");
        assert!(
            matches!(
                err,
                DataError::NotEnoughPerClass {
                    class: 2,
                    have: 1,
                    want: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("class 2 (c) has 1 images"),
            "{err}"
        );
        assert!(matches!(
            ds.subset_per_class(0, 0),
            Err(DataError::Invalid(_))
        ));
        let mut bad = ds.clone();
        bad.labels[0] = 7;
        assert!(matches!(
            bad.subset_per_class(1, 0),
            Err(DataError::Invalid(_))
        ));
    }

    #[test]
    fn stats_then_normalize_gives_zero_mean_unit_std() {
        let mut ds = toy(&[0, 1, 2, 0], [2, 3, 3]);
        let (mean, std) = ds.channel_stats();
        assert_eq!(mean.len(), 2);
        ds.normalize(&mean, &std);
        let (m2, s2) = ds.channel_stats();
        for ch in 0..2 {
            assert!(m2[ch].abs() < 1e-4, "{m2:?}");
            assert!((s2[ch] - 1.0).abs() < 1e-4, "{s2:?}");
        }
    }

    #[test]
    fn constant_channel_and_empty_set_stay_finite() {
        let mut ds = toy(&[0, 1], [1, 2, 2]);
        ds.images.iter_mut().for_each(|v| *v = 0.5);
        let (mean, std) = ds.channel_stats();
        assert_eq!((mean[0], std[0]), (0.5, 0.0));
        ds.normalize(&mean, &std);
        assert!(ds.images.iter().all(|&v| v == 0.0));
        let empty = toy(&[], [3, 4, 4]);
        assert_eq!(empty.channel_stats(), (vec![0.0; 3], vec![1.0; 3]));
    }

    #[test]
    fn flip_only_mirrors_rows() {
        let mut img: Vec<f32> = (0..2 * 2 * 3).map(|i| i as f32).collect();
        let orig = img.clone();
        let aug = Augment {
            crop_padding: 0,
            hflip: true,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen_flip = false;
        for _ in 0..20 {
            img.copy_from_slice(&orig);
            augment_batch(&mut img, [2, 2, 3], &aug, &mut rng);
            if img != orig {
                seen_flip = true;
                assert_eq!(&img[..3], &[2.0, 1.0, 0.0]);
                assert_eq!(&img[9..], &[11.0, 10.0, 9.0]);
            }
        }
        assert!(seen_flip);
    }

    #[test]
    fn crop_shifts_content_and_pads_with_zeros() {
        let (h, w, p) = (5usize, 5usize, 2usize);
        let orig: Vec<f32> = (0..h * w).map(|i| 1.0 + i as f32).collect();
        let aug = Augment {
            crop_padding: p,
            hflip: false,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut shifts = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut img = orig.clone();
            augment_batch(&mut img, [1, h, w], &aug, &mut rng);
            // The output is the source at one common shift, with zeros where that falls outside.
            let first = img
                .iter()
                .position(|&v| v != 0.0)
                .expect("a shift of at most p keeps content");
            let src = img[first] as usize - 1;
            let (oy, ox) = (
                (src / w) as isize - (first / w) as isize,
                (src % w) as isize - (first % w) as isize,
            );
            assert!(
                oy.unsigned_abs() <= p && ox.unsigned_abs() <= p,
                "shift ({oy}, {ox})"
            );
            for (i, &v) in img.iter().enumerate() {
                let (sy, sx) = ((i / w) as isize + oy, (i % w) as isize + ox);
                let inside = (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx);
                let want = if inside {
                    orig[sy as usize * w + sx as usize]
                } else {
                    0.0
                };
                assert_eq!(v, want, "pixel {i} under shift ({oy}, {ox})");
            }
            shifts.insert((oy, ox));
        }
        assert_eq!(
            shifts.len(),
            (2 * p + 1) * (2 * p + 1),
            "every offset should occur"
        );
    }

    #[test]
    fn augmentation_is_reproducible_per_seed() {
        let orig: Vec<f32> = (0..4 * 3 * 8 * 8).map(|i| (i % 17) as f32 + 1.0).collect();
        let aug = Augment {
            crop_padding: 4,
            hflip: true,
        };
        let run = |seed| {
            let mut v = orig.clone();
            augment_batch(
                &mut v,
                [3, 8, 8],
                &aug,
                &mut ChaCha8Rng::seed_from_u64(seed),
            );
            v
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
        let mut partial = orig[..100].to_vec();
        augment_batch(
            &mut partial,
            [3, 8, 8],
            &aug,
            &mut ChaCha8Rng::seed_from_u64(5),
        );
        assert_eq!(partial, orig[..100], "a partial image must be left alone");
    }
}

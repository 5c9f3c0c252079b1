//! The parts of shape inference that look past one layer: residual blocks with their
//! shortcuts, and the end of the network, which must give one value per class.

use super::{Counts, Shape, Walk, mul};
use crate::fields::net::layer_path;
use crate::layers::{LayerSpec, Shortcut};
use crate::limits;

impl Walk {
    /// A residual block: its layers as their own rows, then the block's row (the sum, and its
    /// shortcut's parameters).
    pub(super) fn residual(
        &mut self,
        layers: &[LayerSpec],
        shortcut: Shortcut,
        path: &[usize],
        depth: usize,
        input: Option<Shape>,
    ) -> Option<Shape> {
        let inner = depth + 1;
        if inner > limits::MAX_LAYER_DEPTH {
            self.report.push(
                &layer_path(path, Some("layers")),
                "a residual block cannot hold another residual block; put them one after the other",
            );
            return None;
        }
        if layers.is_empty() {
            self.report.push(
                &layer_path(path, Some("layers")),
                "a residual block needs at least one layer",
            );
            return None;
        }
        let mut input = input;
        if let Some(Shape::Vector { n }) = input {
            self.report.push(
                &layer_path(path, None),
                format!("a residual block works on images; it got a vector of {n}"),
            );
            input = None;
        }
        // The sum needs an image on both sides, so the block's own layers must keep one.
        for (j, l) in layers.iter().enumerate() {
            if matches!(
                l,
                LayerSpec::Flatten {} | LayerSpec::Linear { .. } | LayerSpec::GlobalAvgPool {}
            ) {
                self.report.push(
                    &layer_path(&[path, &[j]].concat(), None),
                    format!(
                        "a residual block's layers must keep an image; put {} after the block",
                        l.kind()
                    ),
                );
                input = None;
            }
        }
        let out = self.list(layers, path, inner, input);
        let (Some(x), Some(y)) = (input, out) else {
            return None;
        };
        let counts = self.shortcut(shortcut, path, x, y)?;
        self.row("residual", path, &counts);
        Some(y)
    }

    /// The shortcut from the block's input `x` to its layers' output `y`, and the block's
    /// counts: the addition, and the projection's convolution and batch norm.
    fn shortcut(
        &mut self,
        shortcut: Shortcut,
        path: &[usize],
        x: Shape,
        y: Shape,
    ) -> Option<Counts> {
        let (
            Shape::Image {
                c: ci,
                h: hi,
                w: wi,
            },
            Shape::Image {
                c: co,
                h: ho,
                w: wo,
            },
        ) = (x, y)
        else {
            return None;
        };
        let field = layer_path(path, Some("shortcut"));
        let add = Counts {
            out: y,
            params: 0,
            flops: y.floats(),
            activations: y.floats(),
        };
        if shortcut == Shortcut::Identity {
            if x != y {
                self.report.push(
                    &field,
                    format!(
                        "an identity shortcut needs the block to keep its input's shape {x}; \
                         its layers give {y}: use `projection` or `pad`"
                    ),
                );
                return None;
            }
            return Some(add);
        }
        // The shortcut subsamples by the block's stride: the sides must shrink by one whole
        // factor, the same along both.
        let whole_factor = ho > 0 && wo > 0 && hi % ho == 0 && wi % wo == 0 && hi / ho == wi / wo;
        if !whole_factor {
            self.report.push(
                &field,
                format!(
                    "the block turns {x} into {y}; a {} shortcut needs the sides to shrink by \
                     the same whole factor (the block's stride)",
                    name(shortcut)
                ),
            );
            return None;
        }
        match shortcut {
            Shortcut::Pad if co < ci => {
                self.report.push(
                    &field,
                    format!(
                        "a pad shortcut fills new channels with zeros, so it cannot go from {ci} \
                         channels down to {co}: use `projection`"
                    ),
                );
                None
            }
            Shortcut::Pad => Some(Counts {
                activations: add.activations.saturating_add(y.floats()),
                ..add
            }),
            _ => {
                let (ci, co) = (u64::from(ci), u64::from(co));
                Some(Counts {
                    out: y,
                    params: mul(&[co, ci]).saturating_add(2 * co),
                    // The 1×1 convolution, its batch norm, then the addition.
                    flops: mul(&[2, ci, y.floats()]).saturating_add(mul(&[3, y.floats()])),
                    activations: mul(&[3, y.floats()]),
                })
            }
        }
    }

    /// The network must end with a vector of one value per class.
    pub(super) fn check_end(&mut self, layers: &[LayerSpec], out: Shape, classes: u32) {
        let last = [layers.len().saturating_sub(1)];
        match out {
            Shape::Vector { n } if n == classes => {}
            Shape::Vector { n } => {
                let field = match layers.last() {
                    Some(LayerSpec::Linear { .. }) => Some("out"),
                    _ => None,
                };
                self.report.push(
                    &layer_path(&last, field),
                    format!(
                        "the network must end with {classes} values, one per class of the \
                         dataset; it ends with {n}"
                    ),
                );
            }
            Shape::Image { .. } => self.report.push(
                &layer_path(&last, None),
                format!(
                    "the network must end with a vector of {classes} class scores; it ends with \
                     a {out} image: add global_avg_pool (or flatten) and a linear layer of {classes}"
                ),
            ),
        }
    }
}

fn name(shortcut: Shortcut) -> &'static str {
    match shortcut {
        Shortcut::Identity => "identity",
        Shortcut::Projection => "projection",
        Shortcut::Pad => "pad",
    }
}

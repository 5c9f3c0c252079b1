//! Shape inference over a layer list: each layer's output shape, parameters, FLOPs and stored
//! activations, or every problem found, under the field paths the form shows them at. Pure
//! arithmetic, so the browser runs the same checks as the server and the memory plan
//! (`memory`) counts the same numbers as the model table.
//!
//! The counts, per example:
//! - parameters: conv k·k·c_in·c_out (+ c_out with bias); linear in·out (+ out with bias);
//!   batch norm 2 per channel or feature (γ, β; the running statistics are buffers, not
//!   parameters); a projection shortcut c_out·c_in + 2·c_out.
//! - FLOPs of the forward pass, 2 per multiply-add: conv 2·k·k·c_in·c_out·h_out·w_out
//!   (+ c_out·h_out·w_out with bias); linear 2·in·out (+ out); batch norm 2 per value (scale
//!   and shift); an activation or dropout 1 per value; max and average pooling k·k per output
//!   value; global average pooling 1 per input value; flatten 0; a residual block 1 per output
//!   value for the addition, plus its projection (a 1×1 conv and a batch norm).
//! - activations: the floats each layer outputs, which is roughly what autodiff keeps for the
//!   backward pass; flatten outputs a view of its input and counts 0. The model's total adds
//!   the input, which the first layer keeps.

use std::fmt;

use schedule::FieldError;

use crate::fields::net::{self as f, layer_path};
use crate::layers::LayerSpec;
use crate::limits;
use crate::validation::report::Report;

mod residual;
#[cfg(test)]
mod tests;

/// What flows between layers: an image [channels, height, width], or a vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    Image { c: u32, h: u32, w: u32 },
    Vector { n: u32 },
}

impl Shape {
    /// How many floats one example of this shape holds.
    pub fn floats(&self) -> u64 {
        match *self {
            Self::Image { c, h, w } => mul(&[c.into(), h.into(), w.into()]),
            Self::Vector { n } => n.into(),
        }
    }

    /// Channels of an image, features of a vector: what batch norm normalises over.
    fn features(&self) -> u64 {
        match *self {
            Self::Image { c, .. } => c.into(),
            Self::Vector { n } => n.into(),
        }
    }
}

impl fmt::Display for Shape {
    /// "32×16×16" for an image, "256" for a vector.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Image { c, h, w } => write!(out, "{c}×{h}×{w}"),
            Self::Vector { n } => write!(out, "{n}"),
        }
    }
}

/// One layer of the model table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRow {
    /// Its index, outer first: `[3, 1]` is layer 1 inside residual block 3.
    pub path: Vec<usize>,
    /// As written in the spec (`"conv"`).
    pub kind: &'static str,
    pub output: Shape,
    pub params: u64,
    /// Forward FLOPs per example (see the module's documentation).
    pub flops: u64,
    /// Floats stored for the backward pass, per example.
    pub activations: u64,
}

/// A layer list that fits its input: a row per layer (a residual block's layers, then the
/// block's own row with its shortcut's share) and the totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelShape {
    pub rows: Vec<LayerRow>,
    pub params: u64,
    /// Forward FLOPs per example (multiply-adds count 2).
    pub flops: u64,
    /// Floats stored for the backward pass per example: the input and every layer's output.
    pub activations: u64,
    pub output: Shape,
}

/// Runs `layers` on an input of shape [c, h, w] for a dataset of `classes` classes: the model
/// table, or every problem found (a layer's settings out of range, a layer its input cannot
/// feed, a network that does not end in `classes` values).
pub fn infer(
    layers: &[LayerSpec],
    input: [u32; 3],
    classes: u32,
) -> Result<ModelShape, Vec<FieldError>> {
    let mut walk = Walk::default();
    if !walk.list_fits(layers) {
        return Err(walk.report.into_errors());
    }
    let [c, h, w] = input;
    let start = Shape::Image { c, h, w };
    if input.contains(&0) {
        walk.report.push(
            f::DATASET,
            format!("the input {start} holds no values; the model needs a dataset of images"),
        );
    }
    let output = walk.list(layers, &[], 0, Some(start).filter(|s| s.floats() > 0));
    if let Some(out) = output {
        walk.check_end(layers, out, classes);
    }
    let (rows, errors) = (walk.rows, walk.report.into_errors());
    match output {
        Some(output) if errors.is_empty() => Ok(ModelShape {
            params: rows.iter().fold(0, |t, r| t.saturating_add(r.params)),
            flops: rows.iter().fold(0, |t, r| t.saturating_add(r.flops)),
            activations: rows
                .iter()
                .fold(start.floats(), |t, r| t.saturating_add(r.activations)),
            rows,
            output,
        }),
        _ => Err(errors),
    }
}

/// The checks that need no input shape (every setting in range, the list's size and depth),
/// for a model whose dataset is not known yet.
pub fn check_settings(layers: &[LayerSpec]) -> Result<(), Vec<FieldError>> {
    let mut walk = Walk::default();
    if walk.list_fits(layers) {
        walk.list(layers, &[], 0, None);
    }
    walk.report.finish()
}

/// A product of counts, saturating: a model too large to count is refused by its limits or by
/// the memory plan, never by an overflow.
fn mul(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |t, &x| t.saturating_mul(x))
}

/// Layers in a list, nested ones included, descending no deeper than a list may nest (deeper
/// blocks are refused anyway, and the count must not recurse without bound).
fn count_layers(layers: &[LayerSpec], depth: usize) -> usize {
    layers.iter().fold(0usize, |t, l| {
        let inner = match l {
            LayerSpec::Residual { layers, .. } if depth < limits::MAX_LAYER_DEPTH => {
                count_layers(layers, depth + 1)
            }
            _ => 0,
        };
        t.saturating_add(1).saturating_add(inner)
    })
}

/// What one layer adds to the table.
struct Counts {
    out: Shape,
    params: u64,
    flops: u64,
    activations: u64,
}

#[derive(Default)]
struct Walk {
    report: Report,
    rows: Vec<LayerRow>,
}

impl Walk {
    /// The list as a whole: not empty, not too long.
    fn list_fits(&mut self, layers: &[LayerSpec]) -> bool {
        let total = count_layers(layers, 0);
        if layers.is_empty() {
            self.report
                .push(f::MODEL_LAYERS, "a model needs at least one layer");
        } else if total > limits::MAX_LAYERS {
            self.report.push(
                f::MODEL_LAYERS,
                format!(
                    "at most {} layers, counting those inside residual blocks; this model has {total}",
                    limits::MAX_LAYERS
                ),
            );
        }
        !layers.is_empty() && total <= limits::MAX_LAYERS
    }

    /// The layers of one list in order; `input` is `None` once the shape is unknown (no
    /// dataset facts, or an earlier error), and then only the settings are checked.
    fn list(
        &mut self,
        layers: &[LayerSpec],
        prefix: &[usize],
        depth: usize,
        mut shape: Option<Shape>,
    ) -> Option<Shape> {
        for (i, layer) in layers.iter().enumerate() {
            let path = [prefix, &[i]].concat();
            shape = match layer {
                LayerSpec::Residual { layers, shortcut } => {
                    self.residual(layers, *shortcut, &path, depth, shape)
                }
                _ => {
                    let settings_ok = self.settings(layer, &path);
                    match shape {
                        Some(input) if settings_ok => self.layer(layer, &path, input),
                        _ => None,
                    }
                }
            };
        }
        shape
    }

    /// Every setting of a layer in range; whether they all were.
    fn settings(&mut self, layer: &LayerSpec, path: &[usize]) -> bool {
        let before = self.report.len();
        let mut range = |field: &str, v: u32, lo: u32, hi: u32| {
            if !(lo..=hi).contains(&v) {
                self.report.push(
                    &layer_path(path, Some(field)),
                    format!("must be between {lo} and {hi}"),
                );
            }
        };
        match *layer {
            LayerSpec::Conv {
                out,
                kernel,
                stride,
                padding,
                ..
            } => {
                range("out", out, 1, limits::MAX_WIDTH);
                range("kernel", kernel, 1, limits::MAX_KERNEL);
                range("stride", stride, 1, limits::MAX_STRIDE);
                range("padding", padding, 0, limits::MAX_PADDING);
            }
            LayerSpec::MaxPool { kernel, stride } | LayerSpec::AvgPool { kernel, stride } => {
                range("kernel", kernel, 1, limits::MAX_KERNEL);
                if let Some(s) = stride {
                    range("stride", s, 1, limits::MAX_STRIDE);
                }
            }
            LayerSpec::Linear { out, .. } => range("out", out, 1, limits::MAX_WIDTH),
            LayerSpec::Dropout { p } if !(p.is_finite() && (0.0..1.0).contains(&p)) => {
                self.report.push(
                    &layer_path(path, Some("p")),
                    "must be at least 0 and less than 1",
                );
            }
            _ => {}
        }
        self.report.len() == before
    }

    /// A layer other than a residual block, on a known input with its settings in range: its
    /// row and output, or an error at its path.
    fn layer(&mut self, layer: &LayerSpec, path: &[usize], input: Shape) -> Option<Shape> {
        let counts = match (layer, input) {
            (LayerSpec::Conv { .. }, _) => self.conv(layer, path, input),
            (LayerSpec::MaxPool { kernel, stride } | LayerSpec::AvgPool { kernel, stride }, _) => {
                self.pool(*kernel, stride.unwrap_or(*kernel), path, input)
            }
            (LayerSpec::Linear { out, bias }, _) => self.linear(*out, *bias, path, input),
            (LayerSpec::GlobalAvgPool {}, Shape::Image { c, .. }) => Some(Counts {
                out: Shape::Vector { n: c },
                params: 0,
                flops: input.floats(),
                activations: c.into(),
            }),
            (LayerSpec::Flatten {}, Shape::Image { .. }) => match u32::try_from(input.floats()) {
                Ok(n) => Some(Counts {
                    out: Shape::Vector { n },
                    params: 0,
                    flops: 0,
                    activations: 0,
                }),
                Err(_) => {
                    self.report.push(
                        &layer_path(path, None),
                        format!("flattening a {input} image gives too many values"),
                    );
                    None
                }
            },
            (LayerSpec::GlobalAvgPool {} | LayerSpec::Flatten {}, Shape::Vector { n }) => {
                self.report.push(
                    &layer_path(path, None),
                    format!(
                        "{} turns an image into a vector; it got a vector of {n} already",
                        layer.kind()
                    ),
                );
                None
            }
            (LayerSpec::BatchNorm {}, _) => Some(Counts {
                out: input,
                params: 2 * input.features(),
                flops: mul(&[2, input.floats()]),
                activations: input.floats(),
            }),
            // Activations and dropout keep the shape, at one operation per value.
            _ => Some(Counts {
                out: input,
                params: 0,
                flops: input.floats(),
                activations: input.floats(),
            }),
        }?;
        self.row(layer.kind(), path, &counts);
        Some(counts.out)
    }

    fn row(&mut self, kind: &'static str, path: &[usize], c: &Counts) {
        self.rows.push(LayerRow {
            path: path.to_vec(),
            kind,
            output: c.out,
            params: c.params,
            flops: c.flops,
            activations: c.activations,
        });
    }

    fn conv(&mut self, layer: &LayerSpec, path: &[usize], input: Shape) -> Option<Counts> {
        let LayerSpec::Conv {
            out,
            kernel: k,
            stride,
            padding: p,
            bias,
        } = *layer
        else {
            return None;
        };
        let Shape::Image { c, h, w } = input else {
            self.report.push(
                &layer_path(path, None),
                format!("a convolution needs an image; it got a vector of {input}"),
            );
            return None;
        };
        // In u64: h + 2p cannot overflow there, and the settings bound k, p and stride ≥ 1.
        let (h2, w2) = (
            u64::from(h) + 2 * u64::from(p),
            u64::from(w) + 2 * u64::from(p),
        );
        if h2 < k.into() || w2 < k.into() {
            let need = k.saturating_sub(2 * p).max(1);
            self.report.push(
                &layer_path(path, Some("kernel")),
                format!(
                    "a {k}×{k} kernel does not fit the {h}×{w} input (padding {p}); \
                     it needs an input of at least {need}×{need}"
                ),
            );
            return None;
        }
        let side = |x: u64| u32::try_from((x - u64::from(k)) / u64::from(stride) + 1).ok();
        let (Some(ho), Some(wo)) = (side(h2), side(w2)) else {
            self.report.push(
                &layer_path(path, None),
                format!("the {h}×{w} input is too large"),
            );
            return None;
        };
        let out_shape = Shape::Image {
            c: out,
            h: ho,
            w: wo,
        };
        let (k, cin, cout) = (u64::from(k), u64::from(c), u64::from(out));
        let positions = mul(&[ho.into(), wo.into()]);
        let bias = u64::from(bias);
        Some(Counts {
            out: out_shape,
            params: mul(&[k, k, cin, cout]).saturating_add(bias * cout),
            flops: mul(&[2, k, k, cin, cout, positions])
                .saturating_add(mul(&[bias, cout, positions])),
            activations: out_shape.floats(),
        })
    }

    fn pool(&mut self, k: u32, stride: u32, path: &[usize], input: Shape) -> Option<Counts> {
        let Shape::Image { c, h, w } = input else {
            self.report.push(
                &layer_path(path, None),
                format!("pooling needs an image; it got a vector of {input}"),
            );
            return None;
        };
        if h < k || w < k {
            self.report.push(
                &layer_path(path, Some("kernel")),
                format!(
                    "a {k}×{k} window does not fit the {h}×{w} input; \
                     it needs an input of at least {k}×{k}"
                ),
            );
            return None;
        }
        let out = Shape::Image {
            c,
            h: (h - k) / stride + 1,
            w: (w - k) / stride + 1,
        };
        Some(Counts {
            out,
            params: 0,
            flops: mul(&[k.into(), k.into(), out.floats()]),
            activations: out.floats(),
        })
    }

    fn linear(&mut self, out: u32, bias: bool, path: &[usize], input: Shape) -> Option<Counts> {
        let Shape::Vector { n } = input else {
            self.report.push(
                &layer_path(path, None),
                format!(
                    "a linear layer takes a vector; it got a {input} image: \
                     add flatten or global_avg_pool before it"
                ),
            );
            return None;
        };
        let (n, o, bias) = (u64::from(n), u64::from(out), u64::from(bias));
        Some(Counts {
            out: Shape::Vector { n: out },
            params: mul(&[n, o]).saturating_add(bias * o),
            flops: mul(&[2, n, o]).saturating_add(bias * o),
            activations: o,
        })
    }
}

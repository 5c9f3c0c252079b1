//! The networks, built at run time from a layer list (`experiment::LayerSpec`): the image
//! layers before the first flatten or global pooling are `Net::features`, the vector layers
//! after it `Net::head`. The built-in kinds (MLP, small CNN, VGG-11) are layer lists too
//! (`ModelSpec::to_layers`), and build to the same modules, in the same order, as when they
//! were written by hand, so their checkpoints still load.

use std::collections::HashSet;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Gelu, Linear, LinearConfig,
    PaddingConfig2d, Relu, Tanh,
};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use experiment::{LayerSpec, ModelSpec, Shortcut};

use super::fast_conv::{self, Activation};
use super::{fast_norm, fast_pool};

/// SiLU, x·σ(x) (Burn has the function but no layer).
#[derive(Module, Clone, Debug, Default)]
pub struct Silu;

/// Layers that see images [b, c, h, w]. New kinds go at the end: a checkpoint names a
/// layer's variant, and the old ones must keep reading.
#[derive(Module, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "a network holds a handful of layers; boxing buys nothing"
)]
pub enum Feature<B: Backend> {
    Conv(Conv2d<B>),
    Norm(BatchNorm<B>),
    Pool(MaxPool2d),
    Relu(Relu),
    AvgPool(AvgPool2d),
    Gelu(Gelu),
    Silu(Silu),
    Tanh(Tanh),
    Dropout(Dropout),
    /// Global average pooling: the last image layer, [b, c, h, w] → [b, c, 1, 1].
    GlobalPool(GlobalPool),
    Residual(Residual<B>),
}

/// The input as is (a residual block's plain shortcut).
#[derive(Module, Clone, Debug, Default)]
pub struct Identity;

/// The mean of each channel over the image.
#[derive(Module, Clone, Debug, Default)]
pub struct GlobalPool;

/// y = layers(x) + shortcut(x).
#[derive(Module, Debug)]
pub struct Residual<B: Backend> {
    pub layers: Vec<Block<B>>,
    pub shortcut: ShortcutPath<B>,
}

/// The layers inside a residual block: the image layers other than blocks (Burn's derived
/// records cannot be recursive, so blocks do not nest).
#[derive(Module, Debug)]
pub enum Block<B: Backend> {
    Conv(Conv2d<B>),
    Norm(BatchNorm<B>),
    Pool(MaxPool2d),
    Relu(Relu),
    AvgPool(AvgPool2d),
    Gelu(Gelu),
    Silu(Silu),
    Tanh(Tanh),
    Dropout(Dropout),
}

/// An image layer, whichever list holds it: what the forward pass walks.
enum LayerRef<'a, B: Backend> {
    Conv(&'a Conv2d<B>),
    Norm(&'a BatchNorm<B>),
    Pool(&'a MaxPool2d),
    Relu,
    AvgPool(&'a AvgPool2d),
    Gelu,
    Silu,
    Tanh,
    Dropout(&'a Dropout),
    GlobalPool,
    Residual(&'a Residual<B>),
}

impl<B: Backend> Feature<B> {
    fn view(&self) -> LayerRef<'_, B> {
        match self {
            Self::Conv(c) => LayerRef::Conv(c),
            Self::Norm(n) => LayerRef::Norm(n),
            Self::Pool(p) => LayerRef::Pool(p),
            Self::Relu(_) => LayerRef::Relu,
            Self::AvgPool(p) => LayerRef::AvgPool(p),
            Self::Gelu(_) => LayerRef::Gelu,
            Self::Silu(_) => LayerRef::Silu,
            Self::Tanh(_) => LayerRef::Tanh,
            Self::Dropout(d) => LayerRef::Dropout(d),
            Self::GlobalPool(_) => LayerRef::GlobalPool,
            Self::Residual(r) => LayerRef::Residual(r),
        }
    }
}

impl<B: Backend> Block<B> {
    fn view(&self) -> LayerRef<'_, B> {
        match self {
            Self::Conv(c) => LayerRef::Conv(c),
            Self::Norm(n) => LayerRef::Norm(n),
            Self::Pool(p) => LayerRef::Pool(p),
            Self::Relu(_) => LayerRef::Relu,
            Self::AvgPool(p) => LayerRef::AvgPool(p),
            Self::Gelu(_) => LayerRef::Gelu,
            Self::Silu(_) => LayerRef::Silu,
            Self::Tanh(_) => LayerRef::Tanh,
            Self::Dropout(d) => LayerRef::Dropout(d),
        }
    }
}

/// How a residual block's input reaches the addition.
#[derive(Module, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per residual block; boxing buys nothing"
)]
pub enum ShortcutPath<B: Backend> {
    Identity(Identity),
    /// 1×1 convolution with the block's stride, then batch norm.
    Projection(Projection<B>),
    /// Subsampled by the stride, new channels zero (split evenly before and after the old
    /// ones, as the reference CIFAR ResNets do).
    Pad(PadShortcut),
}

#[derive(Module, Debug)]
pub struct Projection<B: Backend> {
    pub conv: Conv2d<B>,
    pub norm: BatchNorm<B>,
}

#[derive(Module, Clone, Debug)]
pub struct PadShortcut {
    pub stride: usize,
    pub channels: usize,
}

/// Layers that see flat vectors [b, f]; as with [`Feature`], new kinds at the end.
#[derive(Module, Debug)]
pub enum Head<B: Backend> {
    Linear(Linear<B>),
    Relu(Relu),
    Dropout(Dropout),
    Norm(BatchNorm<B>),
    Gelu(Gelu),
    Silu(Silu),
    Tanh(Tanh),
}

#[derive(Module, Debug)]
pub struct Net<B: Backend> {
    pub features: Vec<Feature<B>>,
    pub head: Vec<Head<B>>,
}

impl<B: Backend> Net<B> {
    /// Logits for a batch of images: [b, c, h, w] → [b, classes].
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = features_forward(self.features.iter().map(Feature::view), x);
        self.head_from(x.flatten(1, 3), 0)
    }

    /// The ids of batch norm's running statistics: visited like parameters by Burn, but
    /// not trained (see `flat`).
    pub fn running_state_ids(&self) -> HashSet<ParamId> {
        let mut ids = Ids(HashSet::new());
        for n in self.norms() {
            n.running_mean.visit(&mut ids);
            n.running_var.visit(&mut ids);
        }
        ids.0
    }

    /// Every batch norm layer, in order: in the features, inside residual blocks and their
    /// projection shortcuts, and in the head.
    pub fn norms(&self) -> Vec<&BatchNorm<B>> {
        let mut out = Vec::new();
        for f in &self.features {
            match f {
                Feature::Norm(n) => out.push(n),
                Feature::Residual(r) => {
                    out.extend(r.layers.iter().filter_map(|b| match b {
                        Block::Norm(n) => Some(n),
                        _ => None,
                    }));
                    if let ShortcutPath::Projection(p) = &r.shortcut {
                        out.push(&p.norm);
                    }
                }
                _ => {}
            }
        }
        out.extend(self.head.iter().filter_map(|h| match h {
            Head::Norm(n) => Some(n),
            _ => None,
        }));
        out
    }

    /// [`Self::norms`], to change their settings (momentum).
    pub fn norms_mut(&mut self) -> Vec<&mut BatchNorm<B>> {
        let mut out = Vec::new();
        for f in &mut self.features {
            match f {
                Feature::Norm(n) => out.push(n),
                Feature::Residual(r) => {
                    out.extend(r.layers.iter_mut().filter_map(|b| match b {
                        Block::Norm(n) => Some(n),
                        _ => None,
                    }));
                    if let ShortcutPath::Projection(p) = &mut r.shortcut {
                        out.push(&mut p.norm);
                    }
                }
                _ => {}
            }
        }
        out.extend(self.head.iter_mut().filter_map(|h| match h {
            Head::Norm(n) => Some(n),
            _ => None,
        }));
        out
    }

    /// Parameters that training changes (Burn's `num_params` also counts batch norm's
    /// running statistics).
    pub fn trainable_params(&self) -> usize {
        let skip = self.running_state_ids();
        let mut count = Count { n: 0, skip };
        self.visit(&mut count);
        count.n
    }

    /// The head's layers from `start` on, applied to flat activations.
    pub fn head_from(&self, h: Tensor<B, 2>, start: usize) -> Tensor<B, 2> {
        let mut h = h;
        let mut layers = self.head.iter().skip(start).peekable();
        while let Some(l) = layers.next() {
            h = match l {
                Head::Linear(lin) => lin.forward(h),
                Head::Relu(r) => r.forward(h),
                Head::Dropout(d) => d.forward(h),
                Head::Norm(n) => {
                    let act = fused_relu(layers.next_if(|l| matches!(l, Head::Relu(_))));
                    fast_norm::forward_flat(n, h, act)
                }
                Head::Gelu(g) => g.forward(h),
                Head::Silu(_) => burn::tensor::activation::silu(h),
                Head::Tanh(t) => t.forward(h),
            };
        }
        h
    }
}

struct Ids(HashSet<ParamId>);

impl<B: Backend> ModuleVisitor<B> for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.insert(param.id);
    }
}

struct Count {
    n: usize,
    skip: HashSet<ParamId>,
}

impl<B: Backend> ModuleVisitor<B> for Count {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if !self.skip.contains(&param.id) {
            self.n += param.shape().num_elements();
        }
    }
}

fn fused_relu<T>(next: Option<T>) -> Activation {
    match next {
        Some(_) => Activation::Relu,
        None => Activation::Identity,
    }
}

/// The image layers in order. Own kernels on the CPU backend (Burn's everywhere else), same
/// parameters; a conv or a batch norm and the ReLU right after it run as one op.
fn features_forward<'a, B: Backend + 'a>(
    layers: impl Iterator<Item = LayerRef<'a, B>>,
    x: Tensor<B, 4>,
) -> Tensor<B, 4> {
    let mut x = x;
    let mut layers = layers.peekable();
    while let Some(f) = layers.next() {
        x = match f {
            LayerRef::Conv(c) => {
                let act = fused_relu(layers.next_if(|l| matches!(l, LayerRef::Relu)));
                fast_conv::forward(c, x, act)
            }
            LayerRef::Norm(n) => {
                let act = fused_relu(layers.next_if(|l| matches!(l, LayerRef::Relu)));
                fast_norm::forward(n, x, act)
            }
            LayerRef::Pool(p) => fast_pool::forward(p, x),
            LayerRef::Relu => burn::tensor::activation::relu(x),
            LayerRef::AvgPool(p) => p.forward(x),
            LayerRef::Gelu => burn::tensor::activation::gelu(x),
            LayerRef::Silu => burn::tensor::activation::silu(x),
            LayerRef::Tanh => burn::tensor::activation::tanh(x),
            LayerRef::Dropout(d) => d.forward(x),
            LayerRef::GlobalPool => x.mean_dim(3).mean_dim(2),
            LayerRef::Residual(r) => {
                let shortcut = match &r.shortcut {
                    ShortcutPath::Identity(_) => x.clone(),
                    ShortcutPath::Projection(p) => {
                        let y = fast_conv::forward(&p.conv, x.clone(), Activation::Identity);
                        fast_norm::forward(&p.norm, y, Activation::Identity)
                    }
                    ShortcutPath::Pad(p) => pad_shortcut(x.clone(), p.stride, p.channels),
                };
                features_forward(r.layers.iter().map(Block::view), x).add(shortcut)
            }
        };
    }
    x
}

/// x[:, :, ::s, ::s] with zero channels around it up to `channels` (He et al.'s option A).
fn pad_shortcut<B: Backend>(x: Tensor<B, 4>, s: usize, channels: usize) -> Tensor<B, 4> {
    let [b, c, h, w] = x.dims();
    let x = if s > 1 {
        let (ho, wo) = (h.div_ceil(s), w.div_ceil(s));
        // Pad to a multiple of s, then keep the first of every s×s cell.
        let x = if ho * s != h || wo * s != w {
            let padded = Tensor::zeros([b, c, ho * s, wo * s], &x.device());
            padded.slice_assign([0..b, 0..c, 0..h, 0..w], x)
        } else {
            x
        };
        x.reshape([b * c * ho, s, wo * s])
            .narrow(1, 0, 1)
            .reshape([b * c * ho, wo, s])
            .narrow(2, 0, 1)
            .reshape([b, c, ho, wo])
    } else {
        x
    };
    let extra = channels.saturating_sub(c);
    if extra == 0 {
        return x;
    }
    let [b, _, ho, wo] = x.dims();
    let before = extra / 2;
    let device = x.device();
    let mut parts = Vec::with_capacity(3);
    if before > 0 {
        parts.push(Tensor::zeros([b, before, ho, wo], &device));
    }
    parts.push(x);
    parts.push(Tensor::zeros([b, extra - before, ho, wo], &device));
    Tensor::cat(parts, 1)
}

/// Builds the network for images of `shape` = [c, h, w] and `classes` outputs. The spec was
/// validated (`experiment`'s shape inference), so every layer fits its input.
pub fn build<B: Backend>(
    spec: &ModelSpec,
    shape: [usize; 3],
    classes: usize,
    device: &B::Device,
) -> Net<B> {
    let layers = spec.to_layers(u32::try_from(classes).unwrap_or(u32::MAX));
    let mut at = Image::from(shape);
    let split = layers
        .iter()
        .position(|l| matches!(l, LayerSpec::Flatten {} | LayerSpec::GlobalAvgPool {}))
        .unwrap_or(layers.len());
    let mut features = build_features(&layers[..split], &mut at, device);
    let mut width = at.c * at.h * at.w;
    if let Some(LayerSpec::GlobalAvgPool {}) = layers.get(split) {
        features.push(Feature::GlobalPool(GlobalPool));
        width = at.c;
    }
    let mut head = Vec::new();
    for l in layers.iter().skip(split + 1) {
        head.push(match l {
            LayerSpec::Linear { out, bias } => {
                let lin = LinearConfig::new(width, *out as usize)
                    .with_bias(*bias)
                    .init(device);
                width = *out as usize;
                Head::Linear(lin)
            }
            LayerSpec::BatchNorm {} => Head::Norm(BatchNormConfig::new(width).init(device)),
            LayerSpec::Relu {} => Head::Relu(Relu::new()),
            LayerSpec::Gelu {} => Head::Gelu(Gelu::new()),
            LayerSpec::Silu {} => Head::Silu(Silu),
            LayerSpec::Tanh {} => Head::Tanh(Tanh::new()),
            LayerSpec::Dropout { p } => Head::Dropout(DropoutConfig::new(*p).init()),
            // Validation keeps image layers out of the head; a second flatten is a no-op.
            _ => continue,
        });
    }
    Net { features, head }
}

/// The shape of the images flowing through the feature layers while they are built.
#[derive(Clone, Copy)]
struct Image {
    c: usize,
    h: usize,
    w: usize,
}

impl From<[usize; 3]> for Image {
    fn from([c, h, w]: [usize; 3]) -> Self {
        Self { c, h, w }
    }
}

fn out_side(side: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (side + 2 * padding).saturating_sub(kernel) / stride.max(1) + 1
}

fn build_features<B: Backend>(
    layers: &[LayerSpec],
    at: &mut Image,
    device: &B::Device,
) -> Vec<Feature<B>> {
    let mut out = Vec::with_capacity(layers.len());
    for l in layers {
        out.push(match l {
            &LayerSpec::Conv {
                out: cout,
                kernel,
                stride,
                padding,
                bias,
            } => {
                let (k, s, p) = (kernel as usize, stride as usize, padding as usize);
                let conv = Conv2dConfig::new([at.c, cout as usize], [k, k])
                    .with_stride([s, s])
                    .with_padding(conv_padding(k, s, p))
                    .with_bias(bias)
                    .init(device);
                *at = Image {
                    c: cout as usize,
                    h: out_side(at.h, k, s, p),
                    w: out_side(at.w, k, s, p),
                };
                Feature::Conv(conv)
            }
            LayerSpec::BatchNorm {} => Feature::Norm(BatchNormConfig::new(at.c).init(device)),
            LayerSpec::Relu {} => Feature::Relu(Relu::new()),
            LayerSpec::Gelu {} => Feature::Gelu(Gelu::new()),
            LayerSpec::Silu {} => Feature::Silu(Silu),
            LayerSpec::Tanh {} => Feature::Tanh(Tanh::new()),
            LayerSpec::Dropout { p } => Feature::Dropout(DropoutConfig::new(*p).init()),
            &LayerSpec::MaxPool { kernel, stride } => {
                let (k, s) = (kernel as usize, stride.unwrap_or(kernel) as usize);
                (at.h, at.w) = (out_side(at.h, k, s, 0), out_side(at.w, k, s, 0));
                Feature::Pool(MaxPool2dConfig::new([k, k]).with_strides([s, s]).init())
            }
            &LayerSpec::AvgPool { kernel, stride } => {
                let (k, s) = (kernel as usize, stride.unwrap_or(kernel) as usize);
                (at.h, at.w) = (out_side(at.h, k, s, 0), out_side(at.w, k, s, 0));
                Feature::AvgPool(AvgPool2dConfig::new([k, k]).with_strides([s, s]).init())
            }
            LayerSpec::Residual { layers, shortcut } => {
                let input = *at;
                let inner = build_features(layers, at, device)
                    .into_iter()
                    .filter_map(Feature::into_block)
                    .collect();
                // The stride that maps the input's side to the output's (validated exact).
                let s = input.h.div_ceil(at.h.max(1)).max(1);
                let shortcut = match shortcut {
                    Shortcut::Identity => ShortcutPath::Identity(Identity),
                    Shortcut::Projection => ShortcutPath::Projection(Projection {
                        conv: Conv2dConfig::new([input.c, at.c], [1, 1])
                            .with_stride([s, s])
                            .with_bias(false)
                            .init(device),
                        norm: BatchNormConfig::new(at.c).init(device),
                    }),
                    Shortcut::Pad => ShortcutPath::Pad(PadShortcut {
                        stride: s,
                        channels: at.c,
                    }),
                };
                Feature::Residual(Residual {
                    layers: inner,
                    shortcut,
                })
            }
            LayerSpec::Flatten {} | LayerSpec::GlobalAvgPool {} | LayerSpec::Linear { .. } => {
                continue;
            }
        });
    }
    out
}

impl<B: Backend> Feature<B> {
    /// The layer as a block's, for the kinds a residual block holds.
    fn into_block(self) -> Option<Block<B>> {
        Some(match self {
            Self::Conv(c) => Block::Conv(c),
            Self::Norm(n) => Block::Norm(n),
            Self::Pool(p) => Block::Pool(p),
            Self::Relu(r) => Block::Relu(r),
            Self::AvgPool(p) => Block::AvgPool(p),
            Self::Gelu(g) => Block::Gelu(g),
            Self::Silu(s) => Block::Silu(s),
            Self::Tanh(t) => Block::Tanh(t),
            Self::Dropout(d) => Block::Dropout(d),
            Self::GlobalPool(_) | Self::Residual(_) => return None,
        })
    }
}

/// The hand-written models used `Same` padding for their 3×3, stride-1 convolutions, which is
/// padding 1; keeping that variant keeps their checkpoints' records identical.
fn conv_padding(k: usize, s: usize, p: usize) -> PaddingConfig2d {
    if s == 1 && k % 2 == 1 && p == k / 2 {
        PaddingConfig2d::Same
    } else {
        PaddingConfig2d::Explicit(p, p, p, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::backend::flex::FlexDevice;
    use burn::tensor::{Distribution, TensorData, Tolerance};
    use experiment::VggWidth;

    use crate::net::flat;

    type B = Flex;

    fn logits_shape(spec: &ModelSpec, shape: [usize; 3]) -> [usize; 2] {
        let net = build::<B>(spec, shape, 10, &FlexDevice);
        let [c, h, w] = shape;
        let x = Tensor::<B, 4>::random([3, c, h, w], Distribution::Default, &FlexDevice);
        net.forward(x).dims()
    }

    #[test]
    fn forward_shapes() {
        assert_eq!(
            logits_shape(
                &ModelSpec::Mlp {
                    hidden: vec![16, 8]
                },
                [1, 28, 28]
            ),
            [3, 10]
        );
        assert_eq!(
            logits_shape(&ModelSpec::Mlp { hidden: vec![] }, [1, 28, 28]),
            [3, 10]
        );
        assert_eq!(logits_shape(&ModelSpec::SmallCnn, [1, 28, 28]), [3, 10]);
        assert_eq!(logits_shape(&ModelSpec::SmallCnn, [3, 32, 32]), [3, 10]);
        let narrow = ModelSpec::Vgg11 {
            width: VggWidth::Narrow,
            batch_norm: false,
        };
        assert_eq!(logits_shape(&narrow, [3, 32, 32]), [3, 10]);
        let bn = ModelSpec::Vgg11 {
            width: VggWidth::Narrow,
            batch_norm: true,
        };
        assert_eq!(logits_shape(&bn, [3, 32, 32]), [3, 10]);
    }

    #[test]
    fn parameter_counts_match_the_architectures() {
        let count = |spec: &ModelSpec, shape| build::<B>(spec, shape, 10, &FlexDevice).num_params();
        // 784·512+512 + 512·512+512 + 512·10+10
        assert_eq!(
            count(
                &ModelSpec::Mlp {
                    hidden: vec![512, 512]
                },
                [1, 28, 28]
            ),
            669_706
        );
        // Narrow VGG-11 on CIFAR: 8 convs (3×3, bias) and 3 FCs 256→128→128→10; 5 pools take 32×32 to 1×1.
        let convs = [
            (3, 32),
            (32, 64),
            (64, 64),
            (64, 64),
            (64, 128),
            (128, 128),
            (128, 256),
            (256, 256),
        ];
        let conv_params: usize = convs.iter().map(|(i, o)| i * o * 9 + o).sum();
        let fcs = [(256, 128), (128, 128), (128, 10)];
        let fc_params: usize = fcs.iter().map(|(i, o)| i * o + o).sum();
        let narrow = ModelSpec::Vgg11 {
            width: VggWidth::Narrow,
            batch_norm: false,
        };
        assert_eq!(count(&narrow, [3, 32, 32]), conv_params + fc_params);
    }

    #[test]
    fn mlp_computes_relu_of_affine_maps() {
        // One hidden unit: logits = W2·relu(W1·x + b1) + b2, checked by hand.
        let net = build::<B>(
            &ModelSpec::Mlp { hidden: vec![1] },
            [1, 1, 2],
            2,
            &FlexDevice,
        );
        let flat = crate::net::flat::flatten(&net);
        // Layout: l1.weight [2,1], l1.bias [1], l2.weight [1,2], l2.bias [2].
        let v = vec![1.0, -2.0, 0.5, 3.0, -1.0, 0.25, 0.75];
        assert_eq!(flat.len(), v.len());
        let net = crate::net::flat::unflatten(net, &v);
        let x = Tensor::<B, 4>::from_data(
            TensorData::new(vec![2.0f32, 0.5], [1, 1, 1, 2]),
            &FlexDevice,
        );
        // h = relu(1·2 − 2·0.5 + 0.5) = 1.5; logits = (3·1.5 + 0.25, −1·1.5 + 0.75) = (4.75, −0.75)
        net.forward(x)
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from([[4.75f32, -0.75]]), Tolerance::default());
    }

    /// The three models as they were written by hand before layer lists: the reference the
    /// layer-built ones must equal.
    fn hand_written(spec: &ModelSpec, [c, h, w]: [usize; 3], classes: usize) -> Net<B> {
        let d = &FlexDevice;
        let conv = |out: &mut Vec<Feature<B>>, cin, cout, bn| {
            out.push(Feature::Conv(
                Conv2dConfig::new([cin, cout], [3, 3])
                    .with_padding(PaddingConfig2d::Same)
                    .init(d),
            ));
            if bn {
                out.push(Feature::Norm(BatchNormConfig::new(cout).init(d)));
            }
            out.push(Feature::Relu(Relu::new()));
        };
        let pool = || Feature::Pool(MaxPool2dConfig::new([2, 2]).init());
        let dense = |head: &mut Vec<Head<B>>, widths: &[usize], mut inp: usize, dropout: bool| {
            for &f in widths {
                head.push(Head::Linear(LinearConfig::new(inp, f).init(d)));
                head.push(Head::Relu(Relu::new()));
                if dropout {
                    head.push(Head::Dropout(DropoutConfig::new(0.5).init()));
                }
                inp = f;
            }
            head.push(Head::Linear(LinearConfig::new(inp, classes).init(d)));
        };
        let (mut features, mut head) = (Vec::new(), Vec::new());
        match spec {
            ModelSpec::Mlp { hidden } => {
                let widths: Vec<usize> = hidden.iter().map(|&w| w as usize).collect();
                dense(&mut head, &widths, c * h * w, false);
            }
            ModelSpec::SmallCnn => {
                conv(&mut features, c, 32, false);
                features.push(pool());
                conv(&mut features, 32, 64, false);
                features.push(pool());
                dense(&mut head, &[128], 64 * (h / 4) * (w / 4), false);
            }
            ModelSpec::Vgg11 { batch_norm, .. } => {
                let mut ch = c;
                for p in [32, 0, 64, 0, 64, 64, 0, 128, 128, 0, 256, 256, 0] {
                    if p == 0 {
                        features.push(pool());
                    } else {
                        conv(&mut features, ch, p, *batch_norm);
                        ch = p;
                    }
                }
                dense(&mut head, &[128, 128], ch, true);
            }
            ModelSpec::Layers { .. } => unreachable!("only the built-in kinds were hand-written"),
        }
        Net { features, head }
    }

    #[test]
    fn built_in_models_are_the_hand_written_ones() {
        let narrow = |batch_norm| ModelSpec::Vgg11 {
            width: VggWidth::Narrow,
            batch_norm,
        };
        let cases = [
            (
                ModelSpec::Mlp {
                    hidden: vec![16, 8],
                },
                [1, 8, 8],
            ),
            (ModelSpec::SmallCnn, [1, 12, 12]),
            (ModelSpec::SmallCnn, [3, 16, 16]),
            (narrow(false), [3, 32, 32]),
            (narrow(true), [3, 32, 32]),
        ];
        for (spec, shape) in cases {
            let old = hand_written(&spec, shape, 10);
            let new = build::<B>(&spec, shape, 10, &FlexDevice);
            // Same parameters in the same order (what checkpoints and flat vectors rely on).
            assert_eq!(flat::shapes(&new), flat::shapes(&old), "{spec:?}");
            let weights = flat::flatten(&old);
            let new = flat::unflatten(new, &weights);
            let [c, h, w] = shape;
            let x = Tensor::<B, 4>::random([2, c, h, w], Distribution::Default, &FlexDevice);
            // Evaluation mode (flex without autodiff): dropout off, batch norm on its
            // running statistics, so the two must agree to the bit.
            assert_eq!(
                new.forward(x.clone()).into_data(),
                old.forward(x).into_data(),
                "{spec:?}"
            );
        }
    }

    #[test]
    fn resnets_build_with_their_published_sizes() {
        let resnet20 = ModelSpec::Layers {
            layers: experiment::zoo::resnet20(10),
        };
        let net = build::<B>(&resnet20, [3, 32, 32], 10, &FlexDevice);
        assert_eq!(net.trainable_params(), 269_722);
        assert_eq!(logits_shape(&resnet20, [3, 32, 32]), [3, 10]);
        let resnet18 = ModelSpec::Layers {
            layers: experiment::zoo::resnet18_cifar(10),
        };
        let net = build::<B>(&resnet18, [3, 32, 32], 10, &FlexDevice);
        assert_eq!(net.trainable_params(), 11_173_962);
    }

    #[test]
    fn the_pad_shortcut_subsamples_and_centres_the_old_channels() {
        // [1, 2, 3, 3] with values 0..18; stride 2 keeps rows/cols 0 and 2; 2 → 6 channels puts
        // the old ones at 2 and 3.
        let x = Tensor::<B, 4>::from_data(
            TensorData::new((0..18).map(|v| v as f32).collect::<Vec<_>>(), [1, 2, 3, 3]),
            &FlexDevice,
        );
        let y = pad_shortcut(x, 2, 6);
        assert_eq!(y.dims(), [1, 6, 2, 2]);
        let v = y.into_data().into_vec::<f32>().expect("f32");
        let mut want = vec![0.0f32; 24];
        want[8..12].copy_from_slice(&[0.0, 2.0, 6.0, 8.0]);
        want[12..16].copy_from_slice(&[9.0, 11.0, 15.0, 17.0]);
        assert_eq!(v, want);
    }
}

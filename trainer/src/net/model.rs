//! The networks: MLP, a small CNN, and VGG-11 (narrow as in the paper's code, or standard,
//! optionally with BatchNorm), all as one `Net` of feature and head layers.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d, Relu,
};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use experiment::{ModelSpec, VggWidth};

use super::fast_conv::{self, Activation};
use super::fast_pool;

/// Layers that see images [b, c, h, w].
#[derive(Module, Debug)]
pub enum Feature<B: Backend> {
    Conv(Conv2d<B>),
    Norm(BatchNorm<B>),
    Pool(MaxPool2d),
    Relu(Relu),
}

/// Layers that see flat vectors [b, f].
#[derive(Module, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "a network holds a handful of layers; boxing buys nothing"
)]
pub enum Head<B: Backend> {
    Linear(Linear<B>),
    Relu(Relu),
    Dropout(Dropout),
}

#[derive(Module, Debug)]
pub struct Net<B: Backend> {
    pub features: Vec<Feature<B>>,
    pub head: Vec<Head<B>>,
}

impl<B: Backend> Net<B> {
    /// Logits for a batch of images: [b, c, h, w] → [b, classes].
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x = x;
        let mut layers = self.features.iter().peekable();
        while let Some(f) = layers.next() {
            x = match f {
                // Own kernels on the CPU backend (Burn's everywhere else), same parameters; a
                // conv and the ReLU after it as one op.
                Feature::Conv(c) => {
                    let act = match layers.next_if(|l| matches!(l, Feature::Relu(_))) {
                        Some(_) => Activation::Relu,
                        None => Activation::Identity,
                    };
                    fast_conv::forward(c, x, act)
                }
                Feature::Norm(n) => n.forward(x),
                Feature::Pool(p) => fast_pool::forward(p, x),
                Feature::Relu(r) => r.forward(x),
            };
        }
        self.head_from(x.flatten(1, 3), 0)
    }

    /// The head's layers from `start` on, applied to flat activations.
    pub fn head_from(&self, h: Tensor<B, 2>, start: usize) -> Tensor<B, 2> {
        let mut h = h;
        for l in self.head.iter().skip(start) {
            h = match l {
                Head::Linear(lin) => lin.forward(h),
                Head::Relu(r) => r.forward(h),
                Head::Dropout(d) => d.forward(h),
            };
        }
        h
    }
}

/// Builds the network for images of `shape` = [c, h, w] and `classes` outputs.
pub fn build<B: Backend>(
    spec: &ModelSpec,
    shape: [usize; 3],
    classes: usize,
    device: &B::Device,
) -> Net<B> {
    let [c, h, w] = shape;
    match spec {
        ModelSpec::Mlp { hidden } => {
            let mut head = Vec::new();
            let mut inp = c * h * w;
            for &width in hidden {
                head.push(Head::Linear(
                    LinearConfig::new(inp, width as usize).init(device),
                ));
                head.push(Head::Relu(Relu::new()));
                inp = width as usize;
            }
            head.push(Head::Linear(LinearConfig::new(inp, classes).init(device)));
            Net {
                features: Vec::new(),
                head,
            }
        }
        ModelSpec::SmallCnn => {
            let mut features = Vec::new();
            conv_block(&mut features, c, 32, false, device);
            features.push(pool());
            conv_block(&mut features, 32, 64, false, device);
            features.push(pool());
            let flat = 64 * (h / 4) * (w / 4);
            let head = vec![
                Head::Linear(LinearConfig::new(flat, 128).init(device)),
                Head::Relu(Relu::new()),
                Head::Linear(LinearConfig::new(128, classes).init(device)),
            ];
            Net { features, head }
        }
        ModelSpec::Vgg11 { width, batch_norm } => {
            // 0 marks a 2×2 max-pool.
            let (plan, fc): (&[usize], &[usize]) = match width {
                VggWidth::Narrow => (
                    &[32, 0, 64, 0, 64, 64, 0, 128, 128, 0, 256, 256, 0],
                    &[128, 128],
                ),
                VggWidth::Standard => (
                    &[64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
                    &[512, 512],
                ),
            };
            let mut features = Vec::new();
            let (mut ch, mut side) = (c, h.min(w));
            for &p in plan {
                if p == 0 {
                    features.push(pool());
                    side /= 2;
                } else {
                    conv_block(&mut features, ch, p, *batch_norm, device);
                    ch = p;
                }
            }
            let mut head = Vec::new();
            let mut inp = ch * side * side;
            for &f in fc {
                head.push(Head::Linear(LinearConfig::new(inp, f).init(device)));
                head.push(Head::Relu(Relu::new()));
                head.push(Head::Dropout(DropoutConfig::new(0.5).init()));
                inp = f;
            }
            head.push(Head::Linear(LinearConfig::new(inp, classes).init(device)));
            Net { features, head }
        }
    }
}

fn conv_block<B: Backend>(
    out: &mut Vec<Feature<B>>,
    cin: usize,
    cout: usize,
    bn: bool,
    device: &B::Device,
) {
    out.push(Feature::Conv(
        Conv2dConfig::new([cin, cout], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(device),
    ));
    if bn {
        out.push(Feature::Norm(BatchNormConfig::new(cout).init(device)));
    }
    out.push(Feature::Relu(Relu::new()));
}

fn pool<B: Backend>() -> Feature<B> {
    Feature::Pool(MaxPool2dConfig::new([2, 2]).init())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::backend::flex::FlexDevice;
    use burn::tensor::{Distribution, TensorData, Tolerance};

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
}

//! Batch norm and a ResNet-20 training step against PyTorch (fixtures from
//! `scripts/gen_norm_fixtures.py`): train and eval modes, forward and gradients, the running
//! statistics, and one SGD step of the layer-built ResNet-20 with option-A shortcuts.

use burn::backend::flex::FlexDevice;
use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use experiment::{ModelSpec, OptimizerSpec};
use serde::Deserialize;
use std::collections::HashSet;
use trainer::net::fast_conv::Activation;
use trainer::net::optim::AnyOptim;
use trainer::net::{fast_norm, flat, model};

// mimalloc, as every binary that trains (see the `trainer` crate's docs for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Ad = Autodiff<Flex>;

#[derive(Deserialize)]
struct Fixtures {
    batch_norm: Vec<NormCase>,
    resnet20_step: ResNetStep,
}

#[derive(Deserialize)]
struct NormCase {
    name: String,
    shape: [usize; 4],
    relu: bool,
    x: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    dy: Vec<f32>,
    running_mean0: Vec<f32>,
    running_var0: Vec<f32>,
    y_train: Vec<f32>,
    dx: Vec<f32>,
    dgamma: Vec<f32>,
    dbeta: Vec<f32>,
    running_mean: Vec<f32>,
    running_var: Vec<f32>,
    y_eval: Vec<f32>,
}

#[derive(Deserialize)]
struct ResNetStep {
    input: [usize; 4],
    labels: Vec<i64>,
    loss: f64,
    logits: Vec<f32>,
    grads: Vec<GradSummary>,
    bn_running_mean: Vec<f32>,
    bn_running_var: Vec<f32>,
    loss_after_step: f64,
}

#[derive(Deserialize)]
struct GradSummary {
    name: String,
    norm: f64,
    first: Vec<f32>,
}

fn fixtures() -> Fixtures {
    serde_json::from_str(include_str!("fixtures/norm_reference.json")).expect("fixture parses")
}

fn data<const D: usize>(v: &[f32], shape: [usize; D]) -> TensorData {
    TensorData::new(v.to_vec(), shape)
}

fn assert_close(what: &str, got: TensorData, want: &[f32], tol: f32) {
    let got = got.convert::<f32>().into_vec::<f32>().expect("f32");
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, PyTorch {w}"
        );
    }
}

fn leaf(v: &[f32]) -> Param<Tensor<Ad, 1>> {
    Param::from_tensor(Tensor::from_data(data(v, [v.len()]), &FlexDevice).require_grad())
}

#[test]
fn batch_norm_matches_pytorch_in_both_modes() {
    let d = FlexDevice;
    for case in fixtures().batch_norm {
        let [n, c, h, w] = case.shape;
        let bn = BatchNormConfig::new(c).init::<Ad>(&d);
        let bn = BatchNorm {
            gamma: leaf(&case.gamma),
            beta: leaf(&case.beta),
            ..bn
        };
        bn.running_mean
            .update(Tensor::from_data(data(&case.running_mean0, [c]), &d));
        bn.running_var
            .update(Tensor::from_data(data(&case.running_var0, [c]), &d));
        let act = if case.relu {
            Activation::Relu
        } else {
            Activation::Identity
        };
        let x = Tensor::<Ad, 4>::from_data(data(&case.x, [n, c, h, w]), &d).require_grad();
        // A vector case goes through the head's entry point, as a network would use it.
        let y = if h * w == 1 {
            fast_norm::forward_flat(&bn, x.clone().reshape([n, c]), act).reshape([n, c, h, w])
        } else {
            fast_norm::forward(&bn, x.clone(), act)
        };
        let name = &case.name;
        assert_close(
            &format!("{name} y (train)"),
            y.clone().into_data(),
            &case.y_train,
            1e-5,
        );
        let dy = Tensor::<Ad, 4>::from_data(data(&case.dy, [n, c, h, w]), &d);
        let grads = y.mul(dy).sum().backward();
        let g = |t: Tensor<Ad, 1>| t.grad(&grads).expect("a gradient").into_data();
        assert_close(
            &format!("{name} dx"),
            x.grad(&grads).expect("dx").into_data(),
            &case.dx,
            1e-4,
        );
        assert_close(&format!("{name} dγ"), g(bn.gamma.val()), &case.dgamma, 1e-4);
        assert_close(&format!("{name} dβ"), g(bn.beta.val()), &case.dbeta, 1e-4);
        let rm = bn.running_mean.value_sync().into_data();
        let rv = bn.running_var.value_sync().into_data();
        assert_close(
            &format!("{name} running mean"),
            rm,
            &case.running_mean,
            1e-5,
        );
        assert_close(&format!("{name} running var"), rv, &case.running_var, 1e-5);
        // Eval mode: the inner backend, on the statistics the step left.
        let inner = bn.valid();
        let xe = Tensor::<Flex, 4>::from_data(data(&case.x, [n, c, h, w]), &d);
        let ye = fast_norm::forward(&inner, xe, act);
        assert_close(
            &format!("{name} y (eval)"),
            ye.into_data(),
            &case.y_eval,
            1e-5,
        );
    }
}

/// Sets every trained tensor by the fixture's formula (in PyTorch's layout; Burn keeps a linear
/// weight as [in, out], so it is transposed).
struct SetWeights<'a> {
    names: &'a [String],
    skip: HashSet<ParamId>,
    t: usize,
}

impl<B: burn::tensor::backend::Backend> ModuleMapper<B> for SetWeights<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        if self.skip.contains(&param.id) {
            return param;
        }
        let (t, name) = (self.t, &self.names[self.t]);
        self.t += 1;
        param.map(|old| {
            let dims = old.dims();
            let n: usize = dims.iter().product();
            let j = |i: usize| i as f64;
            let v: Vec<f32> = if D == 1
                && (name.ends_with("bn.weight") || name.contains(".bn"))
                && name.ends_with("weight")
            {
                (0..n)
                    .map(|i| (1.0 + 0.1 * (0.37 * j(i) + t as f64).sin()) as f32)
                    .collect()
            } else if D == 1 {
                (0..n)
                    .map(|i| (0.1 * (0.53 * j(i) + t as f64).cos()) as f32)
                    .collect()
            } else {
                // PyTorch's shape: a linear's is [out, in], Burn's [in, out].
                let torch_dims: Vec<usize> = if D == 2 {
                    vec![dims[1], dims[0]]
                } else {
                    dims.to_vec()
                };
                let fan_in: usize = torch_dims[1..].iter().product();
                let scale = (2.0 / fan_in as f64).sqrt();
                let torch: Vec<f32> = (0..n)
                    .map(|i| ((0.7 * j(i) + 0.3 * t as f64).sin() * scale) as f32)
                    .collect();
                if D == 2 {
                    let (inp, out) = (dims[0], dims[1]);
                    let mut burn = vec![0.0; n];
                    for o in 0..out {
                        for i in 0..inp {
                            burn[i * out + o] = torch[o * inp + i];
                        }
                    }
                    burn
                } else {
                    torch
                }
            };
            let fresh = Tensor::<B, D>::from_data(TensorData::new(v, dims), &old.device());
            if old.is_require_grad() {
                fresh.require_grad()
            } else {
                fresh
            }
        })
    }
}

/// Each trained tensor's gradient, in traversal order.
struct Grads<'a> {
    grads: &'a <Ad as AutodiffBackend>::Gradients,
    skip: HashSet<ParamId>,
    out: Vec<Vec<f32>>,
}

impl ModuleVisitor<Ad> for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Ad, D>>) {
        if self.skip.contains(&param.id) {
            return;
        }
        let g = param
            .val()
            .grad(self.grads)
            .expect("every weight has a gradient");
        self.out.push(
            g.into_data()
                .convert::<f32>()
                .into_vec::<f32>()
                .expect("f32"),
        );
    }
}

#[test]
fn a_resnet20_step_matches_pytorch() {
    let d = FlexDevice;
    let step = fixtures().resnet20_step;
    let spec = ModelSpec::Layers {
        layers: experiment::zoo::resnet20(10),
    };
    let [n, c, h, w] = step.input;
    let net = model::build::<Ad>(&spec, [c, h, w], 10, &d);
    let names: Vec<String> = step.grads.iter().map(|g| g.name.clone()).collect();
    assert_eq!(
        flat::shapes(&net).len(),
        names.len(),
        "one tensor per PyTorch parameter"
    );
    let skip = net.running_state_ids();
    let net = net.map(&mut SetWeights {
        names: &names,
        skip: skip.clone(),
        t: 0,
    });
    let count = n * c * h * w;
    let x: Vec<f32> = (0..count)
        .map(|i| {
            let i = i as f64;
            (0.05 * i + 0.1 * (0.011 * i).cos()).sin() as f32
        })
        .collect();
    let x = Tensor::<Ad, 4>::from_data(data(&x, [n, c, h, w]), &d);
    let labels = Tensor::<Ad, 1, Int>::from_data(TensorData::new(step.labels.clone(), [n]), &d);
    let ce = CrossEntropyLossConfig::new().init(&d);
    let logits = net.forward(x.clone());
    assert_close("logits", logits.clone().into_data(), &step.logits, 1e-4);
    let loss = ce.forward(logits, labels.clone());
    let got = f64::from(loss.clone().into_scalar());
    assert!(
        (got - step.loss).abs() < 1e-5,
        "loss {got} vs PyTorch {}",
        step.loss
    );
    let grads = loss.backward();
    let mut visitor = Grads {
        grads: &grads,
        skip: skip.clone(),
        out: Vec::new(),
    };
    net.visit(&mut visitor);
    for (g, want) in visitor.out.iter().zip(&step.grads) {
        let norm = g.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        assert!(
            (norm - want.norm).abs() <= 1e-4 * (1.0 + want.norm),
            "{}: gradient norm {norm} vs PyTorch {}",
            want.name,
            want.norm
        );
        let first = &g[..want.first.len()];
        assert_close(
            &format!("{} gradient", want.name),
            data(first, [first.len()]),
            &want.first,
            1e-3,
        );
    }
    // One step of the trainer's own SGD (PyTorch's semantics: decay added to the gradient,
    // momentum without dampening), then the loss in training mode again.
    let mut optim = AnyOptim::<Ad>::new(&OptimizerSpec::Sgd {
        momentum: 0.9,
        nesterov: false,
        weight_decay: 5e-4,
    });
    let grads = GradientsParams::from_grads(grads, &net);
    let net = optim.step(0.1, net, grads);
    let after = f64::from(ce.forward(net.forward(x), labels).into_scalar());
    assert!(
        (after - step.loss_after_step).abs() < 1e-4,
        "loss after one step {after} vs PyTorch {}",
        step.loss_after_step
    );
    // The running statistics after both forward passes (PyTorch's fixture reads them there).
    let Some(model::Feature::Norm(bn)) = net.features.get(1) else {
        panic!("ResNet-20's second layer is its stem's batch norm");
    };
    assert_close(
        "stem running mean",
        bn.running_mean.value_sync().into_data(),
        &step.bn_running_mean,
        1e-5,
    );
    assert_close(
        "stem running var",
        bn.running_var.value_sync().into_data(),
        &step.bn_running_var,
        1e-5,
    );
}

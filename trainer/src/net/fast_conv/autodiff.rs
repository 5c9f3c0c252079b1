//! The autodiff node of the convolution on `Autodiff<Flex>`: the forward through this module's
//! kernels, and a backward that keeps the input and weight and calls the gradient kernels.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::ops::{ActivationOps, ConvOptions};
use burn::tensor::{DType, Tensor, TensorPrimitive};

use super::activation::Activation;
use super::gemm::{
    conv2d_bias_backward, conv2d_forward_with, conv2d_weight_backward, conv2d_x_backward,
};
use super::geometry::supported;

/// `act` of conv2d on `Autodiff<Flex>` with this module's backward, or of Burn's own conv2d
/// where [`supported`] says no. Gradients flow to `x`, `weight` and `bias` as with Burn's.
pub fn conv2d<C: CheckpointStrategy>(
    x: Tensor<Autodiff<Flex, C>, 4>,
    weight: Tensor<Autodiff<Flex, C>, 4>,
    bias: Option<Tensor<Autodiff<Flex, C>, 1>>,
    options: ConvOptions<2>,
    act: Activation,
) -> Tensor<Autodiff<Flex, C>, 4> {
    if !supported(&x.dims(), &weight.dims(), &options) || x.dtype() != DType::F32 {
        return act.on_tensor(burn::tensor::module::conv2d(x, weight, bias, options));
    }
    let x = x.into_primitive().tensor();
    let weight = weight.into_primitive().tensor();
    let out = match bias {
        Some(bias) => {
            let bias = bias.into_primitive().tensor();
            match Conv2dBackward
                .prepare::<C>([x.node.clone(), weight.node.clone(), bias.node.clone()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let (xp, wp) = (x.primitive.clone(), weight.primitive.clone());
                    let y = conv2d_forward_with(
                        x.primitive,
                        weight.primitive,
                        Some(bias.primitive),
                        &options,
                        act,
                    );
                    prep.finish(state(xp, wp, options, act, &y), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(conv2d_forward_with(
                    x.primitive,
                    weight.primitive,
                    Some(bias.primitive),
                    &options,
                    act,
                )),
            }
        }
        None => match Conv2dNoBiasBackward
            .prepare::<C>([x.node.clone(), weight.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.primitive.clone(), weight.primitive.clone());
                let y = conv2d_forward_with(x.primitive, weight.primitive, None, &options, act);
                prep.finish(state(xp, wp, options, act, &y), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(conv2d_forward_with(
                x.primitive,
                weight.primitive,
                None,
                &options,
                act,
            )),
        },
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// The backward node: keeps the input and the weight (shared buffers, not copies), and the
/// output when a ReLU was fused in, and computes the gradients of the parents that need one.
#[derive(Debug)]
struct Conv2dBackward;

#[derive(Debug)]
struct Conv2dNoBiasBackward;

/// Input, weight, options, and the (post-ReLU) output when the ReLU's mask is to be applied.
type State = (FlexTensor, FlexTensor, ConvOptions<2>, Option<FlexTensor>);

fn state(
    x: FlexTensor,
    w: FlexTensor,
    o: ConvOptions<2>,
    act: Activation,
    y: &FlexTensor,
) -> State {
    (x, w, o, (act == Activation::Relu).then(|| y.clone()))
}

/// The gradient reaching the convolution itself: the fused ReLU's backward first, if any.
fn pre_activation(grad: FlexTensor, out: &Option<FlexTensor>) -> FlexTensor {
    match out {
        Some(y) => Flex::relu_backward(y.clone(), grad),
        None => grad,
    }
}

/// Registers the gradients of the input and the weight, for the nodes that want them.
fn register_x_and_weight(
    [node_x, node_w]: [Option<NodeId>; 2],
    (x, weight, options, _): State,
    grad: &FlexTensor,
    grads: &mut Gradients,
) {
    if let Some(node) = node_w {
        let dw = conv2d_weight_backward(x.clone(), weight.clone(), grad.clone(), &options);
        grads.register::<Flex>(node, dw);
    }
    if let Some(node) = node_x {
        grads.register::<Flex>(node, conv2d_x_backward(x, weight, grad.clone(), &options));
    }
}

impl Backward<Flex, 3> for Conv2dBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = pre_activation(grads.consume::<Flex>(&ops.node), &ops.state.3);
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, conv2d_bias_backward(grad.clone()));
        }
        let ids = [node_x.map(|n| n.id), node_w.map(|n| n.id)];
        register_x_and_weight(ids, ops.state, &grad, grads);
    }
}

impl Backward<Flex, 2> for Conv2dNoBiasBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = pre_activation(grads.consume::<Flex>(&ops.node), &ops.state.3);
        let ids = ops.parents.map(|n| n.map(|n| n.id));
        register_x_and_weight(ids, ops.state, &grad, grads);
    }
}

//! What a convolution applies to its output as it writes it: nothing, or a fused ReLU.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// What a convolution applies to its output: nothing, or a ReLU.
///
/// The models' conv → ReLU pairs run as one op on flex: the ReLU then costs no pass of its own
/// over the output in the forward, and no autodiff node. It is the same `max(0)` on the same
/// values and its backward is flex's own `relu_backward`, so the result equals conv followed by
/// `relu` bit for bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
}

impl Activation {
    pub(super) fn apply(self, v: f32) -> f32 {
        match self {
            Self::Identity => v,
            Self::Relu => v.max(0.0),
        }
    }

    /// `act(y)` through Burn's own ops: the path of the layers this module does not cover.
    pub(crate) fn on_tensor<B: Backend>(self, y: Tensor<B, 4>) -> Tensor<B, 4> {
        match self {
            Self::Identity => y,
            Self::Relu => burn::tensor::activation::relu(y),
        }
    }
}

//! How a layer generic over its backend takes a backend-specific path without a bound on that
//! backend: its tensors as those of a concrete backend, when they are the same type. Shared by
//! the flex convolution and pooling layers.

use std::any::Any;

/// A tensor of the layer's backend as one of `T`'s, once the input showed that they are the
/// same backend (the layer's parameters and output share its input's).
pub(crate) fn cast<S: 'static, T: 'static>(value: S) -> T {
    same_type(value)
        .map_err(|_| std::any::type_name::<S>())
        .expect("a layer's tensors share its input's backend")
}

/// `value` as a `T` when `S` and `T` are the same type, else `value` back. How the layers pick
/// the flex path without a bound on `Net`'s backend: every generic caller keeps working.
pub(crate) fn same_type<S: 'static, T: 'static>(value: S) -> Result<T, S> {
    let mut slot = Some(value);
    if let Some(t) = (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take)
    {
        return Ok(t);
    }
    slot.map_or_else(
        || unreachable!("the slot is emptied only by a successful downcast"),
        Err,
    )
}

"""The backend-specific part of training: taking gradients.

Everything else in `gan_core` is written with `keras.ops`; only this module
knows which backend records the forward pass (TensorFlow's `GradientTape`).
"""

import tensorflow as tf


def minimize(loss_fn, variables, optimizer):
    """Run `loss_fn()`, then take one optimizer step on `variables` only.

    `loss_fn` returns `(loss, aux)`; `aux` is passed through untouched so the
    caller can log values computed on the way (e.g. D's logits).
    """
    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
    gradients = tape.gradient(loss, variables)
    optimizer.apply(gradients, variables)
    return loss, aux

"""The backend-specific part of gan_core (TensorFlow): gradient steps and compiled inference.

Everything else is written with `keras.ops`; only this module knows how the
backend records a forward pass and compiles a function.
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


def compile_inference(model):
    """`model` in inference mode as one compiled graph, for any batch size.

    About 4× less overhead per call than `predict_on_batch` for the small
    batches an interactive app asks for.
    """
    return tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)


def input_gradients(fn, inputs):
    """∂ sum(fn(inputs)) / ∂ inputs, recorded so that a loss built from it can itself be differentiated
    (gradient penalties: WGAN-GP, R1)."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fn(inputs)
    return tape.gradient(outputs, inputs)

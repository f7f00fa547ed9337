"""The backend-specific part of gan_core (TensorFlow): gradient steps and compiled inference.

Everything else is written with `keras.ops`; only this module knows how the
backend records a forward pass and compiles a function. It is imported
before anything else in gan_core, so it is also where TensorFlow starts.
"""

import contextlib
import os


@contextlib.contextmanager
def _native_stderr_dropped():
    """Drop what native code writes to file descriptor 2 while TensorFlow starts.

    TensorFlow's C++ start-up probes for CUDA and writes "Could not find cuda
    drivers" and "failed call to cuInit" before any log level applies, on every
    machine without a GPU. With TF_CPP_MIN_LOG_LEVEL set to 0 or 1 (asking for
    TensorFlow's messages) nothing is dropped; Python errors are raised as usual.
    """
    if os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2") in ("0", "1"):
        yield
        return
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


with _native_stderr_dropped():
    import tensorflow as tf

    tf.config.list_logical_devices()  # the device probe, while its noise is dropped


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
    return compile_function(lambda inputs: model(inputs, training=False))


def compile_function(fn, xla: bool = False):
    """`fn` as one compiled graph, traced again only for new input shapes (with `xla`, compiled by XLA)."""
    return tf.function(fn, reduce_retracing=True, jit_compile=xla)


def value_and_gradient(fn, inputs):
    """`fn(inputs)` and ∂ sum(fn(inputs)) / ∂ inputs: with one value per example, each example's own gradient."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fn(inputs)
    return outputs, tape.gradient(outputs, inputs)


def input_gradients(fn, inputs):
    """∂ sum(fn(inputs)) / ∂ inputs, recorded so that a loss built from it can itself be differentiated
    (gradient penalties: WGAN-GP, R1)."""
    return value_and_gradient(fn, inputs)[1]

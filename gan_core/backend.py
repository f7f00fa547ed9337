"""The backend-specific part of gan_core: gradient steps, the training step's state and compiled functions.

Everything else is written with `keras.ops`; only `backend_tensorflow` and `backend_jax`
know how their backend records a forward pass, differentiates it and compiles a function,
and this module takes the functions of the backend Keras runs on (`KERAS_BACKEND`). It is
imported before anything else in gan_core, so it is also where TensorFlow starts, quietly.
"""

import contextlib
import importlib
import importlib.util
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


# TensorFlow reads the data (tf.data) on every backend where it is installed.
TENSORFLOW_INSTALLED = importlib.util.find_spec("tensorflow") is not None
if TENSORFLOW_INSTALLED:
    with _native_stderr_dropped():
        import keras
        import tensorflow as tf

        if keras.backend.backend() != "tensorflow":
            with contextlib.suppress(RuntimeError):  # TensorFlow had started already: its devices are set
                tf.config.set_visible_devices([], "GPU")  # tf.data runs on the CPU: the GPUs are the backend's
        tf.config.list_logical_devices()  # the device probe, while its noise is dropped

import keras  # noqa: E402  (after TensorFlow, whose start-up noise Keras would otherwise set off)

BACKENDS = {"tensorflow": "gan_core.backend_tensorflow", "jax": "gan_core.backend_jax"}
if keras.backend.backend() not in BACKENDS:
    raise ImportError(
        f"gan_core runs on the tensorflow and jax backends of Keras, not {keras.backend.backend()!r}: "
        "set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax."
    )
_functions = importlib.import_module(BACKENDS[keras.backend.backend()])

compile_function = _functions.compile_function
data_parallel = _functions.data_parallel
devices = _functions.devices
minimize = _functions.minimize
replica = _functions.replica
train_step = _functions.train_step
value_and_gradient = _functions.value_and_gradient
xla_across = _functions.xla_across


def compile_inference(model):
    """`model` in inference mode as one compiled function, for any batch size.

    About 4× less overhead per call than `predict_on_batch` for the small batches an
    interactive app asks for.
    """
    return compile_function(lambda inputs: model(inputs, training=False))


def replica_share(draw, batch_size):
    """`draw(n)`'s values for this replica's `batch_size` examples: its slice of one draw for the
    batches of all replicas.

    The seed generator is the same on every replica, so a draw of each replica's own would
    repeat on every replica; the slices are also exactly what one device draws for the whole
    batch. Outside a strategy (and on JAX, one program over the whole batch) it is `draw(batch_size)`.
    """
    index, replicas = replica()
    if replicas == 1:
        return draw(batch_size)
    everyone = draw(batch_size * replicas)
    rest = list(everyone.shape[1:])
    return keras.ops.slice(everyone, [index * batch_size] + [0] * len(rest), [batch_size, *rest])


def input_gradients(fn, inputs):
    """∂ sum(fn(inputs)) / ∂ inputs, itself differentiable (gradient penalties: WGAN-GP, R1)."""
    return value_and_gradient(fn, inputs)[1]


__all__ = [
    "TENSORFLOW_INSTALLED",
    "compile_function",
    "compile_inference",
    "data_parallel",
    "devices",
    "input_gradients",
    "minimize",
    "replica",
    "replica_share",
    "train_step",
    "value_and_gradient",
    "xla_across",
]

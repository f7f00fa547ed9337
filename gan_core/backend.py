"""The backend-specific part of gan_core: gradient steps, step state, compiled functions, devices, processes.

Everything else is written with `keras.ops`; only `backend_tensorflow` and `backend_jax`
know how their backend records a forward pass, differentiates it and compiles a function,
and this module takes the functions of the backend Keras runs on (`KERAS_BACKEND`). It is
imported before anything else in gan_core, so it is also where TensorFlow starts, quietly.
"""

import contextlib
import dataclasses
import importlib
import importlib.util
import os
from collections.abc import Callable


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
import numpy as np  # noqa: E402

from gan_core.errors import UsageError  # noqa: E402

BACKENDS = {"tensorflow": "gan_core.backend_tensorflow", "jax": "gan_core.backend_jax"}
if keras.backend.backend() not in BACKENDS:
    raise ImportError(
        f"gan_core runs on the tensorflow and jax backends of Keras, not {keras.backend.backend()!r}: "
        "set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax."
    )
_functions = importlib.import_module(BACKENDS[keras.backend.backend()])
# Keras' launch variable for training over several processes (`keras.distribution.initialize` reads it).
PROCESSES_VARIABLE = "KERAS_DISTRIBUTION_NUM_PROCESSES"


@dataclasses.dataclass(frozen=True)
class Processes:
    """The processes training one model together: this one's `index` (process 0 writes the run
    folder) of `count`; `share`, which gives every process process 0's bytes; and `agree`, which
    is True on every process when every process says True."""

    index: int = 0
    count: int = 1
    share: Callable[[bytes], bytes] = lambda payload: payload
    agree: Callable[[bool], bool] = lambda ok: ok


ONE_PROCESS = Processes()
_joined = ONE_PROCESS

INFERENCE_BATCHES = _functions.INFERENCE_BATCHES
compile_function = _functions.compile_function
data_parallel = _functions.data_parallel
devices = _functions.devices
minimize = _functions.minimize
replica = _functions.replica
train_step = _functions.train_step
value_and_gradient = _functions.value_and_gradient
xla_across = _functions.xla_across


def processes_asked() -> int:
    """The number of processes Keras' launch variable asks for (1 without it)."""
    asked = os.environ.get(PROCESSES_VARIABLE, "1")
    if not asked.isdigit() or int(asked) < 1:
        raise UsageError(f"{PROCESSES_VARIABLE}={asked!r}: expected a number of processes (1, 2, …).", value=asked)
    return int(asked)


def join_processes() -> Processes:
    """Join the processes that Keras' launch variables name (KERAS_DISTRIBUTION_JOB_ADDRESSES,
    KERAS_DISTRIBUTION_NUM_PROCESSES, KERAS_DISTRIBUTION_PROCESS_ID: `keras.distribution.initialize`),
    before anything runs on a device; one process without them. Every process must call it."""
    global _joined
    if processes_asked() > 1:
        _joined = Processes(*_functions.join_processes())
    return _joined


def predict(model, inputs, batch_size: int):
    """`model.predict(inputs)` (numpy), also over several processes, where Keras' `predict` cannot
    fetch outputs that lie on other processes' devices: there the model is called batch by batch."""
    if _joined.count == 1:
        return model.predict(inputs, batch_size=batch_size, verbose=0)
    count = len(keras.tree.flatten(inputs)[0])
    parts = [  # an empty batch too: one call, empty outputs
        model(
            keras.tree.map_structure(lambda array, start=start: array[start : start + batch_size], inputs),
            training=False,
        )
        for start in range(0, max(count, 1), batch_size)
    ]
    return keras.tree.map_structure(
        lambda *outputs: np.concatenate([keras.ops.convert_to_numpy(out) for out in outputs]), *parts
    )


def compile_inference(model):
    """`model` in inference mode as one compiled function, for any batch size.

    About 4× less overhead per call than `predict_on_batch` for the small batches an
    interactive app asks for.
    """
    return _functions.compile_inference(model)


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
    "INFERENCE_BATCHES",
    "ONE_PROCESS",
    "PROCESSES_VARIABLE",
    "TENSORFLOW_INSTALLED",
    "Processes",
    "compile_function",
    "compile_inference",
    "data_parallel",
    "devices",
    "input_gradients",
    "join_processes",
    "minimize",
    "predict",
    "processes_asked",
    "replica",
    "replica_share",
    "train_step",
    "value_and_gradient",
    "xla_across",
]

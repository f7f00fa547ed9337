"""gan_core's backend functions on TensorFlow (see `gan_core.backend`).

Data-parallel training uses `tf.distribute.MirroredStrategy`: `train_step` runs once per
replica on its share of the batch, and the optimizer sums the replicas' gradients.
"""

import contextlib

import tensorflow as tf

from gan_core.errors import UsageError


def train_step(model, step, data):
    """`step(data)`: TensorFlow's trainer calls `train_step(data)` and variables change in place."""
    return step(data)


def minimize(loss_fn, variables, optimizer):
    """Run `loss_fn()`, then take one optimizer step on `variables` only.

    `loss_fn` returns `(loss, aux)`; `aux` is passed through untouched so the
    caller can log values computed on the way (e.g. D's logits).
    """
    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
        # The optimizer sums the replicas' gradients: a mean over the replica's share of the batch,
        # divided by the number of replicas, gives the gradient of the mean over the whole batch.
        scaled = loss / replica()[1]
    gradients = tape.gradient(scaled, variables)
    optimizer.apply(gradients, variables)
    return loss, aux


def replica():
    """(this replica's index, the number of replicas) inside a training step; (0, 1) outside a strategy."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def devices() -> list[str]:
    """The devices data-parallel training can use: the GPUs, else the CPU's logical devices (one, unless
    `tf.config.set_logical_device_configuration` split it)."""
    return [device.name for device in tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")]


def xla_across(names: list[str]) -> bool:
    """Whether XLA can compile one MirroredStrategy step over the devices `names`: not over CPU devices, where
    a replica's variable is read from another device (tensorflow.org/xla/known_issues)."""
    return len(names) == 1 or not any("CPU" in name.upper() for name in names)


def data_parallel(names: list[str]):
    """A context in which a model built and trained replicates itself over the devices `names`."""
    if len(names) == 1:
        return contextlib.nullcontext()
    return tf.distribute.MirroredStrategy(names).scope()


def compile_function(fn, xla: bool = False):
    """`fn` as one compiled graph, traced again only for new input shapes (with `xla`, compiled by XLA)."""
    return tf.function(fn, reduce_retracing=True, jit_compile=xla)


# The batch sizes `compile_inference` traces for: after the second, one graph serves every batch size.
INFERENCE_BATCHES = (1, 2)


def compile_inference(model):
    """`model(inputs, training=False)` as one graph; `reduce_retracing` makes it one for every batch size."""
    return compile_function(lambda inputs: model(inputs, training=False))


def value_and_gradient(fn, inputs):
    """`fn(inputs)` and ∂ sum(fn(inputs)) / ∂ inputs: with one value per example, each example's own gradient."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fn(inputs)
    return outputs, tape.gradient(outputs, inputs)


def join_processes():
    """Refused: TensorFlow's multi-worker strategy does not work with Keras 3 (keras-team/keras#20585)."""
    raise UsageError(
        "Training over several processes needs KERAS_BACKEND=jax: TensorFlow's MultiWorkerMirroredStrategy "
        "does not work with Keras 3 (github.com/keras-team/keras/issues/20585)."
    )

"""gan_core's backend functions on JAX (see `gan_core.backend`).

JAX functions are pure: Keras' JAX trainer passes the value of every variable into the
compiled step and takes the new values back. `train_step` runs the GAN's ordinary,
stateful-looking step inside a `keras.StatelessScope` that holds those values, so variable
reads and assignments (batch-norm statistics, the EMA, the latent sampler, the metrics, the
optimizers) go to the scope (Keras' own advice for several gradient steps in one
`train_step`, keras-team/keras#18881). `minimize` differentiates with `jax.value_and_grad`
by assigning the traced parameters in that scope.
"""

import contextlib
from collections.abc import Callable

import jax
import keras
import numpy as np
from jax.experimental import multihost_utils

# Keras exports `StatelessScope` but not the accessor of the active one, which `minimize` needs.
from keras.src.backend.common.stateless_scope import get_stateless_scope

from gan_core.errors import UsageError


def train_step(model, step, state, data):
    """`step(data)` as the pure function the JAX trainer calls: `(state, data)` → `(logs, new state)`.

    The state is the values of `model`'s trainable, non-trainable, optimizer and metric
    variables, in the trainer's order; `model.optimizer.variables` must hold the variables of
    every optimizer the step uses.
    """
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )
    mapping = [
        pair for variables, values in zip(groups, state, strict=True) for pair in zip(variables, values, strict=True)
    ]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = step(data)
    return logs, tuple([scope.get_current_value(variable) for variable in variables] for variables in groups)


class _RecordingScope(keras.StatelessScope):
    """A stateless scope that remembers which variables were assigned, to write them afterwards."""

    def __init__(self):
        super().__init__()
        self.assigned = {}

    def add_update(self, update):
        self.assigned[id(update[0])] = update[0]
        super().add_update(update)

    def write_back(self):
        for key, variable in self.assigned.items():
            variable.assign(self.state_mapping[key])


def minimize(loss_fn, variables, optimizer):
    """Run `loss_fn()`, then take one optimizer step on `variables` only.

    `loss_fn` returns `(loss, aux)`; `aux` is passed through untouched. What `loss_fn` assigns
    on the way (batch-norm statistics, the augmentation's random state) is kept. Inside
    `train_step` it works on the step's scope; called on its own (a test, a notebook), on one
    of its own whose assignments are written to the variables at the end.
    """
    scope = get_stateless_scope()
    if scope is None:
        with _RecordingScope() as scope:
            result = minimize(loss_fn, variables, optimizer)
        scope.write_back()
        return result
    before = dict(scope.state_mapping)
    values = [variable.value for variable in variables]

    def loss_of(values):
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
        loss, aux = loss_fn()
        assigned = {key: value for key, value in scope.state_mapping.items() if before.get(key) is not value}
        return loss, (aux, assigned)

    (loss, (aux, assigned)), gradients = jax.value_and_grad(loss_of, has_aux=True)(values)
    # What was traced inside value_and_grad must not outlive it: the scope takes its outputs instead.
    scope.state_mapping.update(assigned)
    scope.state_mapping.update({id(variable): value for variable, value in zip(variables, values, strict=True)})
    optimizer.apply(gradients, variables)
    return loss, aux


def replica():
    """(0, 1): JAX runs one program over the whole batch, sharded over the devices (SPMD)."""
    return 0, 1


def devices() -> list[str]:
    """The devices data-parallel training can use: every device of JAX's default platform."""
    return [f"{device.platform}:{device.id}" for device in jax.devices()]


def xla_across(names: list[str]) -> bool:
    """True: JAX compiles every step with XLA, sharded or not."""
    return True


def data_parallel(names: list[str]):
    """A context in which a model built and trained shards each batch over the devices `names`
    (`keras.distribution.DataParallel`; variables are replicated, the step is one program)."""
    if len(names) == 1:
        return contextlib.nullcontext()
    return keras.distribution.DataParallel(devices=names).scope()


def compile_function(fn, xla: bool = False):
    """`fn` compiled by XLA (JAX always compiles; `xla` is for TensorFlow's sake), traced again for new shapes.

    Keras variables that `fn` reads are taken as constants at tracing: for frozen models only.
    """
    return jax.jit(fn)


# The batch sizes `compile_inference` compiles for: every batch up to 128 is padded to one of them.
INFERENCE_BATCHES = tuple(2**power for power in range(8))


def compile_inference(model):
    """`model(inputs, training=False)` compiled by XLA, with each batch padded to the next power of two.

    XLA compiles once per input shape (about 0.2 s for the bundled generator on 2 CPU cores), so a
    slider that asks for 2 … 120 images would compile again at almost every value; padded, the 8
    INFERENCE_BATCHES serve every batch up to 128. The padding rows are dropped from the outputs (numpy).
    """
    infer = jax.jit(lambda inputs: model(inputs, training=False))

    def padded(inputs):
        count = len(keras.tree.flatten(inputs)[0])
        extra = (1 << (count - 1).bit_length()) - count

        def pad(array):  # on the host: an eager jax.numpy op would compile for every shape itself
            return np.pad(np.asarray(array), [(0, extra)] + [(0, 0)] * (np.ndim(array) - 1))

        outputs = infer(keras.tree.map_structure(pad, inputs))
        return keras.tree.map_structure(lambda output: np.asarray(output)[:count], outputs)

    return padded


def value_and_gradient(fn, inputs):
    """`fn(inputs)` and ∂ sum(fn(inputs)) / ∂ inputs: with one value per example, each example's own gradient."""
    outputs, pullback = jax.vjp(fn, inputs)
    return outputs, pullback(jax.numpy.ones_like(outputs))[0]


def join_processes() -> tuple[int, int, Callable[[bytes], bytes], Callable[[bool], bool]]:
    """`keras.distribution.initialize` from Keras' launch variables, once; (index, count, share, agree).

    CPUs exchange gradients over gloo (JAX's default CPU collectives are single-process).
    """
    if not jax.distributed.is_initialized():
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        try:
            keras.distribution.initialize()
        except (ValueError, TypeError, RuntimeError) as error:
            raise UsageError(f"Cannot join the processes that Keras' KERAS_DISTRIBUTION_* variables name: {error}",
                             value=str(error)) from None  # fmt: skip
    return jax.process_index(), jax.process_count(), _share_from_first, _all_agree


def _share_from_first(payload: bytes) -> bytes:
    """Process 0's `payload` on every process (the others' own are ignored)."""
    size = int(multihost_utils.broadcast_one_to_all(np.int32(len(payload))))
    buffer = np.frombuffer(payload, "uint8") if jax.process_index() == 0 else np.zeros(size, "uint8")
    return np.asarray(multihost_utils.broadcast_one_to_all(buffer)).tobytes()


def _all_agree(ok: bool) -> bool:
    """Whether every process says `ok`."""
    return bool(np.all(multihost_utils.process_allgather(np.int32(ok))))

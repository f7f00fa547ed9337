"""Run by tests/test_distribution.py in a process of its own, with N devices on this CPU.

    python tests/distributed.py N train [train.py flags]    # train.py on N devices
    python tests/distributed.py N step OUT.npz              # one- and N-device training steps, compared
    python tests/distributed.py 1 host PORT ID OUT.npz      # JAX: one of two processes on 127.0.0.1 as two hosts

The devices must exist before the backend starts: TensorFlow's CPU is split into N logical
devices, JAX's host platform gets N devices (XLA_FLAGS).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # train.py and gan_core, run from anywhere
DEVICES = int(sys.argv[1])
if os.environ.get("KERAS_BACKEND") == "jax":
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={DEVICES}"
else:
    import tensorflow as tf

    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * DEVICES
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

import train  # noqa: E402
from gan_core import GAN, backend  # noqa: E402
from gan_core.augment import POLICIES, diff_augment  # noqa: E402
from gan_core.networks import build_discriminator  # noqa: E402

BATCH, LATENT, CLASSES, STEPS = 16, 16, 10, 3


def generator_without_batch_norm():
    """A small conditional generator without batch norm, whose step cannot depend on how the batch is split."""
    z, label = keras.Input((LATENT,)), keras.Input((), dtype="int32")
    x = keras.layers.Concatenate()([z, keras.layers.Embedding(CLASSES, LATENT)(label)])
    x = keras.layers.Reshape((7, 7, 4))(keras.layers.Dense(7 * 7 * 4)(x))
    x = keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same", activation="relu")(x)
    return keras.Model([z, label], keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh")(x))


def build(ema_decay=0.9):
    keras.utils.set_random_seed(0)
    gan = GAN(generator_without_batch_norm(), build_discriminator(28, 1, 8, CLASSES), LATENT, CLASSES, seed=0,
              ema_decay=ema_decay)  # fmt: skip
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), r1_gamma=1.0, r1_every=2)
    return gan


def trained(devices, start):
    """A conditional GAN with EMA and R1, from the weights `start`, after STEPS steps on the same batches."""
    with backend.data_parallel(devices):
        gan = build()
        gan.set_weights(start)
        rng = np.random.default_rng(0)
        images = rng.uniform(-1, 1, (STEPS * BATCH, 28, 28, 1)).astype("float32")
        labels = rng.integers(0, CLASSES, STEPS * BATCH).astype("int32")
        data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH).repeat()
        history = gan.fit(data, epochs=1, steps_per_epoch=STEPS, verbose=0).history
    weights = np.concatenate([np.ravel(weights) for weights in gan.get_weights()])
    return weights, history["d_loss"], devices_holding(gan.generator.weights[0])


def devices_holding(variable) -> int:
    """On how many devices `variable` lives: its replicas (TensorFlow) or its sharding's devices (JAX)."""
    if keras.backend.backend() == "jax":
        return len(variable.value.sharding.device_set)
    return len(getattr(variable.value, "values", [variable.value]))


def replica_draws(devices):
    """Each replica's latents, and its DiffAugment of the same images, for one step (TensorFlow; JAX draws for
    the whole batch as one array), and what one device draws for the replicas' batches side by side."""
    share = np.random.default_rng(1).uniform(-1, 1, (BATCH // len(devices), 28, 28, 1)).astype("float32")

    def draws(gan, images):
        return gan.sample_latents(ops.shape(images)[0]), diff_augment(images, POLICIES, gan.seed_generator)

    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        gan = build(ema_decay=None)
    per_replica = strategy.run(tf.function(lambda: draws(gan, share)))
    replicas = [
        np.stack([value.numpy() for value in strategy.experimental_local_results(part)]) for part in per_replica
    ]
    one_device = draws(build(ema_decay=None), np.concatenate([share] * len(devices)))
    return {"replica_latents": replicas[0], "one_device_latents": ops.convert_to_numpy(one_device[0]),
            "replica_augmented": replicas[1], "one_device_augmented": ops.convert_to_numpy(one_device[1]),
            "share": share}  # fmt: skip


def compare_steps(out):
    devices = backend.devices()
    assert len(devices) == DEVICES, devices
    start = build().get_weights()
    (one, one_loss, one_on), (many, many_loss, many_on) = trained(devices[:1], start), trained(devices, start)
    results = {"start": np.concatenate([np.ravel(w) for w in start]), "one": one, "many": many,
               "one_d_loss": one_loss, "many_d_loss": many_loss, "devices_holding": [one_on, many_on]}  # fmt: skip
    if keras.backend.backend() == "tensorflow":
        results.update(replica_draws(devices))
    np.savez(out, **results)


def train_as_host(port: str, process_id: int, out):
    """Join a two-process JAX cluster on 127.0.0.1 (Keras' `initialize`), train STEPS steps data-parallel over
    both processes' devices (each process reads the same batches; Keras gives each its share), and save the
    result."""
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(f"127.0.0.1:{port}", 2, process_id)
    devices = backend.devices()
    weights, losses, holding = trained(devices, build().get_weights())
    np.savez(out, weights=weights, d_loss=losses, devices=len(devices), holding=holding)


if __name__ == "__main__":
    if sys.argv[2] == "train":
        sys.exit(train.main(sys.argv[3:]))
    if sys.argv[2] == "host":
        train_as_host(sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        compare_steps(sys.argv[3])

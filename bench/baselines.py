"""The keras.io GAN examples, re-implemented as published, to measure against.

keras.io "GAN overriding Model.train_step" (the DCGAN on MNIST): see
../shared/README.md §3. Kept faithful on purpose — including its choices that
`gan_core` does differently (labels 1 = fake, label noise, sigmoid output).
"""

import keras
from keras import layers, ops

from gan_core import backend

KERAS_IO_DCGAN = {"latent_dim": 128, "batch_size": 64, "lr": 3e-4}


def keras_io_dcgan_generator(latent_dim: int = 128) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(7 * 7 * 128),
            layers.LeakyReLU(0.2),
            layers.Reshape((7, 7, 128)),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(1, 7, padding="same", activation="sigmoid"),
        ],
        name="generator",
    )


def keras_io_dcgan_discriminator() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, 3, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(128, 3, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(1),
        ],
        name="discriminator",
    )


class KerasIoDCGAN(keras.Model):
    """The keras.io DCGAN's `train_step`: D sees [fake; real] labelled [1; 0] plus
    0.05·U(0, 1) label noise, G is trained to make D answer 0 ("real").
    Images are in [0, 1]; the shared pipeline's [−1, 1] batches are rescaled.
    """

    def __init__(self, latent_dim: int = 128, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.generator = keras_io_dcgan_generator(latent_dim)
        self.discriminator = keras_io_dcgan_discriminator()
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    def compile(self, lr: float = KERAS_IO_DCGAN["lr"], **kwargs):
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = keras.optimizers.Adam(lr)
        self.g_optimizer = keras.optimizers.Adam(lr)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, data):
        real_images = (keras.utils.unpack_x_y_sample_weight(data)[0] + 1.0) / 2.0
        batch_size = ops.shape(real_images)[0]
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        combined = ops.concatenate([self.generator(latents), real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)

        def d_loss_fn():
            return self.loss_fn(labels, self.discriminator(combined)), None

        d_loss, _ = backend.minimize(d_loss_fn, self.discriminator.trainable_variables, self.d_optimizer)

        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = ops.zeros((batch_size, 1))

        def g_loss_fn():
            return self.loss_fn(misleading_labels, self.discriminator(self.generator(latents))), None

        g_loss, _ = backend.minimize(g_loss_fn, self.generator.trainable_variables, self.g_optimizer)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {metric.name: metric.result() for metric in self.metrics}

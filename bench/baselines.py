"""The keras.io GAN examples, re-implemented as published, to measure against.

keras.io "GAN overriding Model.train_step" (the DCGAN on MNIST) and "WGAN-GP
overriding Model.train_step" (Fashion-MNIST), as described in
../shared/README.md §3. Kept faithful on purpose — including choices that
`gan_core` makes differently (labels 1 = fake, label noise, sigmoid output).
"""

import keras
from keras import layers, ops

from gan_core import backend
from gan_core.model import BothOptimizers

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


class _KerasIoGAN(keras.Model):
    """What the keras.io examples share: two networks, a seeded latent sampler, and two loss trackers."""

    def __init__(self, generator, discriminator, latent_dim: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.generator = generator
        self.discriminator = discriminator
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def sample_latents(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def train_step(self, *args):
        """The example's `play_round` as Keras' trainer on this backend calls it (see `gan_core.backend`)."""
        return backend.train_step(self, self.play_round, *args)

    def record(self, d_loss, g_loss):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {metric.name: metric.result() for metric in self.metrics}


class KerasIoDCGAN(_KerasIoGAN):
    """The keras.io DCGAN's `train_step`: D sees [fake; real] labelled [1; 0] plus
    0.05·U(0, 1) label noise, G is trained to make D answer 0 ("real").
    Images are in [0, 1]; the shared pipeline's [−1, 1] batches are rescaled.
    """

    def __init__(self, latent_dim: int = 128, seed: int | None = None, **kwargs):
        super().__init__(
            keras_io_dcgan_generator(latent_dim), keras_io_dcgan_discriminator(), latent_dim, seed, **kwargs
        )

    def compile(self, lr: float = KERAS_IO_DCGAN["lr"], **kwargs):
        super().compile(optimizer=None, **kwargs)
        BothOptimizers.attach(self, keras.optimizers.Adam(lr), keras.optimizers.Adam(lr))
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def play_round(self, data):
        real_images = (keras.utils.unpack_x_y_sample_weight(data)[0] + 1.0) / 2.0
        batch_size = ops.shape(real_images)[0]
        latents = self.sample_latents(batch_size)
        combined = ops.concatenate([self.generator(latents), real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)

        def d_loss_fn():
            return self.loss_fn(labels, self.discriminator(combined)), None

        d_loss, _ = backend.minimize(d_loss_fn, self.discriminator.trainable_variables, self.d_optimizer)

        latents = self.sample_latents(batch_size)
        misleading_labels = ops.zeros((batch_size, 1))

        def g_loss_fn():
            return self.loss_fn(misleading_labels, self.discriminator(self.generator(latents))), None

        g_loss, _ = backend.minimize(g_loss_fn, self.generator.trainable_variables, self.g_optimizer)
        return self.record(d_loss, g_loss)


KERAS_IO_WGAN_GP = {"latent_dim": 128, "batch_size": 512, "lr": 2e-4, "d_steps": 3, "gp_weight": 10.0}


def keras_io_wgan_critic() -> keras.Model:
    x = image = keras.Input((28, 28, 1))
    x = layers.ZeroPadding2D(2)(x)
    for filters, dropout in ((64, 0), (128, 0.3), (256, 0.3), (512, 0)):
        x = layers.Conv2D(filters, 5, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    x = layers.Dropout(0.2)(layers.Flatten()(x))
    return keras.Model(image, layers.Dense(1)(x), name="critic")


def keras_io_wgan_generator(latent_dim: int = 128) -> keras.Model:
    z = keras.Input((latent_dim,))
    x = layers.Dense(4 * 4 * 256, use_bias=False)(z)
    x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))
    x = layers.Reshape((4, 4, 256))(x)
    for filters in (128, 64):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(layers.UpSampling2D()(x))
        x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))
    x = layers.Conv2D(1, 3, padding="same", use_bias=False)(layers.UpSampling2D()(x))
    x = layers.Activation("tanh")(layers.BatchNormalization()(x))
    return keras.Model(z, layers.Cropping2D(2)(x), name="generator")


class KerasIoWGANGP(_KerasIoGAN):
    """The keras.io WGAN-GP's `train_step`: `d_steps` critic updates on the same real batch with
    loss E[D(G(z))] − E[D(x)] + 10·GP, then one generator update with −E[D(G(z))]. Images in [−1, 1]."""

    def __init__(self, latent_dim: int = 128, seed: int | None = None, **kwargs):
        super().__init__(keras_io_wgan_generator(latent_dim), keras_io_wgan_critic(), latent_dim, seed, **kwargs)

    def compile(self, lr: float = KERAS_IO_WGAN_GP["lr"], **kwargs):
        super().compile(optimizer=None, **kwargs)
        BothOptimizers.attach(
            self, keras.optimizers.Adam(lr, beta_1=0.5, beta_2=0.9), keras.optimizers.Adam(lr, beta_1=0.5, beta_2=0.9)
        )

    def gradient_penalty(self, real_images, fake_images):
        alpha = keras.random.uniform((ops.shape(real_images)[0], 1, 1, 1), seed=self.seed_generator)
        mixed = real_images + alpha * (fake_images - real_images)
        gradients = backend.input_gradients(lambda x: self.discriminator(x, training=True), mixed)
        norms = ops.sqrt(ops.sum(ops.square(gradients), axis=[1, 2, 3]))
        return ops.mean((norms - 1.0) ** 2)

    def play_round(self, data):
        real_images = keras.utils.unpack_x_y_sample_weight(data)[0]
        batch_size = ops.shape(real_images)[0]
        for _ in range(KERAS_IO_WGAN_GP["d_steps"]):
            latents = self.sample_latents(batch_size)

            def d_loss_fn(latents=latents):
                fake_images = self.generator(latents, training=True)
                cost = ops.mean(self.discriminator(fake_images, training=True)) - ops.mean(
                    self.discriminator(real_images, training=True)
                )
                penalty = self.gradient_penalty(real_images, fake_images)
                return cost + KERAS_IO_WGAN_GP["gp_weight"] * penalty, None

            d_loss, _ = backend.minimize(d_loss_fn, self.discriminator.trainable_variables, self.d_optimizer)

        latents = self.sample_latents(batch_size)

        def g_loss_fn():
            return -ops.mean(self.discriminator(self.generator(latents, training=True), training=True)), None

        g_loss, _ = backend.minimize(g_loss_fn, self.generator.trainable_variables, self.g_optimizer)
        return self.record(d_loss, g_loss)

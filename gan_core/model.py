"""The GAN as a `keras.Model`: alternating D and G updates inside `fit`."""

import keras
import numpy as np
from keras import ops

from gan_core import backend, losses
from gan_core.augment import diff_augment, parse_policy
from gan_core.latent import resolve_latents
from gan_core.samples import generate_images

R1_EVERY = 16  # D steps between lazy R1 penalties (StyleGAN2's interval)


class BothOptimizers:
    """`GAN.optimizer`: the generator's and the discriminator's optimizers, seen as one by Keras' trainers.

    Keras' trainers know one optimizer per model. JAX's carries `model.optimizer.variables`
    from one compiled step to the next, so both optimizers' variables must be there; callbacks
    that change learning rates (`keras.callbacks.LearningRateScheduler`) find both in
    `optimizers`, and `iterations` counts training steps. It applies no gradients itself and is
    not saved (each optimizer is saved under its own name). It is `built` because `attach`
    builds both optimizers: Keras would otherwise build it on every trainable variable.
    """

    built = True

    def __init__(self, generator_optimizer, discriminator_optimizer):
        self.optimizers = [generator_optimizer, discriminator_optimizer]

    @classmethod
    def attach(cls, model, generator_optimizer, discriminator_optimizer) -> None:
        """Give `model` (with `generator` and `discriminator` networks) one optimizer per network as
        `g_optimizer` and `d_optimizer`, built now, and both as `model.optimizer`.

        Built now because optimizer slots must exist before a checkpoint can be restored into them,
        and JAX's trainer carries their variables from the first step.
        """
        model.g_optimizer, model.d_optimizer = generator_optimizer, discriminator_optimizer
        generator_optimizer.build(model.generator.trainable_variables)
        discriminator_optimizer.build(model.discriminator.trainable_variables)
        model.optimizer = cls(generator_optimizer, discriminator_optimizer)

    @property
    def variables(self):
        return [variable for optimizer in self.optimizers for variable in optimizer.variables]

    @property
    def iterations(self):
        return self.optimizers[0].iterations


@keras.saving.register_keras_serializable(package="gan_core")
class GAN(keras.Model):
    """A generator and a discriminator trained against each other with `fit`.

    Each `train_step` is one round of the minimax game
    min_G max_D E[log D(x)] + E[log(1 − D(G(z)))]:
    first one discriminator update on a real and a generated batch, then one
    generator update against the updated discriminator. Each update touches
    only its own network's weights.

    With `num_classes`, both networks take the image's label as a second input
    and the data must yield `(images, labels)`.

    With `ema_decay`, a copy of the generator follows an exponential moving
    average of its weights after every generator step; that smoother copy is
    the one used for sampling and saving (`sampling_generator`), with
    batch-norm statistics of its own: call `refresh_ema_statistics` after
    training and before sampling (`saved_model.save` and the callbacks do).

    With `augment` (a DiffAugment policy such as "color,translation,cutout",
    see `gan_core.augment`), every image D sees, real or generated, is
    augmented first: for small data sets, where D would otherwise memorise.
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        num_classes=None,
        seed=None,
        ema_decay=None,
        augment=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.seed = seed
        self.ema_decay = ema_decay
        self.augment = augment
        self.augment_policy = parse_policy(augment)
        if ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_generator.trainable = False
        self._statistics_step = None
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.built = True

    def compile(self, g_optimizer, d_optimizer, loss="nonsaturating", r1_gamma=None, r1_every=R1_EVERY, **kwargs):
        """Set one optimizer per network, the GAN loss (see `gan_core.losses`) and, with
        `r1_gamma`, an R1 penalty on real images applied every `r1_every` D steps."""
        super().compile(optimizer=None, **kwargs)
        BothOptimizers.attach(self, keras.optimizers.get(g_optimizer), keras.optimizers.get(d_optimizer))
        self.gan_loss = loss
        self.r1_gamma = r1_gamma
        self.r1_every = r1_every
        self.discriminator_loss, self.generator_loss = losses.get(loss)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def sample_latents(self, batch_size):
        """`batch_size` latents for this step (with several replicas, this replica's share of one draw)."""
        return backend.replica_share(
            lambda count: keras.random.normal((count, self.latent_dim), seed=self.seed_generator), batch_size
        )

    def _with_labels(self, inputs, labels):
        if not self.num_classes:
            return inputs
        if labels is None:
            raise ValueError("A conditional GAN needs (images, labels) batches; the data has no labels.")
        return [inputs, labels]

    def _discriminate(self, images, labels):
        """D's logits for `images`, augmented first when the GAN has an augmentation policy."""
        images = diff_augment(images, self.augment_policy, self.seed_generator)
        return self.discriminator(self._with_labels(images, labels), training=True)

    def train_discriminator(self, real_images, labels=None):
        """One D step: BCE(D(x) → 1) + BCE(D(G(z)) → 0). Returns loss and both logits."""
        batch_size = ops.shape(real_images)[0]
        fake_images = self.generator(self._with_labels(self.sample_latents(batch_size), labels), training=True)
        images = ops.concatenate([real_images, fake_images], axis=0)
        both_labels = None if labels is None else ops.concatenate([labels, labels], axis=0)

        def loss_fn():
            logits = self._discriminate(images, both_labels)
            real_logits, fake_logits = logits[:batch_size], logits[batch_size:]
            loss = self.discriminator_loss(real_logits, fake_logits)
            if self.r1_gamma:
                loss = loss + self._lazy_r1_penalty(real_images, labels)
            return loss, (real_logits, fake_logits)

        return backend.minimize(loss_fn, self.discriminator.trainable_variables, self.d_optimizer)

    def r1_penalty(self, real_images, labels=None):
        """R1 (Mescheder et al., 2018): (γ/2)·E[‖∇ₓ D(x)‖²] on real images keeps D smooth where the data is."""
        # D in inference mode: it has no batch norm or dropout, and a spectral norm's power iteration would
        # otherwise run a second time in the step (inside a traced branch, where JAX cannot keep its update).
        gradients = backend.input_gradients(
            lambda x: self.discriminator(self._with_labels(x, labels), training=False), real_images
        )
        return 0.5 * self.r1_gamma * ops.mean(ops.sum(ops.square(gradients), axis=[1, 2, 3]))

    def _lazy_r1_penalty(self, real_images, labels):
        """The R1 penalty every `r1_every` D steps, scaled by `r1_every` (lazy regularisation, StyleGAN2)."""
        return ops.cond(
            ops.equal(self.d_optimizer.iterations % self.r1_every, 0),
            lambda: self.r1_every * self.r1_penalty(real_images, labels),
            lambda: ops.zeros(()),
        )

    def train_generator(self, batch_size, labels=None):
        """One G step against the current D. Returns the generator loss."""
        latents = self.sample_latents(batch_size)

        def loss_fn():
            fake_images = self.generator(self._with_labels(latents, labels), training=True)
            fake_logits = self._discriminate(fake_images, labels)
            return self.generator_loss(fake_logits), None

        loss, _ = backend.minimize(loss_fn, self.generator.trainable_variables, self.g_optimizer)
        return loss

    def train_step(self, *args):
        """One D step, then one G step (`play_round`); on JAX, as the pure function of the variables' values
        that its trainer calls with `(state, data)` (see `gan_core.backend_jax`)."""
        return backend.train_step(self, self.play_round, *args)

    def play_round(self, data):
        real_images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        d_loss, (real_logits, fake_logits) = self.train_discriminator(real_images, labels)
        g_loss = self.train_generator(ops.shape(real_images)[0], labels)

        if self.ema_decay is not None:
            self.update_ema()

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(ops.mean(ops.sigmoid(real_logits)))
        self.d_fake_tracker.update_state(ops.mean(ops.sigmoid(fake_logits)))
        return {metric.name: metric.result() for metric in self.metrics}

    def update_ema(self):
        """EMA weights ← d·EMA + (1 − d)·current, for trainable weights (see `refresh_ema_statistics`).

        d = min(ema_decay, (1 + t) / (10 + t)) after t generator steps: a short average while
        the generator changes fast, so early samples do not drag the random initial weights along.
        """
        steps = ops.cast(self.g_optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + steps) / (10.0 + steps))
        for average, current in zip(self.ema_generator.weights, self.generator.weights, strict=True):
            if current.trainable:
                average.assign(decay * average + (1.0 - decay) * current)

    def refresh_ema_statistics(self, batches: int = 32, batch_size: int = 256) -> None:
        """Measure the EMA generator's batch-norm statistics on its own activations ("standing
        statistics", Brock et al., 2019), once per training step count.

        The live generator's running statistics belong to the live weights; on the averaged
        weights they shrink the variety of the samples (on Fashion-MNIST: FD 64 → 54, recall
        0.22 → 0.30). The latents come from a fixed seed, so the training sampler is untouched
        and the same weights always get the same statistics.
        """
        if self.ema_decay is None:
            return
        step = int(ops.convert_to_numpy(self.g_optimizer.iterations)) if self.compiled else 0
        norms = [layer for layer in self.ema_generator.layers if isinstance(layer, keras.layers.BatchNormalization)]
        if not norms or step == self._statistics_step:
            return
        momenta = [layer.momentum for layer in norms]
        rng = np.random.default_rng(0)
        self.ema_generator.trainable = True  # a frozen batch-norm layer never updates its statistics
        try:
            for batch in range(batches):
                for layer in norms:
                    layer.momentum = batch / (batch + 1)  # running mean over the batches so far
                latents = rng.standard_normal((batch_size, self.latent_dim)).astype("float32")
                labels = np.arange(batch_size, dtype="int32") % self.num_classes if self.num_classes else None
                self.ema_generator(self._with_labels(latents, labels), training=True)
        finally:
            self.ema_generator.trainable = False
            for layer, momentum in zip(norms, momenta, strict=True):
                layer.momentum = momentum
        self._statistics_step = step

    @property
    def sampling_generator(self):
        """The generator to sample from and to publish: the EMA copy when there is one."""
        return self.ema_generator if self.ema_decay is not None else self.generator

    def call(self, inputs, training=False):
        return self.sampling_generator(inputs, training=training)

    def generate(self, seeds=None, *, latents=None, labels=None) -> np.ndarray:
        """Images (uint8, NHWC) for the given seeds or latent vectors, from `sampling_generator`.

        With EMA, it samples with the batch-norm statistics last measured: call
        `refresh_ema_statistics` first after training.
        """
        latents = resolve_latents(seeds, latents, self.latent_dim)
        return generate_images(
            lambda inputs: backend.predict(self.sampling_generator, inputs, batch_size=256),
            latents,
            labels,
            self.num_classes,
        )

    # The latent sampler's position is training state too: restore it on resume.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_generator_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        self.seed_generator.state.assign(store["seed_generator_state"])

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "seed": self.seed,
            "ema_decay": self.ema_decay,
            "augment": self.augment,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for network in ("generator", "discriminator"):
            config[network] = keras.saving.deserialize_keras_object(config[network])
        return cls(**config)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "loss": self.gan_loss,
            "r1_gamma": self.r1_gamma,
            "r1_every": self.r1_every,
        }

    def compile_from_config(self, config):
        self.compile(
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
            loss=config["loss"],
            r1_gamma=config.get("r1_gamma"),
            r1_every=config.get("r1_every", R1_EVERY),
        )

"""The training recipe: every hyperparameter that shapes a run, in one place."""

import dataclasses

import keras

from gan_core.model import GAN, R1_EVERY
from gan_core.networks import build_discriminator, build_generator


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The default recipe: what `python train.py` trains, each choice measured on 2 CPU cores.

    DCGAN networks at width 64 with batch 128 and Adam (2e-4, β1 = 0.5, the DCGAN
    paper's stable setting) train about 920 images/s there, 4.6× the keras.io DCGAN.
    On labelled data both networks see the class (projection discriminator), and
    samples come from an EMA of the generator's weights with batch-norm statistics of
    its own. In 600 s of training (bench/quality.py) these two take FD from 89.5 to
    54.1 (seed 0; median of two seeds 60.8, 0.185× the keras.io DCGAN's) and let the
    app ask for a class. Hinge loss, R1 and DiffAugment are options, not defaults.
    """

    latent_dim: int = 128
    width: int = 64
    batch_size: int = 128
    lr: float = 2e-4
    beta_1: float = 0.5
    loss: str = "nonsaturating"
    conditional: bool = True
    conditional_norm: bool = False
    spectral_norm: bool = False
    d_lr: float | None = None
    ema: float | None = 0.999
    r1_gamma: float | None = None
    r1_every: int = R1_EVERY
    augment: str | None = None
    epochs: int = 20


def build_gan(
    recipe: Recipe, image_shape, num_classes: int | None = None, seed: int | None = None, jit_compile="auto"
) -> GAN:
    """A compiled `GAN` for images of `image_shape` (H, W, C), following `recipe`.

    `jit_compile="auto"` uses XLA on accelerators only: on CPU it slows the step down.
    """
    image_size, _, channels = image_shape
    if recipe.conditional and not num_classes:
        raise ValueError("A conditional recipe needs labelled data (a data set with classes).")
    num_classes = num_classes if recipe.conditional else None
    gan = GAN(
        build_generator(recipe.latent_dim, image_size, channels, recipe.width, num_classes, recipe.conditional_norm),
        build_discriminator(image_size, channels, recipe.width, num_classes, recipe.spectral_norm),
        latent_dim=recipe.latent_dim,
        num_classes=num_classes,
        seed=seed,
        ema_decay=recipe.ema or None,
        augment=recipe.augment,
    )
    gan.compile(
        g_optimizer=keras.optimizers.Adam(recipe.lr, beta_1=recipe.beta_1),
        d_optimizer=keras.optimizers.Adam(recipe.d_lr or recipe.lr, beta_1=recipe.beta_1),
        loss=recipe.loss,
        r1_gamma=recipe.r1_gamma,
        r1_every=recipe.r1_every,
        jit_compile=jit_compile,
    )
    return gan

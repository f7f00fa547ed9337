"""The training recipe: every hyperparameter that shapes a run, in one place."""

import dataclasses

import keras

from gan_core.model import GAN, R1_EVERY
from gan_core.networks import build_discriminator, build_generator


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The default recipe: what `python train.py` trains, each choice measured on 2 CPU cores.

    DCGAN networks at width 64 with batch 128 and Adam (β1 = 0.5) train about 920 images/s
    on the reference machine, 4.6× the keras.io DCGAN. The learning rate starts at 6e-4 and
    falls along a cosine to the DCGAN paper's stable 2e-4 by epoch 8: the fast start gives
    FD 17–20 after 600 s where a constant 2e-4 gives 100, and its class recalls stay ahead of
    the constant rate's at every epoch measured. 28 epochs, not 22, reach the bundled model's
    targets (FD ≤ 7.5, mean class recall ≥ 0.7; bench/README.md, "A learning rate that falls"
    and the curves measured on a GPU). On labelled data both networks see the class
    (projection discriminator), and samples come from an EMA of the generator's weights with
    batch-norm statistics of its own (bench/quality.py: FD 89.5 → 54.1 in 600 s).

    The generator takes the class through conditional batch norm, not beside z: with the
    label embedding concatenated to z, one class (Sandal) learned an embedding whose
    contribution to the first layer was 4× z's and, through the batch norm shared by all
    classes, pushed that class's units to where z no longer mattered, so it collapsed.
    At equal steps conditional batch norm raised the lowest class's recall from 0.005 to
    0.065 and the mean per-class recall from 0.06 to 0.24 at the same FD (bench/README.md,
    "Why a class collapses"). Spectral norm, hinge loss, R1 and DiffAugment are options.
    """

    latent_dim: int = 128
    width: int = 64
    batch_size: int = 128
    lr: float = 6e-4
    beta_1: float = 0.5
    loss: str = "nonsaturating"
    conditional: bool = True
    conditional_norm: bool = True
    spectral_norm: bool = False
    d_lr: float | None = None
    lr_final: float | None = 2e-4
    lr_decay_epochs: int | None = 8
    ema: float | None = 0.999
    r1_gamma: float | None = None
    r1_every: int = R1_EVERY
    augment: str | None = None
    epochs: int = 28


# What a recipe recorded before a field existed meant (a run folder or gan.json of an older
# version): the behaviour of the code then, which the field's default may since have changed.
BEFORE_FIELD_EXISTED = {
    "conditional_norm": False,
    "spectral_norm": False,
    "d_lr": None,
    "lr_final": None,
    "lr_decay_epochs": None,
    "r1_every": R1_EVERY,
}


def recorded_recipe(record: dict) -> Recipe:
    """The `Recipe` a recorded one (`gan.json`'s "recipe") describes, whatever version recorded it."""
    names = {field.name for field in dataclasses.fields(Recipe)}
    return Recipe(**{**BEFORE_FIELD_EXISTED, **{name: value for name, value in record.items() if name in names}})


def learning_rate(recipe: Recipe, initial: float, steps_per_epoch: int | None):
    """`initial`, or with `recipe.lr_final` and a known epoch length a cosine decay from it to
    `initial × lr_final / lr` over `lr_decay_epochs` (default: every epoch of the run).

    Both networks decay by the same ratio, so a two-time-scale recipe keeps its ratio. After the
    decay (a shorter `lr_decay_epochs`, or a finished run trained further) the rate stays at its
    final value; a model built without an epoch length (a benchmark of speed, a test) keeps the
    initial rate.
    """
    if recipe.lr_final is None or not steps_per_epoch:
        return initial
    if recipe.lr_final > recipe.lr:
        raise ValueError(f"lr_final ({recipe.lr_final}) must not be larger than lr ({recipe.lr}): the rate decays.")
    decay_steps = (recipe.lr_decay_epochs or recipe.epochs) * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(initial, decay_steps=decay_steps, alpha=recipe.lr_final / recipe.lr)


def build_gan(
    recipe: Recipe,
    image_shape,
    num_classes: int | None = None,
    seed: int | None = None,
    jit_compile="auto",
    steps_per_epoch: int | None = None,
) -> GAN:
    """A compiled `GAN` for images of `image_shape` (H, W, C), following `recipe`.

    `steps_per_epoch` sets the horizon of a decaying learning rate (`recipe.lr_final`); a
    recipe without one ignores it.

    `jit_compile="auto"` is Keras' choice, XLA on accelerators only; `train.py` asks for XLA
    everywhere (`training.Options.xla`), measured faster on this project's 2-core CI machine.
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
        g_optimizer=keras.optimizers.Adam(learning_rate(recipe, recipe.lr, steps_per_epoch), beta_1=recipe.beta_1),
        d_optimizer=keras.optimizers.Adam(
            learning_rate(recipe, recipe.d_lr or recipe.lr, steps_per_epoch), beta_1=recipe.beta_1
        ),
        loss=recipe.loss,
        r1_gamma=recipe.r1_gamma,
        r1_every=recipe.r1_every,
        jit_compile=jit_compile,
    )
    return gan

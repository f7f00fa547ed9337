"""DCGAN generator and discriminator builders.

Both are functional models made of Keras' own layers only, so a saved
generator loads with plain `keras.saving.load_model` — no `gan_core` needed.

Sizes: 28 px images start from a 7×7 map (two 2× upsamplings), 32 and 64 px
from 4×4 (three or four). Channel counts scale with `width`; the generator
halves them at each upsampling, the discriminator doubles them at each
downsampling. Conditional models (`num_classes`) take an integer label as a
second input: the generator concatenates a learned label embedding to z, the
discriminator adds a projection term ⟨embed(y), φ(x)⟩ to its logit
(Miyato & Koyama, 2018).
"""

import keras
from keras import layers

IMAGE_SIZES = (28, 32, 64)


def _num_upsamplings(image_size: int) -> int:
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size}.")
    return {28: 2, 32: 3, 64: 4}[image_size]


def build_generator(
    latent_dim: int = 128,
    image_size: int = 28,
    channels: int = 1,
    width: int = 64,
    num_classes: int | None = None,
    name: str = "generator",
) -> keras.Model:
    """z (and a label) → image in [−1, 1] with shape (image_size, image_size, channels)."""
    steps = _num_upsamplings(image_size)
    base = 7 if image_size == 28 else 4
    filters = width * 2 ** (steps - 1)

    z = keras.Input((latent_dim,), name="z")
    inputs = [z]
    x = z
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        x = layers.Concatenate()([z, layers.Embedding(num_classes, latent_dim)(label)])

    x = layers.Dense(base * base * filters, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((base, base, filters))(x)
    for _ in range(steps - 1):
        filters //= 2
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    images = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh")(x)
    return keras.Model(inputs if num_classes else z, images, name=name)


def build_discriminator(
    image_size: int = 28,
    channels: int = 1,
    width: int = 64,
    num_classes: int | None = None,
    name: str = "discriminator",
) -> keras.Model:
    """Image (and a label) → one logit: large for real, small for generated."""
    steps = _num_upsamplings(image_size)

    image = keras.Input((image_size, image_size, channels), name="image")
    x = image
    for i in range(steps):
        x = layers.Conv2D(width * 2**i, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    features = layers.Flatten()(x)
    logit = layers.Dense(1)(features)
    if not num_classes:
        return keras.Model(image, logit, name=name)

    label = keras.Input((), dtype="int32", name="label")
    label_embedding = layers.Embedding(num_classes, features.shape[-1])(label)
    projection = layers.Dot(axes=1)([features, label_embedding])
    return keras.Model([image, label], layers.Add()([logit, projection]), name=name)

"""DCGAN generator and discriminator builders.

Both are functional models made of Keras' own layers only, so a saved
generator loads with plain `keras.saving.load_model` — no `gan_core` needed.

Sizes: 28 px images start from a 7×7 map (two 2× upsamplings), 32 and 64 px
from 4×4 (three or four). Channel counts scale with `width`; the generator
halves them at each upsampling, the discriminator doubles them at each
downsampling. Conditional models (`num_classes`) take an integer label as a
second input: the generator concatenates a learned label embedding to z (or, with
`conditional_norm`, conditions its batch norms on it), the discriminator adds a
projection term ⟨embed(y), φ(x)⟩ to its logit (Miyato & Koyama, 2018).
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
    conditional_norm: bool = False,
    name: str = "generator",
) -> keras.Model:
    """z (and a label) → image in [−1, 1] with shape (image_size, image_size, channels).

    A conditional generator embeds the label once. By default the embedding is
    concatenated to z; with `conditional_norm` it instead sets the scale and shift of
    every batch normalisation (conditional batch norm, as in BigGAN's shared embedding),
    so no class can move the normalised activations of the whole batch (see `_normalize`).
    """
    steps = _num_upsamplings(image_size)
    base = 7 if image_size == 28 else 4
    filters = width * 2 ** (steps - 1)

    z = keras.Input((latent_dim,), name="z")
    inputs, x, embedding = [z], z, None
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        embedding = layers.Embedding(num_classes, latent_dim)(label)
        if not conditional_norm:
            x, embedding = layers.Concatenate()([z, embedding]), None

    x = layers.Dense(base * base * filters, use_bias=False)(x)
    if embedding is None:  # DCGAN's batch norm over each unit of the flat map
        x = layers.Reshape((base, base, filters))(layers.ReLU()(layers.BatchNormalization()(x)))
    else:
        x = layers.ReLU()(_normalize(layers.Reshape((base, base, filters))(x), embedding))
    for _ in range(steps - 1):
        filters //= 2
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
        x = layers.ReLU()(_normalize(x, embedding))
    images = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh")(x)
    return keras.Model(inputs if num_classes else z, images, name=name)


def _normalize(x, embedding=None):
    """Batch norm; with a label `embedding`, conditional batch norm: x̂·γ(e) + β(e).

    γ and β are linear in the embedding (γ starts at 1, β at 0), so a mix of two classes'
    embeddings, which the app's class morph feeds in, is still a valid input.
    """
    if embedding is None:
        return layers.BatchNormalization()(x)
    channels = x.shape[-1]
    x = layers.BatchNormalization(center=False, scale=False)(x)
    gain = layers.Dense(channels, kernel_initializer="zeros", bias_initializer="ones")(embedding)
    shift = layers.Dense(channels, kernel_initializer="zeros")(embedding)
    x = layers.Multiply()([x, layers.Reshape((1, 1, channels))(gain)])
    return layers.Add()([x, layers.Reshape((1, 1, channels))(shift)])


def build_discriminator(
    image_size: int = 28,
    channels: int = 1,
    width: int = 64,
    num_classes: int | None = None,
    spectral_norm: bool = False,
    name: str = "discriminator",
) -> keras.Model:
    """Image (and a label) → one logit: large for real, small for generated.

    With `spectral_norm`, every weight layer (the projection embedding too) is divided by
    its largest singular value at each training step (Miyato et al., 2018), which keeps D
    1-Lipschitz per layer: the projection discriminator's original setting.
    """
    steps = _num_upsamplings(image_size)
    normalized = layers.SpectralNormalization if spectral_norm else lambda layer: layer

    image = keras.Input((image_size, image_size, channels), name="image")
    x = image
    for i in range(steps):
        x = normalized(layers.Conv2D(width * 2**i, 4, strides=2, padding="same"))(x)
        x = layers.LeakyReLU(0.2)(x)
    features = layers.Flatten()(x)
    logit = normalized(layers.Dense(1))(features)
    if not num_classes:
        return keras.Model(image, logit, name=name)

    label = keras.Input((), dtype="int32", name="label")
    if spectral_norm:  # SpectralNormalization casts an Embedding's output to the labels' int dtype
        one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot")(label)
        label_embedding = normalized(layers.Dense(features.shape[-1], use_bias=False))(one_hot)
    else:
        label_embedding = layers.Embedding(num_classes, features.shape[-1])(label)
    projection = layers.Dot(axes=1)([features, label_embedding])
    return keras.Model([image, label], layers.Add()([logit, projection]), name=name)

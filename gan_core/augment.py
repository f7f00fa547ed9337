"""Differentiable augmentation (DiffAugment, Zhao et al., 2020) for training on few images.

With a few thousand images the discriminator memorises the training set and
stops teaching the generator. DiffAugment applies the same random
transformations to every image D sees, real or generated, in both the D and
the G step. The transformations are differentiable, so G's gradient passes
through them, and because both sides are augmented G is never pushed to
produce augmented-looking images.

A policy is a comma-separated list of transformation groups, e.g.
"color,translation,cutout" (the paper's choice for small data sets). Images
are NHWC in [−1, 1]; every image in a batch gets its own random draw, also across
replicas (`backend.replica_share`).
"""

from keras import ops, random

from gan_core import backend

POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2


def parse_policy(policy: str | None) -> tuple[str, ...]:
    """The group names in `policy`, e.g. ("color", "translation"); () for None or "" (no augmentation)."""
    if not policy:
        return ()
    names = tuple(name.strip() for name in policy.split(","))
    unknown = [name for name in names if name not in POLICIES]
    if unknown or len(set(names)) != len(names):
        raise ValueError(
            f"augmentation policy {policy!r}: expected distinct names from {', '.join(POLICIES)} "
            "separated by commas, e.g. 'color,translation,cutout'"
        )
    return names


def diff_augment(images, policy: tuple[str, ...], seed):
    """`images` transformed by each group of `policy` in turn, with randomness from `seed`."""
    for name in policy:
        images = _AUGMENTATIONS[name](images, seed)
    return images


def _uniform_per_image(images, low, high, seed):
    """One uniform draw per image, shaped to broadcast over H, W, C (with several replicas, this
    replica's share of one draw for all of their images)."""
    batch = ops.shape(images)[0]
    return backend.replica_share(lambda count: random.uniform((count, 1, 1, 1), low, high, seed=seed), batch)


def _integer_per_image(images, low, high, seed):
    """One integer in [low, high) per image, drawn as `_uniform_per_image` draws."""
    return backend.replica_share(lambda count: random.randint((count,), low, high, seed=seed), ops.shape(images)[0])


def random_color(images, seed):
    """Random brightness (±0.5), saturation (×0…2) and contrast (×0.5…1.5)."""
    images = images + _uniform_per_image(images, -0.5, 0.5, seed)
    channel_mean = ops.mean(images, axis=3, keepdims=True)
    images = (images - channel_mean) * _uniform_per_image(images, 0.0, 2.0, seed) + channel_mean
    image_mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - image_mean) * _uniform_per_image(images, 0.5, 1.5, seed) + image_mean


def _shift_matrices(shifts, size):
    """(N, size, size) 0/1 matrices M with (M @ v)[i] = v[i − shift], zero where i − shift is outside."""
    positions = ops.arange(size, dtype="int32")
    sources = positions[None, :, None] - shifts[:, None, None]
    return ops.cast(ops.equal(sources, positions[None, None, :]), "float32")


def translate(images, shifts_y, shifts_x):
    """Each image moved down by `shifts_y[i]` and right by `shifts_x[i]` pixels, zero-filled."""
    height, width = ops.shape(images)[1], ops.shape(images)[2]
    images = ops.einsum("nij,njwc->niwc", _shift_matrices(shifts_y, height), images)
    return ops.einsum("nwv,nhvc->nhwc", _shift_matrices(shifts_x, width), images)


def random_translation(images, seed):
    """Shift each image by up to 1/8 of its size in each direction."""
    height, width = ops.shape(images)[1], ops.shape(images)[2]
    max_y, max_x = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
    shifts_y = _integer_per_image(images, -max_y, max_y + 1, seed)
    shifts_x = _integer_per_image(images, -max_x, max_x + 1, seed)
    return translate(images, shifts_y, shifts_x)


def cutout(images, centers_y, centers_x, size_y, size_x):
    """Each image with a size_y × size_x rectangle around (centers_y[i], centers_x[i]) set to 0."""
    height, width = ops.shape(images)[1], ops.shape(images)[2]
    rows = ops.arange(height, dtype="int32")[None, :] - centers_y[:, None] + size_y // 2
    cols = ops.arange(width, dtype="int32")[None, :] - centers_x[:, None] + size_x // 2
    inside_rows = ops.logical_and(rows >= 0, rows < size_y)
    inside_cols = ops.logical_and(cols >= 0, cols < size_x)
    hole = ops.logical_and(inside_rows[:, :, None], inside_cols[:, None, :])
    return images * ops.cast(ops.logical_not(hole), images.dtype)[..., None]


def random_cutout(images, seed):
    """Zero a random half-size square in each image (it may stick out of the image)."""
    height, width = ops.shape(images)[1], ops.shape(images)[2]
    size_y, size_x = int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5)
    centers_y = _integer_per_image(images, 0, height + (1 - size_y % 2), seed)
    centers_x = _integer_per_image(images, 0, width + (1 - size_x % 2), seed)
    return cutout(images, centers_y, centers_x, size_y, size_x)


_AUGMENTATIONS = {"color": random_color, "translation": random_translation, "cutout": random_cutout}

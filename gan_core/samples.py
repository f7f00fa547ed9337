"""Turning generator outputs into pictures: uint8 images, grids, PNG files.

`to_unit_range` and `to_uint8` are the one pixel scaling between uint8 images in
[0, 255] and the networks' range [−1, 1].
"""

from pathlib import Path

import keras
import numpy as np
from PIL import Image

from gan_core.latent import labels_for_seeds, latents_from_seeds


def to_unit_range(images):
    """uint8 pixels in [0, 255] → float32 in [−1, 1], what the networks see; an array or a tensor."""
    return keras.ops.cast(images, "float32") / 127.5 - 1.0


def to_uint8(images) -> np.ndarray:
    """Map generator output in [−1, 1] to uint8 pixels in [0, 255] (the inverse of `to_unit_range`)."""
    images = np.asarray(images, dtype="float32")
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype("uint8")


def generate_images(generator_fn, latents, labels=None, num_classes=None):
    """Run `generator_fn` (network inputs → images in [−1, 1]) on latents, and labels
    for a conditional model → uint8 NHWC."""
    if num_classes:
        if labels is None:
            raise ValueError(f"This model is conditional: pass one label in 0 … {num_classes - 1} per image.")
        labels = np.broadcast_to(np.asarray(labels, dtype="int32"), (len(latents),))
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(f"Labels must be in 0 … {num_classes - 1}, got {sorted(set(labels.tolist()))}.")
        inputs = [latents, labels]
    elif labels is not None:
        raise ValueError("This model is unconditional: it takes no labels.")
    else:
        inputs = latents
    return to_uint8(generator_fn(inputs))


def image_grid(images: np.ndarray, columns: int | None = None, padding: int = 2, scale: int = 1) -> np.ndarray:
    """Tile uint8 NHWC images into one HWC image, upscaled by `scale` (nearest neighbour)."""
    n, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        dtype="uint8",
    )
    for i, image in enumerate(images):
        top = padding + (i // columns) * (height + padding)
        left = padding + (i % columns) * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid.repeat(scale, axis=0).repeat(scale, axis=1)


def save_png(image: np.ndarray, path) -> Path:
    """Write an HWC uint8 image (1 or 3 channels) to a PNG file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
    return path


def preview_grid(generate, num_classes: int | None = None) -> np.ndarray:
    """The grid used for progress and model previews: 64 fixed seeds.

    For a conditional model, 8 seeds per class, one class per column.
    """
    if num_classes:
        seeds = list(range(8 * num_classes))
        return image_grid(generate(seeds, labels=labels_for_seeds(seeds, num_classes)), columns=num_classes, scale=2)
    return image_grid(generate(list(range(64))), columns=8, scale=2)


def images_for_latents(generator, latents: np.ndarray, labels: np.ndarray | None = None, batch_size: int = 1000):
    """Images for many latents (and a label each, for a conditional model) from anything with
    `generate(latents=…, labels=…)`, `batch_size` at a time so memory stays bounded."""
    batches = [
        generator.generate(
            latents=latents[start : start + batch_size],
            labels=None if labels is None else labels[start : start + batch_size],
        )
        for start in range(0, len(latents), batch_size)
    ]
    return np.concatenate(batches)


def images_for_first_seeds(generator, n: int, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray | None]:
    """Images for seeds 0 … n−1 (and their labels, see `labels_for_seeds`) from a generator
    (see `images_for_latents`): the fixed sample that quality is measured on."""
    seeds = np.arange(n)
    labels = labels_for_seeds(seeds, generator.num_classes)
    return images_for_latents(generator, latents_from_seeds(seeds, generator.latent_dim), labels, batch_size), labels

import gzip
import os
import struct

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest

from gan_core.recipe import Recipe, build_gan

TINY_RECIPE = Recipe(latent_dim=16, width=8, batch_size=16)


def write_idx(path, array: np.ndarray, truncate_by: int = 0) -> None:
    """Write `array` (uint8) as a gzipped IDX file, optionally missing its last bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype("uint8").tobytes()
    with gzip.open(path, "wb") as file:
        file.write(raw[: len(raw) - truncate_by])


@pytest.fixture
def idx_dir(tmp_path):
    """A tiny Fashion-MNIST-shaped IDX data set: 64 images whose brightness encodes the label."""
    folder = tmp_path / "idx"
    folder.mkdir()
    labels = np.arange(64, dtype="uint8") % 10
    images = np.repeat(labels[:, None, None] * 25, 28 * 28).reshape(64, 28, 28)
    write_idx(folder / "train-images-idx3-ubyte.gz", images)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.fixture
def tiny_gan():
    keras.utils.set_random_seed(1)
    return build_gan(TINY_RECIPE, (28, 28, 1), seed=1)

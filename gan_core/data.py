"""Training data: Fashion-MNIST / MNIST from IDX files, or a folder of images.

Every loader returns an `ImageData` held in memory as uint8, after checking
every file, so a bad file stops the run before training with an error that
names it — never a silently smaller data set. `make_dataset` turns it into the
`tf.data` pipeline that `GAN.fit` consumes: images in [−1, 1], labels beside
them when there are any. Only image folders and `tf.data` need TensorFlow: on a
machine with JAX alone, IDX data sets train from a numpy generator.
"""

import dataclasses
import gzip
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np

from gan_core import backend
from gan_core.errors import DataError
from gan_core.samples import to_unit_range

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
MNIST_CLASSES = tuple(str(digit) for digit in range(10))

IDX_DATASETS = {
    "fashion-mnist": (FASHION_MNIST_CLASSES, keras.datasets.fashion_mnist),
    "mnist": (MNIST_CLASSES, keras.datasets.mnist),
}
DATASETS = (*IDX_DATASETS, "folder")
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SYSTEM_DATA_DIR = Path("/usr/share/datasets")


@dataclasses.dataclass(frozen=True)
class ImageData:
    """Images (uint8, NHWC), their integer labels (or None) and where they came from."""

    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...] | None
    name: str
    source: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.class_names else None


def read_idx(path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) of unsigned bytes into an array.

    Layout: 2 zero bytes, a type byte (0x08 = uint8), the number of
    dimensions, one big-endian uint32 per dimension, then the raw data.
    """
    path = Path(path)
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError) as error:
        raise DataError(f"Cannot read {path}: {error} (the file is truncated or corrupt).", value=path) from error
    if len(raw) < 4 or raw[0:2] != b"\0\0" or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes (bad header).", value=path)
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path} is truncated: its header is incomplete.", value=path)
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected = int(np.prod(shape))
    found = len(raw) - header_size
    if found != expected:
        raise DataError(
            f"{path} is truncated or corrupt: its header promises {expected} bytes "
            f"of data for shape {shape}, but it holds {found}.",
            value=path,
        )
    return np.frombuffer(raw, dtype="uint8", offset=header_size).reshape(shape)


def _find_idx_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def _read_idx_pair(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Images and labels from `directory`, or None when it has neither file."""
    image_stem, label_stem = IDX_FILES[split]
    image_file = _find_idx_file(directory, image_stem)
    label_file = _find_idx_file(directory, label_stem)
    if image_file is None and label_file is None:
        return None
    if image_file is None or label_file is None:
        missing = image_stem if image_file is None else label_stem
        raise DataError(f"{directory} has only half of the data set: {missing}(.gz) is missing.", value=directory)
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"{image_file} and {label_file} do not match: images {images.shape}, labels {labels.shape}.",
            value=directory,
        )
    return images, labels


def idx_search_path(name: str, data_dir=None) -> list[Path]:
    """The folders searched for `name`'s IDX files, in order."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    folders = [data_dir, os.environ.get("GAN_DATA_DIR"), keras_home / "datasets" / name, SYSTEM_DATA_DIR / name]
    return [Path(folder) for folder in folders if folder]


def load_idx_dataset(name: str, data_dir=None, split: str = "train", allow_download: bool = True) -> ImageData:
    """Fashion-MNIST or MNIST from the first place that has it (see `idx_search_path`).

    Falls back to a Keras download when `allow_download`; when every place
    fails, raises one `DataError` that lists them all and how to fix it (its
    `value` is `data_dir` as a Path when one was given, else `name`).
    """
    if name not in IDX_DATASETS:
        raise DataError(f"Unknown data set {name!r}; choose one of: {', '.join(DATASETS)}.", value=name)
    class_names, keras_module = IDX_DATASETS[name]
    tried = []
    for folder in idx_search_path(name, data_dir):
        pair = _read_idx_pair(folder, split)
        if pair is not None:
            return _idx_data(pair, class_names, name, str(folder))
        tried.append(f"{folder} (no {IDX_FILES[split][0]}.gz)")
    if allow_download:
        try:
            (train, test) = keras_module.load_data()
            return _idx_data(train if split == "train" else test, class_names, name, "keras download")
        except Exception as error:  # noqa: BLE001 - any download failure is reported, not raised
            tried.append(f"Keras download ({type(error).__name__}: {error})")
    else:
        tried.append("Keras download (disabled)")
    raise DataError(
        f"Could not find the {name} data set. Tried:\n  - " + "\n  - ".join(tried) + "\n"
        "Fix it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass "
        "--data-dir pointing at a folder with the IDX .gz files.",
        value=Path(data_dir) if data_dir else name,
    )


def _idx_data(pair, class_names, name, source) -> ImageData:
    images, labels = pair
    return ImageData(images[..., None], labels.astype("int32"), class_names, name, source)


def load_image_folder(directory, image_size: int, channels: int) -> ImageData:
    """Every image under `directory`, centre-cropped and resized to a square.

    Sub-folders, when there are any, are classes (their names are the labels);
    images directly in `directory` then are ignored, as in Keras.
    """
    import tensorflow as tf  # Keras reads image folders with tf.data

    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"Image folder {directory} does not exist or is not a folder.", value=directory)
    has_classes = any(path.is_dir() for path in directory.iterdir())
    try:
        dataset = keras.utils.image_dataset_from_directory(
            directory,
            labels="inferred" if has_classes else None,
            color_mode="grayscale" if channels == 1 else "rgb",
            image_size=(image_size, image_size),
            crop_to_aspect_ratio=True,
            batch_size=None,
            shuffle=False,
            verbose=False,
        )
    except ValueError as error:
        raise DataError(f"No usable images in {directory}: {error}", value=directory) from error
    images, labels = [], []
    iterator = iter(dataset)
    while True:
        try:
            element = next(iterator)
        except StopIteration:
            break
        except tf.errors.InvalidArgumentError as error:
            bad_file = dataset.file_paths[len(images)]
            reason = error.message.rsplit(": ", 1)[-1]
            raise DataError(f"Cannot decode image {bad_file}: {reason}", value=Path(bad_file)) from error
        image, label = element if has_classes else (element, None)
        images.append(np.clip(np.rint(image.numpy()), 0, 255).astype("uint8"))
        labels.append(label)
    return ImageData(
        np.stack(images),
        np.array(labels, dtype="int32") if has_classes else None,
        tuple(dataset.class_names) if has_classes else None,
        directory.name,
        str(directory),
    )


def load_data(
    dataset: str = "fashion-mnist",
    data_dir=None,
    image_size: int | None = None,
    channels: int | None = None,
    allow_download: bool = True,
) -> ImageData:
    """Load `dataset` ("fashion-mnist", "mnist" or "folder" with `data_dir`)."""
    if dataset == "folder":
        if data_dir is None:
            raise DataError("The folder data set needs --data-dir pointing at a folder of images.", value=data_dir)
        return load_image_folder(data_dir, image_size or 64, channels or 3)
    if image_size not in (None, 28) or channels not in (None, 1):
        raise DataError(
            f"{dataset} images are 28×28 grey; use --image-size 28 --channels 1.", value=(image_size, channels)
        )
    return load_idx_dataset(dataset, data_dir, allow_download=allow_download)


def make_dataset(data: ImageData, batch_size: int, seed: int | None = None):
    """An endless, shuffled stream of full batches: images in [−1, 1] (and labels); `tf.data` where
    TensorFlow is installed, else a numpy generator."""
    if batch_size > len(data.images):
        raise DataError(
            f"Batch size {batch_size} is larger than the data set ({len(data.images)} images).", value=batch_size
        )
    # Scaled once, here, not in a tf.data map: Keras' ops inside tf.data work on the TensorFlow backend only.
    images = keras.ops.convert_to_numpy(to_unit_range(data.images))
    if not backend.TENSORFLOW_INSTALLED:
        return _numpy_batches(images, data.labels, batch_size, seed)
    import tensorflow as tf

    return (
        tf.data.Dataset.from_tensor_slices(images if data.labels is None else (images, data.labels))
        .shuffle(len(data.images), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def _numpy_batches(images: np.ndarray, labels: np.ndarray | None, batch_size: int, seed: int | None) -> Iterator:
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(images))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[start : start + batch_size]
            yield images[batch] if labels is None else (images[batch], labels[batch])

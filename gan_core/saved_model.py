"""The saved-model folder that the app, the Hub and later training read.

    model/
      config.json, metadata.json, model.weights.h5   the generator, Keras' unzipped format
      gan.json                                       what the generator is and how it was trained
      samples.png                                    a preview grid from fixed seeds
      gan.keras                                      the whole GAN, to continue training

The generator at the root uses Keras' own layers only, so
`keras.saving.load_model(folder)` works without `gan_core`; `gan.keras`
needs `gan_core` imported. Folders are written beside their destination and
renamed into place, so a crash never leaves a half-written model.
"""

import functools
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import h5py
import keras
import numpy as np

from gan_core import backend
from gan_core.errors import ModelFolderError
from gan_core.latent import resolve_latents
from gan_core.metadata import GanMetadata, dumps, parse
from gan_core.samples import generate_images, preview_grid, save_png, to_uint8

GAN_JSON = "gan.json"
GAN_KERAS = "gan.keras"
SAMPLES_PNG = "samples.png"
RUN_MODEL_DIR = "model"
WEIGHTS_FILE = "model.weights.h5"
KERAS_FILES = ("config.json", "metadata.json", WEIGHTS_FILE)
INTERRUPTED_STEP = re.compile(r"\.(?P<name>.+)\.(?P<step>partial|previous|retired)-\d+")


class SavedGenerator:
    """A loaded generator with the metadata from its `gan.json`, ready to sample from."""

    def __init__(self, model: keras.Model, metadata: dict, path: Path):
        self.model = model
        self.metadata = metadata
        self.path = Path(path)
        self._infer = backend.compile_inference(model)

    @property
    def latent_dim(self) -> int:
        return self.metadata["latent_dim"]

    @property
    def num_classes(self) -> int | None:
        return self.metadata.get("num_classes")

    @property
    def class_names(self) -> list[str] | None:
        return self.metadata.get("class_names")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.metadata["image_shape"])

    @functools.cached_property
    def model_id(self) -> str:
        """A short fingerprint of the weights: latents exported from one model are refused by another."""
        return hashlib.sha256((self.path / WEIGHTS_FILE).read_bytes()).hexdigest()[:16]

    def first_layer_kernel(self) -> np.ndarray:
        """The kernel of the first Dense layer, which sees z (for SeFa directions): the one z feeds, or with
        the label embedding concatenated to z, the first one (the generator's other Dense layers read the label)."""
        dense_layers = [layer for layer in self.model.layers if isinstance(layer, keras.layers.Dense)]
        dense = next((layer for layer in dense_layers if layer.input is self.model.inputs[0]), dense_layers[0])
        return keras.ops.convert_to_numpy(dense.kernel)

    def warm_up(self) -> None:
        """Trace the compiled generator (and, for a conditional model, the one that mixes classes) for the
        batch sizes that serve every picture count (`backend.INFERENCE_BATCHES`), before the first user
        waits for it."""
        for count in backend.INFERENCE_BATCHES:
            self.generate(list(range(count)), labels=None if not self.num_classes else 0)
            if self.num_classes:
                self.generate(list(range(count)), labels=np.full((count, self.num_classes), 1 / self.num_classes))

    def generate(self, seeds=None, *, latents=None, labels=None) -> np.ndarray:
        """Images (uint8, NHWC) for the given seeds or latent vectors.

        `labels` (conditional models) is a class index per image, or an (n, num_classes)
        array of weights that mixes the classes' label embeddings: [[1 − t, t, 0, …]]
        is t of the way from class 0 to class 1, for morphing one class into another.
        """
        latents = resolve_latents(seeds, latents, self.latent_dim)
        if labels is not None and np.ndim(labels) == 2:
            return to_uint8(self._infer_mixed([latents, self._mixed_embeddings(labels, len(latents))]))
        return generate_images(self._infer, latents, labels, self.num_classes)

    def _mixed_embeddings(self, weights, count: int) -> np.ndarray:
        weights = np.asarray(weights, dtype="float32")
        if not self.num_classes or weights.shape != (count, self.num_classes) or not np.all(np.isfinite(weights)):
            raise ValueError(f"Class weights must be finite, of shape ({count}, {self.num_classes}) for this model.")
        return weights @ self._label_embeddings

    @functools.cached_property
    def _label_embeddings(self) -> np.ndarray:
        return keras.ops.convert_to_numpy(self._label_embedding_layer.embeddings)

    @functools.cached_property
    def _label_embedding_layer(self) -> keras.layers.Embedding:
        return next(layer for layer in self.model.layers if isinstance(layer, keras.layers.Embedding))

    @functools.cached_property
    def _infer_mixed(self):
        """The generator from (z, label embedding) on, so embeddings can be mixed between classes."""
        z = self.model.inputs[0]
        return backend.compile_inference(keras.Model([z, self._label_embedding_layer.output], self.model.output))


def save(gan, folder, metadata: dict) -> Path:
    """Write `gan` to the saved-model `folder`, replacing any model there atomically.

    `metadata` (data set, epochs, seed, recipe, training summary…) is merged
    into `gan.json` beside what the model itself tells.
    """
    folder = Path(folder)
    staging = beside(folder, "partial")
    shutil.rmtree(staging, ignore_errors=True)
    gan.refresh_ema_statistics()
    gan.sampling_generator.save(staging, zipped=False)
    gan.save(staging / GAN_KERAS)
    save_png(preview_grid(gan.generate, gan.num_classes), staging / SAMPLES_PNG)
    description: GanMetadata = {
        "latent_dim": gan.latent_dim,
        "image_shape": list(gan.sampling_generator.output_shape[1:]),
        "channels": gan.sampling_generator.output_shape[-1],
        "output_range": [-1.0, 1.0],
        "num_classes": gan.num_classes,
        **metadata,
    }
    (staging / GAN_JSON).write_text(dumps(description))
    return replace_folder(staging, folder)


def replace_folder(staging: Path, folder: Path) -> Path:
    """Put the finished `staging` folder in `folder`'s place: the old one is moved aside first and
    deleted last, so a kill at any moment leaves one whole folder (see `recover_interrupted_saves`)."""
    previous = beside(folder, "previous")
    if folder.exists():
        folder.rename(previous)
    staging.rename(folder)
    shutil.rmtree(previous, ignore_errors=True)
    return folder


def beside(folder: Path, step: str) -> Path:
    """Where a step of replacing `folder` works: hidden beside it, named for the step and the process."""
    return folder.with_name(f".{folder.name}.{step}-{os.getpid()}")


def recover_interrupted_saves(parent: Path) -> list[str]:
    """Repair what a process killed while replacing a folder in `parent` left there, one line per repair.

    A folder moved aside but not yet replaced is put back; half-written files and folders, and
    half-deleted folders, are removed. Call it only while no other process writes in `parent`.
    """
    repairs = []
    for path in sorted(Path(parent).iterdir()):
        match = INTERRUPTED_STEP.fullmatch(path.name)
        if not match:
            continue
        destination = path.with_name(match["name"])
        if match["step"] == "previous" and not destination.exists():
            path.rename(destination)
            repairs.append(f"Put back {destination}, which a save killed half-way had moved aside.")
        else:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            repairs.append(f"Removed {path}, left by a process killed half-way.")
    return repairs


def model_folder(path) -> Path:
    """The saved-model folder at `path`, or inside the `train.py` run folder at `path`."""
    path = Path(path)
    if not path.exists():
        raise ModelFolderError(f"No saved model at {path}: the path does not exist.", value=path)
    if not (path / GAN_JSON).exists() and (path / RUN_MODEL_DIR / GAN_JSON).exists():
        return path / RUN_MODEL_DIR
    return path


def read_metadata(folder) -> GanMetadata:
    """The checked `gan.json` of a saved-model folder (see `gan_core.metadata`)."""
    folder = model_folder(folder)
    try:
        text = (folder / GAN_JSON).read_text()
    except FileNotFoundError as error:
        raise ModelFolderError(f"{folder} is not a saved GAN model: it has no {GAN_JSON}.", value=folder) from error
    except UnicodeDecodeError as error:
        raise ModelFolderError(f"{folder / GAN_JSON} is corrupt: {error}.", value=folder / GAN_JSON) from error
    return parse(text, folder / GAN_JSON)


def check_matches_network(model: keras.Model, metadata: dict, folder: Path) -> None:
    """Refuse a `gan.json` that describes another network than the one beside it, one message per mismatch."""
    z_length = model.inputs[0].shape[-1]
    embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    classes = embeddings[0].input_dim if len(model.inputs) > 1 and embeddings else None
    names = metadata.get("class_names")
    problems = []
    if metadata["latent_dim"] != z_length:
        problems.append(f"latent_dim is {metadata['latent_dim']}, but the generator takes a z of {z_length}")
    if metadata.get("num_classes") != classes:
        network = f"a label embedding of {classes} classes" if classes else "no class label"
        problems.append(f"num_classes is {json.dumps(metadata.get('num_classes'))}, but the generator has {network}")
    if names is not None and len(names) != classes:
        problems.append(f"class_names has {len(names)} names for {classes or 0} classes")
    if tuple(model.output_shape[1:]) != tuple(metadata.get("image_shape", ())):
        problems.append(
            f"image_shape is {metadata.get('image_shape')}, but the generator makes {list(model.output_shape[1:])}"
        )
    if problems:
        raise ModelFolderError(
            f"{folder / GAN_JSON} does not match the generator: {'; '.join(problems)}.", value=folder / GAN_JSON
        )


def update_metadata(folder, updates: dict) -> Path:
    """Merge `updates` into the `gan.json` of a saved-model folder; the old file stays whole until the new one is."""
    folder = model_folder(folder)
    metadata = {**read_metadata(folder), **updates}
    staging = beside(folder / GAN_JSON, "partial")
    staging.write_text(dumps(metadata))
    os.replace(staging, folder / GAN_JSON)
    return folder / GAN_JSON


def load(path) -> SavedGenerator:
    """Load the generator of a saved-model (or run) folder, with its metadata."""
    folder = model_folder(path)
    metadata = read_metadata(folder)
    missing = [name for name in KERAS_FILES if not (folder / name).exists()]
    if missing:
        raise ModelFolderError(f"{folder} is incomplete: {', '.join(missing)} missing.", value=folder)
    try:
        with h5py.File(folder / WEIGHTS_FILE, "r"):
            pass
    except OSError as error:
        raise ModelFolderError(
            f"{folder / WEIGHTS_FILE} is truncated or corrupt: {error}.", value=folder / WEIGHTS_FILE
        ) from error
    try:
        model = keras.saving.load_model(folder, compile=False, safe_mode=True)
    except Exception as error:
        raise ModelFolderError(f"Cannot load the generator in {folder}: {error}", value=folder) from error
    check_matches_network(model, metadata, folder)
    return SavedGenerator(model, metadata, folder)


def load_gan(path):
    """The whole `GAN` (both networks, optimizer state) of a saved-model folder."""
    folder = model_folder(path)
    try:
        return keras.saving.load_model(folder / GAN_KERAS, safe_mode=True)
    except Exception as error:
        raise ModelFolderError(f"Cannot load {folder / GAN_KERAS}: {error}", value=folder / GAN_KERAS) from error

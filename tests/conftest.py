import contextlib
import gzip
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest

from gan_core.recipe import Recipe, build_gan

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = Recipe(latent_dim=16, width=8, batch_size=16, conditional=False, ema=None)
TINY_TRAIN_FLAGS = ["--width", "8", "--latent-dim", "16", "--batch-size", "16", "--no-download"]


def write_idx(path, array: np.ndarray, truncate_by: int = 0) -> None:
    """Write `array` (uint8) as a gzipped IDX file, optionally missing its last bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype("uint8").tobytes()
    with gzip.open(path, "wb") as file:
        file.write(raw[: len(raw) - truncate_by])


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory):
    """One cache for the session (gan_core.memorisation's index is built once), never the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GAN_CORE_CACHE", str(tmp_path_factory.mktemp("gan-core-cache")))
        yield


@pytest.fixture
def idx_dir(tmp_path):
    return write_tiny_idx_dataset(tmp_path / "idx")


def write_tiny_idx_dataset(folder: Path) -> Path:
    """A tiny Fashion-MNIST-shaped IDX data set: 64 images whose brightness encodes the label."""
    folder.mkdir()
    labels = np.arange(64, dtype="uint8") % 10
    images = np.repeat(labels[:, None, None] * 25, 28 * 28).reshape(64, 28, 28)
    for split in ("train", "t10k"):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real Fashion-MNIST (train, test) splits, from $GAN_DATA_DIR or /usr/share/datasets (never downloaded),
    for tests whose expected values come from the real data: the shipped classifier was trained on it."""
    from gan_core import data

    return tuple(
        data.load_idx_dataset("fashion-mnist", split=split, allow_download=False) for split in ("train", "test")
    )


def per_class_indices(labels: np.ndarray, per_class: int, offset: int = 0) -> np.ndarray:
    """Indices of `per_class` samples of each class (the ones after the first `offset` of it), class by class."""
    return np.concatenate([np.flatnonzero(labels == label)[offset : offset + per_class] for label in np.unique(labels)])


@pytest.fixture
def tiny_gan():
    keras.utils.set_random_seed(1)
    return build_gan(TINY_RECIPE, (28, 28, 1), seed=1)


def hand_checkable_gan(seed: int = 0, augment=None, lr: float = 0.01, squared: bool = False, **compile_kwargs):
    """An unconditional GAN whose D is linear, D(x) = w·x + b, so that what it computes can be checked by hand
    (∇ₓD = w for every x), or with `squared` linear in x⊙x, D(x) = w·(x⊙x) + b (∇ₓD = 2·w⊙x: different at
    each image). Trained with plain SGD: a step moves w by exactly −lr × its gradient. The same arguments
    give the same weights and the same random draws."""
    from gan_core import GAN
    from gan_core.networks import build_generator

    keras.utils.set_random_seed(seed)
    generator = build_generator(latent_dim=16, image_size=28, channels=1, width=8)
    image = keras.Input((28, 28, 1))
    features = keras.layers.Multiply()([image, image]) if squared else image
    discriminator = keras.Model(image, keras.layers.Dense(1)(keras.layers.Flatten()(features)))
    gan = GAN(generator, discriminator, latent_dim=16, seed=seed, augment=augment)
    gan.compile(keras.optimizers.SGD(lr), keras.optimizers.SGD(lr), **compile_kwargs)
    return gan


def r1_by_hand(gan, images, gamma: float, squared: bool = False) -> float:
    """R1 = (γ/2)·mean over images of ‖∇ₓD‖² for a `hand_checkable_gan`: ‖w‖², or Σ 4·w²·x² when squared."""
    w = gan.discriminator.layers[-1].kernel.numpy()[:, 0]
    images = np.asarray(images).reshape(len(images), -1)
    norms = [np.sum(4 * w**2 * image**2) if squared else np.sum(w**2) for image in images]
    return 0.5 * gamma * float(np.mean(norms))


def give_each_class_its_own_norms(generator, seed: int = 2) -> None:
    """Random weights for the layers that turn the label embedding into batch-norm scales and shifts.

    They start at zero (every class gets scale 1 and shift 0), so in an untrained conditional
    generator the class would change nothing; a trained one has learned them.
    """
    rng = np.random.default_rng(seed)
    for layer in generator.layers:
        if isinstance(layer, keras.layers.Dense) and layer.input is not generator.inputs[0]:
            layer.kernel.assign(rng.normal(0, 0.5, layer.kernel.shape))


def save_tiny_model(folder, conditional: bool = False):
    """A freshly initialised tiny generator, saved as a model folder (what the app loads)."""
    from gan_core import saved_model

    keras.utils.set_random_seed(3)
    recipe = Recipe(latent_dim=16, width=8, batch_size=16, conditional=conditional)
    gan = build_gan(recipe, (28, 28, 1), num_classes=3 if conditional else None, seed=3)
    if conditional:
        give_each_class_its_own_norms(gan.sampling_generator)
    class_names = ["Shirt", "Bag", "Boot"] if conditional else None
    return saved_model.save(gan, folder, {"dataset": "tiny", "class_names": class_names, "epochs": 0})


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_conditional_model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny-conditional") / "model", conditional=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(model: str, env: dict | None = None, timeout: float = 120, log_path: Path | None = None):
    """`python app.py` on a free loopback port with GAN_MODEL=model (in `env`, default: ours); yields its URL.
    The server's output goes to `log_path` (default: a temporary file, shown if it fails to start)."""
    port = free_port()
    env = {**(env or os.environ), "GAN_MODEL": model, "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what a user's shell has: the app must be quiet by itself
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "w+") if log_path else tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.time() + timeout
            while True:
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    if process.poll() is not None or time.time() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"app.py did not start:\n{log.read()}") from None
                    time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)

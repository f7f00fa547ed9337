import gzip

import numpy as np
import pytest
from conftest import write_idx
from PIL import Image

from gan_core import data
from gan_core.data import DataError


def test_idx_files_load_with_labels(idx_dir):
    loaded = data.load_idx_dataset("fashion-mnist", idx_dir, allow_download=False)
    assert loaded.images.shape == (64, 28, 28, 1) and loaded.images.dtype == np.uint8
    np.testing.assert_array_equal(loaded.labels, np.arange(64) % 10)
    np.testing.assert_array_equal(loaded.images[:, 0, 0, 0], loaded.labels * 25)
    assert loaded.class_names[7] == "Sneaker" and loaded.num_classes == 10
    assert loaded.source == str(idx_dir)


def test_uncompressed_idx_files_load_too(tmp_path):
    images = np.arange(2 * 28 * 28, dtype="uint8").reshape(2, 28, 28)
    header = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header + images.tobytes())
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + b"\x03\x04")
    loaded = data.load_idx_dataset("mnist", tmp_path, allow_download=False)
    np.testing.assert_array_equal(loaded.images[..., 0], images)
    assert loaded.labels.tolist() == [3, 4]


def test_truncated_idx_file_is_named(idx_dir):
    bad = idx_dir / "train-images-idx3-ubyte.gz"
    write_idx(bad, np.zeros((64, 28, 28), "uint8"), truncate_by=100)
    with pytest.raises(DataError, match=rf"{bad}.*truncated or corrupt.*50176 bytes.*50076"):
        data.load_idx_dataset("fashion-mnist", idx_dir, allow_download=False)


def test_cut_gzip_stream_is_named(idx_dir):
    bad = idx_dir / "train-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(DataError, match=rf"Cannot read {bad}"):
        data.load_idx_dataset("fashion-mnist", idx_dir, allow_download=False)


def test_file_that_is_not_idx_is_named(idx_dir):
    bad = idx_dir / "train-labels-idx1-ubyte.gz"
    with gzip.open(bad, "wb") as file:  # valid gzip of something that is not IDX
        file.write(b"PK\x03\x04 not an idx file")
    with pytest.raises(DataError, match=rf"{bad} is not an IDX file"):
        data.load_idx_dataset("fashion-mnist", idx_dir, allow_download=False)


def test_images_and_labels_must_match(idx_dir):
    write_idx(idx_dir / "train-labels-idx1-ubyte.gz", np.zeros(63, "uint8"))
    with pytest.raises(DataError, match="do not match"):
        data.load_idx_dataset("fashion-mnist", idx_dir, allow_download=False)


def test_half_a_data_set_is_an_error(idx_dir):
    (idx_dir / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.*missing"):
        data.load_idx_dataset("fashion-mnist", idx_dir, allow_download=False)


def test_search_order_data_dir_then_env_then_keras_cache(idx_dir, tmp_path, monkeypatch):
    keras_home = tmp_path / "keras_home"
    cache = keras_home / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    write_idx(cache / "train-images-idx3-ubyte.gz", np.zeros((3, 28, 28), "uint8"))
    write_idx(cache / "train-labels-idx1-ubyte.gz", np.zeros(3, "uint8"))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setattr(data, "SYSTEM_DATA_DIR", tmp_path / "nothing")

    monkeypatch.setenv("GAN_DATA_DIR", str(idx_dir))
    assert data.load_idx_dataset("fashion-mnist", allow_download=False).source == str(idx_dir)
    assert data.load_idx_dataset("fashion-mnist", cache, allow_download=False).source == str(cache)
    monkeypatch.delenv("GAN_DATA_DIR")
    assert len(data.load_idx_dataset("fashion-mnist", allow_download=False).images) == 3


def test_missing_data_error_lists_every_place_and_both_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("GAN_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(data, "SYSTEM_DATA_DIR", tmp_path / "system")
    with pytest.raises(DataError) as error:
        data.load_idx_dataset("fashion-mnist", tmp_path / "flag", allow_download=False)
    message = str(error.value)
    for place in ("flag", "env", "keras/datasets/fashion-mnist", "system/fashion-mnist", "Keras download"):
        assert place in message
    assert "apt-get install dataset-fashion-mnist" in message and "--data-dir" in message


class FakeKerasDataset:
    """Stands in for `keras.datasets.fashion_mnist`: tests never download."""

    def __init__(self, error=None):
        self.error = error

    def load_data(self):
        if self.error:
            raise self.error
        images, labels = np.zeros((5, 28, 28), "uint8"), np.arange(5, dtype="uint8")
        return (images, labels), (images[:2], labels[:2])


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No IDX files in any of the folders searched."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("GAN_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "SYSTEM_DATA_DIR", tmp_path / "system")


def test_keras_download_is_the_last_resort(nowhere, monkeypatch):
    monkeypatch.setitem(data.IDX_DATASETS, "fashion-mnist", (data.FASHION_MNIST_CLASSES, FakeKerasDataset()))
    loaded = data.load_idx_dataset("fashion-mnist")
    assert loaded.source == "keras download" and loaded.images.shape == (5, 28, 28, 1)
    assert len(data.load_idx_dataset("fashion-mnist", split="test").images) == 2


def test_a_failed_download_is_listed_with_its_reason(nowhere, monkeypatch):
    failing = FakeKerasDataset(OSError("network is unreachable"))
    monkeypatch.setitem(data.IDX_DATASETS, "fashion-mnist", (data.FASHION_MNIST_CLASSES, failing))
    with pytest.raises(DataError, match=r"Keras download \(OSError: network is unreachable\)"):
        data.load_idx_dataset("fashion-mnist")


def test_unknown_data_set_name():
    with pytest.raises(DataError, match=r"Unknown data set 'cifar'.*fashion-mnist, mnist, folder"):
        data.load_data("cifar")


def save_image(path, size, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(str(path))).integers(0, 255, (*size[::-1], 3), dtype="uint8")
    Image.fromarray(pixels).convert(mode).save(path)


def test_image_folder_is_cropped_and_resized(tmp_path):
    save_image(tmp_path / "a.png", (50, 40))
    save_image(tmp_path / "b.jpg", (64, 128))
    save_image(tmp_path / "c.png", (20, 20), mode="L")
    loaded = data.load_data("folder", tmp_path, image_size=32, channels=3)
    assert loaded.images.shape == (3, 32, 32, 3) and loaded.images.dtype == np.uint8
    assert loaded.labels is None and loaded.class_names is None
    grey = data.load_image_folder(tmp_path, 28, 1)
    assert grey.images.shape == (3, 28, 28, 1)


def test_image_folder_subfolders_are_classes(tmp_path):
    for name in ("cats", "dogs"):
        for i in range(2):
            save_image(tmp_path / name / f"{i}.png", (30, 30))
    loaded = data.load_image_folder(tmp_path, 32, 3)
    assert loaded.class_names == ("cats", "dogs")
    assert sorted(loaded.labels.tolist()) == [0, 0, 1, 1]


def test_empty_image_folder_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=rf"No usable images in {tmp_path}"):
        data.load_image_folder(tmp_path, 32, 3)


def test_missing_image_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        data.load_data("folder", tmp_path / "nope", image_size=32)


@pytest.mark.parametrize("content", [b"not an image at all", "truncated"])
def test_unreadable_image_is_named(tmp_path, content):
    save_image(tmp_path / "a.png", (30, 30))
    save_image(tmp_path / "c.png", (30, 30))
    bad = tmp_path / "b.png"
    good = (tmp_path / "a.png").read_bytes()
    bad.write_bytes(good[: len(good) // 2] if content == "truncated" else content)
    with pytest.raises(DataError, match=rf"Cannot decode image {bad}"):
        data.load_image_folder(tmp_path, 32, 3)


def test_pipeline_batches_in_range_with_labels_attached(idx_dir):
    loaded = data.load_idx_dataset("fashion-mnist", idx_dir, allow_download=False)
    images, labels = next(iter(data.make_dataset(loaded, batch_size=32, seed=0)))
    assert images.shape == (32, 28, 28, 1) and images.dtype == "float32"
    assert float(images.numpy().min()) >= -1 and float(images.numpy().max()) <= 1
    # brightness encodes the label in this data set: the pairs survived shuffling
    np.testing.assert_allclose((images.numpy()[:, 0, 0, 0] + 1) * 127.5, labels.numpy() * 25, atol=1e-3)
    assert labels.numpy().tolist() != sorted(labels.numpy().tolist())  # shuffled


def test_without_tensorflow_the_pipeline_is_a_numpy_generator_of_the_same_batches(idx_dir, monkeypatch):
    """With JAX alone (the GPU machines) training reads numpy batches: full, shuffled, each image once an epoch."""
    monkeypatch.setattr(data.backend, "TENSORFLOW_INSTALLED", False)

    loaded = data.load_idx_dataset("fashion-mnist", idx_dir, allow_download=False)
    batches = data.make_dataset(loaded, batch_size=8, seed=0)
    epoch = [next(batches) for _ in range(len(loaded.images) // 8)]
    images, labels = np.concatenate([images for images, _ in epoch]), np.concatenate([labels for _, labels in epoch])
    assert epoch[0][0].shape == (8, 28, 28, 1) and images.dtype == "float32" and images.min() >= -1
    np.testing.assert_allclose((images[:, 0, 0, 0] + 1) * 127.5, labels * 25, atol=1e-3)  # pairs kept together
    assert sorted(labels.tolist()) == sorted(loaded.labels[: len(labels)].tolist())  # each image once
    assert labels.tolist() != loaded.labels[: len(labels)].tolist()  # shuffled
    again = data.make_dataset(loaded, batch_size=8, seed=0)
    np.testing.assert_array_equal(next(again)[1], epoch[0][1])  # the seed repeats the order


def test_pipeline_without_labels_yields_images_only(tmp_path):
    for i in range(4):
        save_image(tmp_path / f"{i}.png", (30, 30))
    batch = next(iter(data.make_dataset(data.load_image_folder(tmp_path, 32, 3), batch_size=2)))
    assert batch.shape == (2, 32, 32, 3)


def test_batch_larger_than_data_set(idx_dir):
    loaded = data.load_idx_dataset("fashion-mnist", idx_dir, allow_download=False)
    with pytest.raises(DataError, match="Batch size 128 is larger than the data set"):
        data.make_dataset(loaded, batch_size=128)


def test_idx_data_sets_refuse_other_sizes(idx_dir):
    with pytest.raises(DataError, match="28×28 grey"):
        data.load_data("fashion-mnist", idx_dir, image_size=64, allow_download=False)

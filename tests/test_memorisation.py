"""Nearest training images and the data-copying test, on the real Fashion-MNIST features."""

import numpy as np
import pytest

from gan_core import memorisation, metrics
from gan_core.errors import DataError
from gan_core.memorisation import TrainingIndex, data_copying, mann_whitney_z


@pytest.fixture(scope="module")
def index():
    return TrainingIndex.load()  # in the session's cache (conftest)


@pytest.fixture(scope="module")
def test_features(fashion_mnist):
    _, test = fashion_mnist
    return metrics.embed(metrics.load_classifier(), test.images)[0]


def test_the_index_is_cached_where_it_says_and_read_back_without_the_classifier(index, monkeypatch):
    [cached] = memorisation.cache_dir().glob("neighbours-fashion-mnist-*.npy")
    assert np.load(cached).shape == (60_000, metrics.FEATURES)

    def no_classifier():
        raise AssertionError("the cached index was built again")

    monkeypatch.setattr(metrics, "load_classifier", no_classifier)
    again = TrainingIndex.load()
    np.testing.assert_array_equal(again.features, index.features)


def test_a_training_image_is_its_own_nearest_neighbour_at_distance_zero(index):
    picks = [0, 123, 59_999]
    found = index.nearest(index.features[picks], k=3)
    assert found.indices[:, 0].tolist() == picks
    np.testing.assert_allclose(found.distances[:, 0], 0, atol=1e-2)
    assert np.all(np.diff(found.distances, axis=1) >= 0)  # nearest first
    # and the distances are the plain Euclidean ones
    brute = np.linalg.norm(index.features - index.features[123], axis=1)
    np.testing.assert_allclose(found.distances[1], np.sort(brute)[:3], rtol=1e-3, atol=1e-2)


def test_mann_whitney_z_by_hand():
    # U = 0 pairs where the sample is larger; z = (0 − 2·2/2) / √(2·2·5/12)
    assert mann_whitney_z(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == pytest.approx(-2 / np.sqrt(20 / 12))
    assert mann_whitney_z(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == pytest.approx(2 / np.sqrt(20 / 12))
    assert mann_whitney_z(np.ones(3), np.ones(4)) == 0  # all tied: no evidence either way


def test_a_model_that_returns_training_images_is_flagged_and_held_out_images_are_not(index, test_features):
    reference, held_out = test_features[:5000], test_features[5000:]
    copier = data_copying(index, reference, index.features[:5000].astype("float64"))
    honest = data_copying(index, reference, held_out)
    assert copier["copying"] and copier["c_t"] < -20 and copier["median_distance"] < 0.01
    assert not honest["copying"] and abs(honest["c_t"]) < 2, honest
    assert honest["cells_used"] == memorisation.CELLS


def test_without_the_training_data_the_index_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("gan_core.data.idx_search_path", lambda name, data_dir=None: [tmp_path])
    with pytest.raises(DataError, match="fashion-mnist"):
        TrainingIndex.load()

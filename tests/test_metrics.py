import math

import numpy as np
import pytest

from gan_core import metrics


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((8, 8))
    return rng.standard_normal((4000, 8)) @ mixing  # correlated features


def whitened(n: int, dim: int, seed: int) -> np.ndarray:
    """Samples whose sample mean is exactly 0 and sample covariance exactly I."""
    x = np.random.default_rng(seed).standard_normal((n, dim))
    x -= x.mean(axis=0)
    return x @ np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False))).T


def test_identical_sets_have_zero_distance(features):
    assert metrics.frechet_distance(features, features) == pytest.approx(0, abs=1e-6)
    unit = whitened(4000, 8, seed=3)
    same = metrics.kernel_inception_distance(unit, unit, subsets=20)
    shifted = metrics.kernel_inception_distance(unit, unit + 1.0, subsets=20)
    assert abs(same) < 0.01 * shifted  # unbiased: zero in expectation


def test_fd_of_a_shifted_set_is_the_squared_shift(features):
    shift = np.array([1.0, -2.0, 0, 0, 0.5, 0, 0, 0])
    # same covariance: the trace term vanishes, FD = ‖shift‖²
    assert metrics.frechet_distance(features, features + shift) == pytest.approx(5.25, rel=1e-6)


def test_fd_of_gaussians_matches_the_closed_form():
    a = whitened(5000, 2, seed=1)
    b = whitened(5000, 2, seed=2) * [2.0, 1.0] + [3.0, 0.0]
    # N(0, I) vs N((3, 0), diag(4, 1)): 9 + (1 + 4 − 2·2) + (1 + 1 − 2·1) = 10
    assert metrics.frechet_distance(a, b) == pytest.approx(10.0, rel=1e-9)


def test_fd_of_a_scaled_set(features):
    # Σ₂ = 4Σ₁ and μ₂ = 2μ₁: FD = ‖μ₁‖² + Tr(Σ₁ + 4Σ₁ − 2·2Σ₁) = ‖μ₁‖² + Tr(Σ₁)
    expected = np.sum(features.mean(0) ** 2) + np.trace(np.cov(features, rowvar=False))
    assert metrics.frechet_distance(features, 2 * features) == pytest.approx(expected, rel=1e-6)


def test_kid_grows_with_the_difference():
    unit = whitened(4000, 8, seed=4)
    near = metrics.kernel_inception_distance(unit, unit + 0.3, subsets=20)
    far = metrics.kernel_inception_distance(unit, unit + 1.0, subsets=20)
    assert 0 < near < far


def test_precision_and_recall_of_a_good_sample_are_high(features):
    rng = np.random.default_rng(2)
    other = rng.standard_normal((4000, 8)) @ np.random.default_rng(0).standard_normal((8, 8))
    precision, recall = metrics.precision_recall(features[:2000], other[:2000])
    assert precision > 0.8 and recall > 0.8


def test_a_set_of_one_repeated_image_has_low_recall(features):
    collapsed = np.repeat(features[:1], 2000, axis=0)
    precision, recall = metrics.precision_recall(features[:2000], collapsed)
    assert recall < 0.01
    assert precision == 1.0  # the one image it makes is a real one


def test_class_entropy_and_match():
    uniform = np.eye(10)[np.arange(1000) % 10]
    assert metrics.class_entropy(uniform) == pytest.approx(math.log(10))
    assert metrics.class_entropy(np.eye(10)[np.zeros(100, int)]) == 0
    assert metrics.class_match(uniform, np.arange(1000) % 10) == 1.0
    assert metrics.class_match(uniform, np.zeros(1000, int)) == pytest.approx(0.1)


def test_the_shipped_classifier_embeds_images():
    classifier = metrics.load_classifier()
    images = np.random.default_rng(0).integers(0, 255, (7, 28, 28, 1), dtype="uint8")
    features, probabilities = metrics.embed(classifier, images)
    assert features.shape == (7, 128) and probabilities.shape == (7, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_missing_classifier_weights_say_how_to_train_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="--train-classifier"):
        metrics.load_classifier(tmp_path / "none.weights.h5")

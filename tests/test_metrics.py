import math

import numpy as np
import pytest
from conftest import per_class_indices

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


# ---- per-class scores, on real Fashion-MNIST features ---------------------------------------------

PER_CLASS = 300  # images of each class on each side


@pytest.fixture(scope="module")
def real_features(fashion_mnist):
    """Shipped-classifier features of 300 test images per class (the reference), of 300 other test images per class
    (a second real sample, for the floor), and of 300 training images per class (a "generator" that draws real
    pictures), each with its labels."""
    train, test = fashion_mnist
    classifier = metrics.load_classifier()

    def embedded(split, offset=0):
        chosen = per_class_indices(split.labels, PER_CLASS, offset)
        return metrics.embed(classifier, split.images[chosen])[0], split.labels[chosen]

    return {"test": embedded(test), "other_test": embedded(test, PER_CLASS), "train": embedded(train)}


def column(report, name):
    return np.array([row[name] for row in report["classes"]])


def test_per_class_of_real_images_is_at_the_real_vs_real_floor_in_every_class(real_features):
    real, labels = real_features["test"]
    train = metrics.per_class(real, labels, *real_features["train"])
    floor = metrics.per_class(real, labels, *real_features["other_test"])  # two samples of the same test set
    assert len(train["classes"]) == 10
    # every class of real pictures is covered about as well as another real sample covers it ...
    np.testing.assert_allclose(column(train, "recall"), column(floor, "recall"), atol=0.1)
    np.testing.assert_allclose(column(train, "precision"), column(floor, "precision"), atol=0.1)
    assert column(train, "recall").min() > 0.7 and train["worst"]["recall"] > 0.7
    # ... and per-class FD stays within a small factor of the floor's (it is a few units; a collapsed class: hundreds)
    assert np.all(column(train, "fd") < 2 * column(floor, "fd") + 5)
    assert train["worst"]["fd"] < 3 * floor["worst"]["fd"]


def test_one_image_per_class_has_no_recall_in_any_class(real_features):
    real, labels = real_features["test"]
    fake, fake_labels = real_features["train"]
    # a "generator" that draws the same (real) picture for every sample of a class
    first_of_class = {label: fake[fake_labels == label][0] for label in range(10)}
    collapsed = np.stack([first_of_class[label] for label in fake_labels])
    report = metrics.per_class(real, labels, collapsed, fake_labels)
    assert np.all(column(report, "recall") < 0.02) and report["worst"]["recall"] < 0.02
    assert report["mean"]["recall"] < 0.02
    good = metrics.per_class(real, labels, fake, fake_labels)
    assert np.all(column(report, "fd") > 10 * column(good, "fd"))


def test_one_collapsed_class_is_the_worst_while_the_overall_scores_barely_move(real_features):
    real, labels = real_features["test"]
    fake, fake_labels = real_features["train"]
    collapsed = fake.copy()
    shirts = fake_labels == 6
    collapsed[shirts] = fake[shirts][0]  # every shirt is the same shirt
    healthy = metrics.per_class(real, labels, fake, fake_labels)
    report = metrics.per_class(real, labels, collapsed, fake_labels)

    recall, fd = column(report, "recall"), column(report, "fd")
    assert recall[6] < 0.02 and report["worst"]["recall"] == recall[6] == recall.min()
    assert np.argmax(fd) == 6 and report["worst"]["fd"] == fd[6] > 10 * column(healthy, "fd")[6]
    others = np.arange(10) != 6  # the other classes' samples are untouched, so are their scores
    np.testing.assert_array_equal(recall[others], column(healthy, "recall")[others])
    assert report["mean"]["recall"] == pytest.approx(recall.mean(), abs=1e-4)
    assert report["mean"]["recall"] > 0.7  # one class in ten: the mean hides it
    assert metrics.collapsed_classes(report) == [6] and metrics.collapsed_classes(healthy) == []
    # the overall scores barely see it: only per-class recall does
    _, overall_recall = metrics.precision_recall(real, collapsed)
    _, healthy_overall_recall = metrics.precision_recall(real, fake)
    assert overall_recall > healthy_overall_recall - 0.1 and overall_recall > 0.5


def test_per_class_scores_compare_each_class_with_the_same_class_only(real_features):
    """Right pictures under the wrong labels: the overall sets are identical, every class is a mismatch."""
    real, labels = real_features["test"]
    fake, fake_labels = real_features["train"]
    report = metrics.per_class(real, labels, fake, (fake_labels + 1) % 10)
    assert report["worst"]["recall"] < 0.2 and report["mean"]["recall"] < 0.3
    assert report["mean"]["fd"] > 5 * metrics.per_class(real, labels, fake, fake_labels)["mean"]["fd"]


def test_per_class_worst_and_mean_summarise_the_rows():
    rng = np.random.default_rng(5)
    real = rng.standard_normal((60, 4))
    fake = rng.standard_normal((60, 4))
    fake[20:40] += 3
    labels = np.repeat([0, 1, 2], 20)
    report = metrics.per_class(real, labels, fake, labels)
    fd, precision, recall = (column(report, name) for name in ("fd", "precision", "recall"))
    assert np.argmax(fd) == 1 and fd[1] > 8  # class 1 is shifted by 3 in each of 4 dimensions: ‖μ₁−μ₂‖² ≈ 36
    assert report["worst"] == {"fd": fd.max(), "precision": precision.min(), "recall": recall.min()}
    for name, values in (("fd", fd), ("precision", precision), ("recall", recall)):
        assert report["mean"][name] == pytest.approx(values.mean(), abs=1e-4)
    assert fd[1] == pytest.approx(metrics.frechet_distance(real[20:40], fake[20:40]), abs=1e-4)


def test_a_class_has_collapsed_when_its_recall_is_below_half_the_mean_recall():
    def scores(*recalls):
        classes = [{"fd": 1.0, "precision": 0.8, "recall": recall} for recall in recalls]
        return {"classes": classes, "mean": {"recall": float(np.mean(recalls))}}

    assert metrics.collapsed_classes(scores(0.8, 0.8, 0.3, 0.8)) == [2]  # mean 0.675: the line is at 0.3375
    assert metrics.collapsed_classes(scores(0.8, 0.8, 0.35, 0.8)) == []  # mean 0.6875: the line is at 0.34375
    assert metrics.collapsed_classes(scores(0.5, 0.5, 0.25, 0.75)) == []  # exactly on the line is not below it
    assert metrics.collapsed_classes(scores(0.1, 0.9, 0.05, 0.9)) == [0, 2]
    assert metrics.collapsed_classes(scores(0.8, 0.8, 0.35, 0.8), share=0.6) == [2]


def test_per_class_needs_k_plus_2_samples_of_each_class_on_both_sides():
    rng = np.random.default_rng(6)
    real, fake = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    labels = np.repeat([0, 1, 2], 10)
    few_bags = labels.copy()
    few_bags[14:] = 2  # class 1 keeps 4 generated samples, one short of k + 2 = 5
    with pytest.raises(ValueError, match=r"Class 1 has 10 real and 4 generated samples; .* at least 5 of each"):
        metrics.per_class(real, labels, fake, few_bags)
    with pytest.raises(ValueError, match=r"Class 2 has 10 real and 0 generated samples"):
        metrics.per_class(real, labels, fake, np.repeat([0, 1, 0], 10))
    with pytest.raises(ValueError, match=r"Class 0 has 10 real and 10 generated samples; .* at least 12 of each"):
        metrics.per_class(real, labels, fake, labels, k=10)
    exactly = labels.copy()
    exactly[15:20] = 2  # class 1 keeps exactly 5: enough
    assert len(metrics.per_class(real, labels, fake, exactly)["classes"]) == 3

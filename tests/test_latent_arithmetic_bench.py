"""bench/latent_arithmetic.py's core on the tiny conditional model and the tiny IDX data set (not the full bench)."""

import math

import numpy as np
import pytest

from bench.latent_arithmetic import configurations, score_configurations
from gan_core import evaluate, metrics, saved_model
from gan_core.latent import MAX_SEED, latent_from_seed

N, SEED = 100, 5


def test_operands_come_from_the_seeded_generator_and_label_a_s_class():
    latents, labels = configurations(16, 3, N, SEED)["A − B + C, raw"]
    a, b, c = np.random.default_rng(SEED).integers(0, MAX_SEED, size=(N, 3, 1), endpoint=True)[0, :, 0]
    expected = latent_from_seed(int(a), 16) - latent_from_seed(int(b), 16) + latent_from_seed(int(c), 16)
    np.testing.assert_allclose(latents[0], expected, rtol=1e-6)
    assert labels[0] == a % 3 and labels.shape == (N,) and set(labels) <= {0, 1, 2}
    shell, shell_labels = configurations(16, 3, N, SEED)["A − B + C, on the shell"]
    cosine = (latents * shell).sum(1) / np.linalg.norm(latents, axis=1) / np.linalg.norm(shell, axis=1)
    np.testing.assert_allclose(cosine, 1, atol=1e-5)  # the projection keeps each direction
    np.testing.assert_array_equal(shell_labels, labels)
    assert configurations(16, None, 4, SEED)["means of 3: A − B + C, raw"][1] is None  # unconditional: no labels


def test_scores_every_configuration_and_the_shell_rows_have_the_typical_norm(tiny_conditional_model_dir, idx_dir):
    generator = saved_model.load(tiny_conditional_model_dir)
    classifier = metrics.load_classifier()
    _, test = evaluate.fashion_mnist(idx_dir)
    results = score_configurations(generator, metrics.embed(classifier, test.images), classifier, N, SEED)
    assert list(results) == [
        "plain samples (seeds 0 … n−1)",
        "A − B + C, raw",
        "A − B + C, on the shell",
        "means of 3: A − B + C, on the shell",
        "means of 3: A − B + C, raw",
    ]
    root_d = math.sqrt(16)
    assert results["A − B + C, on the shell"]["norm"] == pytest.approx(root_d, abs=1e-3)
    assert results["means of 3: A − B + C, on the shell"]["norm"] == pytest.approx(root_d, abs=1e-3)
    assert results["A − B + C, raw"]["norm"] == pytest.approx(math.sqrt(3) * root_d, rel=0.1)
    assert results["means of 3: A − B + C, raw"]["norm"] == pytest.approx(root_d, rel=0.1)  # variance 3 × 1/3
    assert results["plain samples (seeds 0 … n−1)"]["norm"] == pytest.approx(root_d, rel=0.1)
    for scores in results.values():
        assert set(scores) == {"norm", "fd", "kid_x1000", "precision", "recall", "class_entropy", "class_match"}
        assert scores["fd"] > 0 and 0 <= scores["precision"] <= 1 and 0 <= scores["class_match"] <= 1

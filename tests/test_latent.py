import json

import numpy as np
import pytest

from gan_core import latent


def test_a_seed_is_one_vector_everywhere():
    expected = np.random.default_rng(42).standard_normal(8).astype("float32")
    np.testing.assert_array_equal(latent.latent_from_seed(42, 8), expected)
    assert latent.latents_from_seeds([1, 2], 8).shape == (2, 8)


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "3", True])
def test_bad_seeds(bad):
    with pytest.raises((ValueError, TypeError)):
        latent.latent_from_seed(bad, 8)


def test_truncation_pulls_towards_the_centre():
    z = np.array([[2.0, -4.0]], dtype="float32")
    np.testing.assert_allclose(latent.truncate(z, 0.5), [[1.0, -2.0]])
    np.testing.assert_allclose(latent.truncate(z, 0.5, center=np.array([1.0, 1.0])), [[1.5, -1.5]])
    np.testing.assert_array_equal(latent.truncate(z, 1.0), z)


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_interpolations_start_and_end_exactly_at_the_endpoints(mode):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(64).astype("float32"), rng.standard_normal(64).astype("float32")
    path = latent.interpolate(a, b, 7, mode)
    assert path.shape == (7, 64) and path.dtype == np.float32
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)


def test_slerp_keeps_the_norm_and_lerp_does_not():
    a = np.array([1.0, 0.0], "float32")
    b = np.array([0.0, 1.0], "float32")
    middle_slerp = latent.interpolate(a, b, 3, "slerp")[1]
    middle_lerp = latent.interpolate(a, b, 3, "lerp")[1]
    assert np.linalg.norm(middle_slerp) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(middle_slerp, [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    assert np.linalg.norm(middle_lerp) == pytest.approx(np.sqrt(0.5), abs=1e-6)


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    a = np.ones(4, "float32")
    np.testing.assert_allclose(latent.interpolate(a, 2 * a, 3, "slerp")[1], 1.5 * a)


def test_unknown_interpolation():
    with pytest.raises(ValueError, match="slerp, lerp"):
        latent.interpolate(np.zeros(2), np.ones(2), 3, "cubic")


def test_sefa_directions_are_orthonormal_and_ordered_by_eigenvalue():
    kernel = np.random.default_rng(1).standard_normal((16, 40))
    directions, eigenvalues = latent.sefa_directions(kernel, 16)
    assert directions.shape == (16, 16)
    np.testing.assert_allclose(directions @ directions.T, np.eye(16), atol=1e-5)
    assert np.all(np.diff(eigenvalues) <= 0)
    # each direction's eigenvalue is how much the first layer stretches it: |Kᵀd|²
    stretch = np.linalg.norm(directions.astype("float64") @ kernel, axis=1) ** 2
    np.testing.assert_allclose(stretch, eigenvalues, rtol=1e-4)


def test_sefa_ignores_the_label_embedding_rows():
    kernel = np.random.default_rng(2).standard_normal((16 + 5, 40))
    directions, _ = latent.sefa_directions(kernel, 16)
    reference, _ = latent.sefa_directions(kernel[:16], 16)
    np.testing.assert_allclose(np.abs(directions @ reference.T).max(axis=1), 1.0, atol=1e-5)


def test_slerp_through_a_zero_or_opposite_latent_is_the_straight_line_not_nan():
    a = np.ones(4, dtype="float32")
    for b in (np.zeros(4, dtype="float32"), -a):
        path = latent.interpolate(a, b, 5, "slerp")
        assert np.all(np.isfinite(path))
        np.testing.assert_allclose(path, latent.interpolate(a, b, 5, "lerp"))


def test_sefa_directions_point_the_same_way_whatever_sign_the_solver_gives():
    kernel = np.random.default_rng(1).standard_normal((16, 32))
    directions, _ = latent.sefa_directions(kernel, 16)
    flipped, _ = latent.sefa_directions(-kernel, 16)  # same K Kᵀ
    np.testing.assert_allclose(directions, flipped, atol=1e-5)
    largest = directions[np.arange(len(directions)), np.abs(directions).argmax(axis=1)]
    assert np.all(largest > 0)


def test_arithmetic_results_go_back_on_the_shell():
    z = latent.latents_from_seeds([1, 2, 3], 128)
    raw = z[0] - z[1] + z[2]
    assert np.linalg.norm(raw) == pytest.approx(np.sqrt(3 * 128), rel=0.15)
    shelled = latent.to_shell(raw)
    assert np.linalg.norm(shelled) == pytest.approx(np.sqrt(128), rel=1e-6)
    np.testing.assert_allclose(shelled / np.linalg.norm(shelled), raw / np.linalg.norm(raw), atol=1e-6)
    mean = latent.mean_latent([1, 2, 3, 4], 128)
    np.testing.assert_allclose(mean, latent.latents_from_seeds([1, 2, 3, 4], 128).mean(axis=0))
    with pytest.raises(ValueError, match="zero"):
        latent.to_shell(np.zeros(8))


def test_latent_json_round_trips_exactly_and_checks_what_it_reads():
    z = latent.latent_from_seed(7, 16) * np.float32(1 / 3)
    text = latent.latent_to_json(z, 2, "abc", ["a", "b", "c"])
    back, label = latent.latent_from_json(text, "abc", 16, 3)
    assert back.tobytes() == z.tobytes() and label == 2 and json.loads(text)["class"] == "c"
    unconditional = latent.latent_to_json(z, None, "abc")
    assert latent.latent_from_json(unconditional, "abc", 16, None)[1] is None
    for bad in (unconditional, text.replace('"label": 2', '"label": true')):
        with pytest.raises(ValueError, match="label must be a class index in 0 … 2"):
            latent.latent_from_json(bad, "abc", 16, 3)
    with pytest.raises(ValueError, match="belongs to another model"):
        latent.latent_from_json(text, "xyz", 16, 3)
    with pytest.raises(ValueError, match="this model is unconditional"):
        latent.latent_from_json(text, "abc", 16, None)


def test_json_depth_counts_brackets_outside_strings_without_parsing():
    assert latent.json_depth('{"a": [1, "[[{", "\\"]["], "b": {"c": []}}') == 3
    assert latent.json_depth(latent.latent_to_json(np.zeros(4, "float32"), None, "abc")) == 2
    assert latent.json_depth("") == 0 and latent.json_depth("[" * 49_000 + "]" * 49_000) == 49_000


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 49_000 + "]" * 49_000, "nested too deeply"),  # under the length limit; json.loads would recurse
        ('{"format": "gan_core.latent/1", "latent": [[[[[[[[[0]]]]]]]]]}', "nested too deeply"),
        ('{"latent": [' + "7" * 5000 + "]}", "a number with too many digits"),  # int() refuses 4,300+ digits
        (b"\xff{}", "'utf-8' codec can't decode byte 0xff"),
        ('{"latent": [1, 2', "Expecting"),
    ],
)
def test_latent_json_that_cannot_be_read_is_refused_with_the_reason(text, reason):
    with pytest.raises(ValueError, match=rf"^Imported: not valid latent JSON \({reason}"):
        latent.latent_from_json(text, "abc", 16, 3, "Imported")


@pytest.mark.parametrize("entry", [1e39, -1e39, 10**400, float("nan")])
def test_latent_entries_must_be_finite_in_float32(entry):
    with pytest.raises(ValueError, match="finite numbers only"):
        latent.check_latent([0.0] * 15 + [entry], 16)
    assert latent.check_latent([0.0] * 15 + [3.4e38], 16)[-1] == np.float32(3.4e38)


def test_latents_in_links_round_trip_exactly():
    z = latent.latent_from_seed(3, 128) * np.float32(0.7)
    text = latent.latent_to_text(z)
    assert len(text) == 683 and set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert latent.latent_from_text(text, 128).tobytes() == z.tobytes()
    infinite = latent.latent_to_text(np.full(128, np.inf, dtype="float32"))
    with pytest.raises(ValueError, match="finite numbers only"):
        latent.latent_from_text(infinite, 128)

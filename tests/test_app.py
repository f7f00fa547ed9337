import json
import shutil

import gradio as gr
import numpy as np
import pytest
from PIL import Image

import app
from gan_core import latent, load, saved_model


@pytest.fixture(scope="module")
def explorer(tiny_model_dir):
    return app.Explorer(load(tiny_model_dir), "tiny")


@pytest.fixture(scope="module")
def conditional(tiny_conditional_model_dir):
    return app.Explorer(load(tiny_conditional_model_dir), "tiny-conditional")


def tile(grid, index, explorer, columns):
    """Tile `index` of a captioned sample grid (tiles are 4 px apart, captions under them)."""
    size = explorer.generator.image_shape[0] * explorer.scale
    top = 4 + (index // columns) * (size + app.CAPTION_PIXELS + 4)
    left = 4 + (index % columns) * (size + 4)
    return grid[top : top + size, left : left + size]


def test_same_seed_gives_the_same_bytes(explorer):
    first, latent_a = explorer.sample(123, 9, 0.8, None)
    second, latent_b = explorer.sample(123, 9, 0.8, None)
    assert first.dtype == np.uint8 and first.tobytes() == second.tobytes() and latent_a == latent_b
    other, _ = explorer.sample(124, 9, 0.8, None)
    assert other.tobytes() != first.tobytes()


def test_sample_tiles_are_the_seeds_in_order_upscaled(explorer):
    grid, exported = explorer.sample(10, 4, 0.7, None, 3)
    expected = explorer.generator.generate(
        latents=latent.truncate(latent.latents_from_seeds([10, 11, 12, 13], 16), 0.7)
    )
    scale = explorer.scale
    assert scale == 4  # 28 px tiles become 112 px
    for i in range(4):
        np.testing.assert_array_equal(tile(grid, i, explorer, 4), expected[i, ..., 0].repeat(scale, 0).repeat(scale, 1))
    data = json.loads(exported)
    np.testing.assert_array_equal(np.float32(data["latent"]), latent.truncate(latent.latent_from_seed(12, 16), 0.7))


def test_exported_latent_renders_bit_for_bit(explorer):
    image, exported = explorer.steer(77, "", None, 1.5, -2.0, 0, 0, 0, 0, 0, 0.3)
    assert explorer.render_latent(exported).tobytes() == image.tobytes()
    grid, exported = explorer.sample(5, 2, 0.5, None, 2)
    np.testing.assert_array_equal(explorer.render_latent(exported), tile(grid, 1, explorer, 2))
    # and the JSON survives a second round trip unchanged
    _, again = explorer.steer(0, exported, None, *[0] * 8)
    assert json.loads(again)["latent"] == json.loads(exported)["latent"]


def test_interpolation_starts_at_a_and_ends_at_b(explorer):
    strip, gif_path = explorer.interpolate(3, 4, "", "", 5, "slerp", None)
    frames = [np.asarray(frame.convert("L")) for frame in _gif_frames(gif_path)]
    assert len(frames) == 5
    np.testing.assert_array_equal(
        frames[0], explorer.render_latent(explorer.latent_json(latent.latent_from_seed(3, 16), None))
    )
    np.testing.assert_array_equal(
        frames[-1], explorer.render_latent(explorer.latent_json(latent.latent_from_seed(4, 16), None))
    )
    assert strip.shape == (2 + 112 + 2, 2 + 5 * (112 + 2))


def test_interpolation_from_exported_latents(explorer):
    _, a = explorer.sample(8, 1, 1.0, None)
    lerp_strip, _ = explorer.interpolate(0, 0, a, "", 3, "lerp", None)
    slerp_strip, _ = explorer.interpolate(0, 0, a, "", 3, "slerp", None)
    assert lerp_strip.shape == slerp_strip.shape and lerp_strip.tobytes() != slerp_strip.tobytes()


def _gif_frames(path):
    with Image.open(path) as gif:
        for index in range(gif.n_frames):
            gif.seek(index)
            yield gif.copy()


def test_directions_are_orthonormal_and_move_the_image(explorer):
    d = explorer.directions
    assert d.shape == (8, 16)
    np.testing.assert_allclose(d @ d.T, np.eye(8), atol=1e-5)
    assert np.all(np.diff(explorer.eigenvalues) <= 0)
    base, base_json = explorer.steer(9, "", None, *[0] * 8)
    moved, moved_json = explorer.steer(9, "", None, 3, *[0] * 7)
    assert base.tobytes() != moved.tobytes()
    offset = np.float32(json.loads(moved_json)["latent"]) - np.float32(json.loads(base_json)["latent"])
    np.testing.assert_allclose(offset, 3 * d[0], atol=1e-5)


def test_arithmetic_is_the_generator_at_a_minus_b_plus_c(explorer):
    inputs, result, exported = explorer.arithmetic(1, 2, 3, None)
    z = latent.latents_from_seeds([1, 2, 3], 16)
    expected = explorer.generator.generate(latents=z[0] - z[1] + z[2])[0, ..., 0]
    np.testing.assert_array_equal(result, expected.repeat(4, 0).repeat(4, 1))
    np.testing.assert_array_equal(np.float32(json.loads(exported)["latent"]), z[0] - z[1] + z[2])
    assert inputs.shape[1] == 4 + 3 * (112 + 4)


def test_random_seed_is_in_range():
    assert all(0 <= app.Explorer.random_seed() <= latent.MAX_SEED for _ in range(20))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.sample("abc", 4, 1.0, None), "Seed must be a number, got 'abc'"),
        (lambda e: e.sample(float("nan"), 4, 1.0, None), "Seed must be a finite number"),
        (lambda e: e.sample(-1, 4, 1.0, None), "Seed must be in 0 … 4294967295, got -1"),
        (lambda e: e.sample(2**32, 4, 1.0, None), "Seed must be in 0 … 4294967295"),
        (lambda e: e.sample(1.5, 4, 1.0, None), "Seed must be a whole number"),
        (lambda e: e.sample(1, 0, 1.0, None), "Number of images must be in 1 … 64, got 0"),
        (lambda e: e.sample(1, 65, 1.0, None), "Number of images must be in 1 … 64, got 65"),
        (lambda e: e.sample(1, 4, 2.5, None), "Truncation ψ must be in 0 … 2, got 2.5"),
        (lambda e: e.sample(1, 4, float("inf"), None), "Truncation ψ must be a finite number"),
        (lambda e: e.sample(1, 4, None, None), "Truncation ψ must be a finite number, got None"),
        (lambda e: e.sample(1, 4, 1.0, None, 5), "Tile to export must be in 1 … 4, got 5"),
        (lambda e: e.sample(1, 4, 1.0, "Bag"), "unconditional"),
        (lambda e: e.interpolate(1, 2, "", "", 1, "slerp", None), "Frames must be in 2 … 120, got 1"),
        (lambda e: e.interpolate(1, 2, "", "", 121, "slerp", None), "Frames must be in 2 … 120, got 121"),
        (lambda e: e.interpolate(1, 2, "", "", 5, "spline", None), "Interpolation must be one of slerp, lerp"),
        (lambda e: e.steer(1, "", None, 6, 0, 0, 0, 0, 0, 0, 0), "Direction 1 must be in -5 … 5, got 6"),
        (lambda e: e.steer(1, "", None, 0, 0), "Give 8 direction strengths, got 2"),
        (lambda e: e.arithmetic(1, "x", 3, None), "Seed B must be a number"),
        (lambda e: e.render_latent("{oops"), "not valid latent JSON"),
        (lambda e: e.render_latent(None), "not valid latent JSON"),
        (lambda e: e.render_latent('{"format": "something else"}'), "not a latent exported by this app"),
        (lambda e: e.render_latent("[" + "0, " * 60_000 + "0]"), "the latent JSON is too long"),
    ],
)
def test_bad_input_raises_a_clear_gr_error(explorer, call, message):
    with pytest.raises(gr.Error, match=message.replace("(", r"\(")):
        call(explorer)


def _exported(explorer, **changes):
    data = json.loads(explorer.sample(1, 1, 1.0, None)[1])
    return json.dumps({**data, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "0123456789abcdef"}, "belongs to another model"),
        ({"latent": [0.5] * 15}, "list of 16 numbers"),
        ({"latent": [0.5] * 15 + ["x"]}, "finite numbers only"),
        ({"latent": "not a list"}, "list of 16 numbers"),
        ({"label": 2}, "unconditional, the label must be null"),
    ],
)
def test_bad_latent_json_is_refused(explorer, changes, message):
    with pytest.raises(gr.Error, match=message):
        explorer.render_latent(_exported(explorer, **changes))


def test_non_finite_latent_is_refused(explorer):
    data = json.loads(_exported(explorer))
    data["latent"][0] = float("nan")
    with pytest.raises(gr.Error, match="finite numbers only"):
        explorer.render_latent(json.dumps(data))


def test_conditional_model_keeps_the_style_across_classes(conditional):
    assert conditional.generator.class_names == ["Shirt", "Bag", "Boot"]
    shirt, shirt_json = conditional.sample(4, 1, 1.0, "Shirt")
    bag, bag_json = conditional.sample(4, 1, 1.0, "Bag")
    assert shirt.tobytes() != bag.tobytes()
    assert json.loads(shirt_json)["latent"] == json.loads(bag_json)["latent"]
    assert json.loads(bag_json)["label"] == 1 and json.loads(bag_json)["class"] == "Bag"
    assert conditional.render_latent(bag_json).shape == (112, 112)
    with pytest.raises(gr.Error, match="Unknown class 'Hat'; choose one of: Shirt, Bag, Boot"):
        conditional.sample(4, 1, 1.0, "Hat")
    with pytest.raises(gr.Error, match="same class"):
        conditional.interpolate(1, 2, shirt_json, bag_json, 3, "slerp", None)
    strip, _ = conditional.interpolate(1, 2, "", "", 3, "slerp", "Boot")
    assert strip.ndim == 2
    strengths = [2.0] + [0.0] * (app.NUM_DIRECTIONS - 1)
    steered_shirt, shirt_steered_json = conditional.steer(4, "", "Shirt", *strengths)
    steered_bag, bag_steered_json = conditional.steer(4, "", "Bag", *strengths)
    assert steered_shirt.tobytes() != steered_bag.tobytes()
    assert json.loads(bag_steered_json)["label"] == 1
    assert json.loads(shirt_steered_json)["latent"] == json.loads(bag_steered_json)["latent"]


def test_a_source_that_fails_falls_back_to_the_bundled_model(tiny_model_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(app, "BUNDLED_MODEL", tiny_model_dir)
    fallback = app.load_explorer(str(tmp_path / "missing"))
    assert fallback.source.startswith("bundled") and fallback.generator.path == tiny_model_dir
    assert "Could not load the model" in fallback.warning and "does not exist" in fallback.warning
    assert "Showing the bundled model instead" in fallback.warning
    assert app.load_explorer(str(tiny_model_dir)).warning is None


def test_about_tells_what_the_model_is(explorer):
    text = explorer.about_markdown()
    assert "tiny" in text and "16 dimensions" in text and "unconditional" in text and "SeFa" in text
    info = explorer.model_info()
    assert info["model_id"] == explorer.generator.model_id and info["latent_dim"] == 16
    assert "**Quality** not measured" in text


def test_about_shows_the_measured_quality(tiny_model_dir, tmp_path):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    saved_model.update_metadata(model, {"quality": {"fd": 12.5, "recall": 0.4, "n": 100, "class_entropy": 2.3}})
    text = app.Explorer(load(model), "measured").about_markdown()
    assert "**Quality** on 100 samples: fd 12.5, recall 0.4" in text

"""The explorer's handlers, called as the UI and the API call them (no server)."""

import hashlib
import json
import shutil
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

import app
from explorer import checks, handlers, pictures, ui
from explorer.handlers import Explorer
from explorer.view import View
from gan_core import latent, load, saved_model

ZEROS = (0.0,) * handlers.NUM_DIRECTIONS


@pytest.fixture(scope="module")
def explorer(tiny_model_dir):
    return Explorer(load(tiny_model_dir), "tiny")


@pytest.fixture(scope="module")
def conditional(tiny_conditional_model_dir):
    return Explorer(load(tiny_conditional_model_dir), "tiny-conditional")


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as gif:
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(np.asarray(gif.convert("L")))
        return frames


def drawn(explorer, z, label=None, pixels_wide=pictures.CURRENT_PIXELS) -> np.ndarray:
    """What the generator draws for one latent, upscaled the way the app shows it (grey, HW)."""
    labels = None if label is None else np.asarray([label])
    return pictures.upscale(explorer.generator.generate(latents=z[None], labels=labels), pixels_wide)[0, ..., 0]


def strengths(**set_) -> list[float]:
    values = list(ZEROS)
    for key, value in set_.items():
        values[int(key[1:]) - 1] = value
    return values


# ---- the current image ---------------------------------------------------------------------------


def test_render_draws_psi_times_the_seed_plus_the_steering_large_and_crisp(explorer):
    path, caption, exported, query, latent_file = explorer.render(42, 0.7, None, "", *strengths(d1=1.5, d3=-2.0))
    z = 0.7 * latent.latent_from_seed(42, 16) + 1.5 * explorer.directions[0] - 2.0 * explorer.directions[2]
    np.testing.assert_allclose(json.loads(exported)["latent"], z, atol=1e-6)
    image = pixels(path)
    assert image.shape == (336, 336)  # 28 px × 12: at least 320 px, nearest neighbour
    np.testing.assert_array_equal(image, drawn(explorer, np.float32(json.loads(exported)["latent"])))
    assert (
        Path(path).name == "seed-42-psi0.7-d1+1.5-d3-2.png"
        and Path(latent_file).name == "seed-42-psi0.7-d1+1.5-d3-2.json"
    )
    assert json.loads(Path(latent_file).read_text()) == json.loads(exported)
    assert caption == "seed 42 · ψ 0.7 · d1 +1.5 · d3 -2"
    assert query == "seed=42&psi=0.7&d1=1.5&d3=-2"


def test_downloads_are_named_for_what_they_show(conditional):
    path, *_ = conditional.render(42, 1.0, "Bag", "", *ZEROS)
    assert Path(path).name == "seed-42-bag.png"
    exported = conditional.render(7, 1.0, "Shirt", "", *ZEROS)[2]
    gif = conditional.class_morph(exported, "Boot", 4)
    digest = hashlib.sha1(np.float32(json.loads(exported)["latent"]).tobytes()).hexdigest()[:8]
    assert Path(gif).name == f"latent-{digest}-shirt-to-boot.gif"  # every latent's morph has its own name
    own, *_ = conditional.render(0, 1.0, None, exported, *ZEROS)
    assert Path(own).name == f"latent-{digest}-shirt.png"


def test_two_renders_of_one_view_are_the_same_picture_in_different_files(explorer):
    first, *texts_a, file_a = explorer.render(5, 1.0, None, "", *ZEROS)
    second, *texts_b, file_b = explorer.render(5, 1.0, None, "", *ZEROS)
    assert first != second and pixels(first).tobytes() == pixels(second).tobytes() and texts_a == texts_b
    assert file_a != file_b and Path(file_a).read_bytes() == Path(file_b).read_bytes()


@pytest.mark.parametrize("changed", ["seed", "psi", "class", "base", *[f"d{i + 1}" for i in range(8)]])
def test_every_input_of_render_changes_the_picture(conditional, changed):
    base_json = conditional.render(99, 1.0, "Boot", "", *ZEROS)[2]
    inputs = {"seed": 3, "psi": 1.0, "class": "Shirt", "base": "", **{f"d{i + 1}": 0.0 for i in range(8)}}
    new_value = {"seed": 4, "psi": 0.5, "class": "Bag", "base": base_json}.get(changed, 2.0)
    before = conditional.render(*inputs.values())
    after = conditional.render(*{**inputs, changed: new_value}.values())
    assert pixels(before[0]).tobytes() != pixels(after[0]).tobytes()
    assert before[2] != after[2]


def test_a_conditional_model_without_a_class_draws_seed_i_in_class_i_mod_classes(conditional):
    assert conditional.render(4, 1.0, None, "", *ZEROS)[1] == "seed 4 · Bag"
    assert conditional.render(4, 1.0, "", "", *ZEROS)[3] == "seed=4&class=Bag"


def test_a_base_latent_keeps_its_class_unless_another_is_chosen(conditional):
    bag = conditional.render(8, 1.0, "Bag", "", *ZEROS)
    assert conditional.render(0, 1.0, None, bag[2], *ZEROS)[1] == "own latent · Bag"
    assert pixels(conditional.render(0, 1.0, None, bag[2], *ZEROS)[0]).tobytes() == pixels(bag[0]).tobytes()
    assert conditional.render(0, 1.0, "Boot", bag[2], *ZEROS)[1] == "own latent · Boot"


def test_exported_latents_render_bit_for_bit(conditional):
    path, _, exported, *_ = conditional.render(77, 0.8, "Boot", "", *strengths(d2=1.0))
    assert pixels(conditional.render_latent(exported)).tobytes() == pixels(path).tobytes()
    again = conditional.render(0, 1.0, None, exported, *ZEROS)
    assert again[2] == exported


# ---- tools ---------------------------------------------------------------------------------------


def test_previews_show_the_current_image_along_each_direction_between_the_slider_ends(explorer):
    current = explorer.render(11, 1.0, None, "", *strengths(d2=1.0))
    strips = explorer.previews(11, 1.0, None, "", *strengths(d2=1.0))
    assert len(strips) == 8
    z = np.float32(json.loads(current[2])["latent"])
    low, high = explorer.limits[1]
    frame = 56 + 2  # 28 px × 2 and 2 px padding
    strip = pixels(strips[1])
    assert strip.shape == (2 + 56 + 2, 2 + handlers.PREVIEW_STEPS * frame)
    ends = {0: low, handlers.PREVIEW_STEPS - 1: high}
    for index, strength in ends.items():
        expected = drawn(explorer, z + (strength - 1.0) * explorer.directions[1], pixels_wide=56)
        np.testing.assert_array_equal(strip[2:58, 2 + index * frame : 2 + index * frame + 56], expected)


def test_the_class_grid_is_the_current_latent_in_every_class(conditional):
    gallery = conditional.classes(5, 1.0, "Shirt", "", *strengths(d1=1.0))
    exported = conditional.render(5, 1.0, "Shirt", "", *strengths(d1=1.0))[2]
    z = np.float32(json.loads(exported)["latent"])
    assert [caption for _, caption in gallery] == ["Shirt", "Bag", "Boot"]
    for label, (path, _) in enumerate(gallery):
        np.testing.assert_array_equal(pixels(path), drawn(conditional, z, label, pictures.TILE_PIXELS))
    assert Path(gallery[1][0]).name == "seed-5-bag-d1+1.png"


def test_samples_are_consecutive_seeds_in_the_class_or_in_every_class(conditional):
    gallery = conditional.samples(10, 4, 0.9, "Boot")
    assert [caption for _, caption in gallery] == [f"seed {s} · Boot · ψ 0.9" for s in (10, 11, 12, 13)]
    z = latent.truncate(latent.latent_from_seed(12, 16), 0.9)
    np.testing.assert_array_equal(pixels(gallery[2][0]), drawn(conditional, z, 2, pictures.TILE_PIXELS))
    mixed = conditional.samples(10, 3, 1.0, None)
    assert [caption for _, caption in mixed] == ["seed 10 · Bag", "seed 11 · Boot", "seed 12 · Shirt"]
    every_class = conditional.samples(10, 3, 1.0, "Boot", True)
    assert [caption for _, caption in every_class] == [caption for _, caption in mixed]
    with pytest.raises(ValueError, match="Every class must be true or false, got 'yes'"):
        conditional.samples(10, 3, 1.0, "Boot", "yes")


def test_class_morph_keeps_z_and_slides_the_label_embedding(conditional):
    exported = conditional.render(6, 1.0, "Shirt", "", *ZEROS)[2]
    z = np.float32(json.loads(exported)["latent"])
    frames = gif_frames(conditional.class_morph(exported, "Boot", 5))
    assert len(frames) == 5 + 3  # forwards, then back without repeating the ends
    weights = np.asarray([[1 - t, 0, t] for t in np.linspace(0, 1, 5)], dtype="float32")
    expected = pictures.upscale(conditional.generator.generate(latents=np.repeat(z[None], 5, 0), labels=weights), 224)
    for frame, image in zip(frames[:5], expected[..., 0], strict=True):
        np.testing.assert_array_equal(frame, image)
    np.testing.assert_array_equal(frames[0], drawn(conditional, z, 0, 224))
    np.testing.assert_array_equal(frames[4], drawn(conditional, z, 2, 224))


def test_interpolating_across_classes_morphs_the_class_instead_of_failing(conditional):
    a = conditional.render(1, 1.0, "Shirt", "", *ZEROS)[2]
    b = conditional.render(2, 1.0, "Bag", "", *ZEROS)[2]
    gallery, gif = conditional.interpolate(a, b, 9, "slerp", None)
    frames = gif_frames(gif)
    assert len(gallery) == handlers.INTERPOLATION_TILES and len(frames) == 9 + 7
    z_a, z_b = (np.float32(json.loads(text)["latent"]) for text in (a, b))
    np.testing.assert_array_equal(frames[0], drawn(conditional, z_a, 0, 224))
    np.testing.assert_array_equal(frames[8], drawn(conditional, z_b, 1, 224))
    assert gallery[0][1] == "t = 0.00" and gallery[-1][1] == "t = 1.00"
    assert Path(gif).name == "own-latent-shirt-to-own-latent-bag-slerp.gif"


def test_an_interpolation_frame_is_the_point_t_of_the_way(conditional):
    a, b = "5", conditional.render(9, 1.0, "Bag", "", *ZEROS)[2]
    start, end = latent.latent_from_seed(5, 16), np.float32(json.loads(b)["latent"])
    for t, label in ((0.0, "Boot"), (0.25, "Boot"), (1.0, "Bag")):
        frame, class_name = conditional.interpolation_frame(a, b, "lerp", "Boot", t)
        np.testing.assert_allclose(json.loads(frame)["latent"], (1 - t) * start + t * end, atol=1e-6)
        assert class_name == label


def test_arithmetic_puts_a_minus_b_plus_c_back_on_the_shell(explorer):
    gallery, exported = explorer.arithmetic(1, "2", "3, 4, 5", None)
    z = (
        latent.latent_from_seed(1, 16)
        - latent.latent_from_seed(2, 16)
        + latent.mean_latent([3, 4, 5], 16) * (4 / np.linalg.norm(latent.mean_latent([3, 4, 5], 16)))
    )
    result = np.float32(json.loads(exported)["latent"])
    assert np.linalg.norm(result) == pytest.approx(4.0, rel=1e-5)  # √16
    np.testing.assert_allclose(result, z * 4 / np.linalg.norm(z), atol=1e-5)
    assert [caption for _, caption in gallery] == ["A: seed 1", "B: seed 2", "C: mean of 3 seeds", "A − B + C"]
    np.testing.assert_array_equal(pixels(gallery[3][0]), drawn(explorer, result, pixels_wide=pictures.TILE_PIXELS))
    np.testing.assert_array_equal(
        pixels(gallery[1][0]), drawn(explorer, latent.latent_from_seed(2, 16), pixels_wide=pictures.TILE_PIXELS)
    )
    assert Path(gallery[3][0]).name == "seed-1-seed-2-mean-of-3-seeds-3.png"


def test_arithmetic_takes_exported_latents_and_keeps_as_class(conditional):
    a = conditional.render(1, 1.0, "Boot", "", *ZEROS)[2]
    _, exported = conditional.arithmetic(a, "2", "3", "Shirt")
    assert json.loads(exported)["label"] == 2 and json.loads(exported)["class"] == "Boot"


# ---- share links ---------------------------------------------------------------------------------


def test_a_share_link_reopens_exactly_the_view(conditional):
    own = conditional.arithmetic(1, 2, 3, "")[1]
    views = [(42, 0.8, "Bag", "", *strengths(d1=2.5)), (0, 1.0, "Boot", own, *strengths(d8=-1)),
             (7, 0.7071067811865476, "Shirt", "", *strengths(d1=0.123456789, d2=-2.9999999))]  # fmt: skip
    for controls in views:
        path, _, exported, query, _ = conditional.render(*controls)
        reopened = conditional.render(*conditional.view_controls(conditional.open_link(query)))
        assert reopened[2] == exported and pixels(reopened[0]).tobytes() == pixels(path).tobytes()
    assert conditional.open_link("?seed=42&class=Bag&d1=2.5") == View(42, 1.0, 1, None, (2.5, *ZEROS[1:]))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("seed=-1", "The link's seed must be in 0 … 4294967295, got -1"),
        ("seed=abc", "The link's seed must be a number, got 'abc'"),
        ("seed=1.5", "The link's seed must be a whole number"),
        ("seed=1&psi=9", "The link's psi must be in 0 … 2, got 9"),
        ("seed=1&d1=99", "The link's d1 must be in -3 … 3, got 99"),
        ("seed=1&d1=nan", "The link's d1 must be a finite number"),
        ("seed=1&class=Hat", "Unknown class 'Hat' in the link; this model has Shirt, Bag, Boot"),
        ("seed=1&colour=red", "Unknown link field 'colour'"),
        ("z=AAAA", "A latent in a link must hold 16 float32 numbers, got 0.75"),
        ("z=!!!", "URL-safe base64"),
        ("seed=1&z=" + latent.latent_to_text(np.zeros(16)), "a seed or a latent (z), not both"),
    ],
)
def test_a_bad_share_link_is_refused_with_a_message(conditional, query, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        conditional.open_link(query)


# ---- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.render("abc", 1, None, "", *ZEROS), "Seed must be a number, got 'abc'"),
        (lambda e: e.render(float("nan"), 1, None, "", *ZEROS), "Seed must be a finite number"),
        (lambda e: e.render(10**400, 1, None, "", *ZEROS), "Seed must be in 0 … 4294967295"),
        (lambda e: e.render(1.5, 1, None, "", *ZEROS), "Seed must be a whole number"),
        (lambda e: e.render(1, 2.5, None, "", *ZEROS), "Truncation ψ must be in 0 … 2, got 2.5"),
        (lambda e: e.render(1, None, None, "", *ZEROS), "Truncation ψ must be a finite number, got None"),
        (lambda e: e.render(1, 1, "Bag", "", *ZEROS), "unconditional"),
        (lambda e: e.render(1, 1, None, "", 6, *ZEROS[1:]), "Direction 1 must be in -3 … 3, got 6"),
        (lambda e: e.render(1, 1, None, "", 0, 0), "Give 8 direction strengths, got 2"),
        (lambda e: e.render(1, 1, None, "{oops", *ZEROS), "Base latent: not valid latent JSON"),
        (lambda e: e.samples(1, 0, 1.0, None), "Number of images must be in 1 … 64, got 0"),
        (lambda e: e.samples(1, 65, 1.0, None), "Number of images must be in 1 … 64, got 65"),
        (lambda e: e.interpolate(1, 2, 1, "slerp", None), "Frames must be in 2 … 120, got 1"),
        (lambda e: e.interpolate(1, 2, 5, "spline", None), "Interpolation must be one of slerp, lerp, got 'spline'"),
        (lambda e: e.interpolate(1, 2, 5, ["slerp"], None), "Interpolation must be one of slerp, lerp"),
        (lambda e: e.interpolate("", 2, 5, "slerp", None), "A is empty"),
        (lambda e: e.interpolate("1; 2", 2, 5, "slerp", None), "A must be a seed, seeds to average"),
        (lambda e: e.arithmetic(1, 2, "1 " * 65, None), "C: average at most 64 seeds, got 65"),
        (lambda e: e.arithmetic(1, 2**32, 3, None), "B's seed must be in 0 … 4294967295"),
        (lambda e: e.class_morph("{}", "Bag", 5), "no classes to morph between"),
        (lambda e: e.render_latent(None), "expected latent JSON text, got NoneType"),
        (lambda e: e.render_latent("[" * 50_000 + "]" * 50_000), "nested too deeply"),
        (lambda e: e.render_latent("[" + "0, " * 60_000 + "0]"), "the latent JSON is too long"),
        (lambda e: e.open_link(["seed"]), "A link query must be text"),
    ],
)
def test_bad_input_raises_a_clear_value_error(explorer, call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(explorer)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "0123456789abcdef"}, "belongs to another model"),
        ({"latent": [0.5] * 15}, "list of 16 numbers"),
        ({"latent": [0.5] * 15 + ["x"]}, "numbers only"),
        ({"latent": [0.5] * 15 + [1e39]}, "finite numbers only"),
        ({"latent": "not a list"}, "list of 16 numbers"),
        ({"label": True}, "label must be a class index in 0 … 2"),
        ({"label": 3}, "label must be a class index in 0 … 2"),
    ],
)
def test_bad_latent_json_is_refused(conditional, changes, message):
    data = {**json.loads(conditional.render(1, 1.0, "Bag", "", *ZEROS)[2]), **changes}
    with pytest.raises(ValueError, match=message):
        conditional.render_latent(json.dumps(data))


def test_class_morph_needs_a_class_to_morph_into(conditional):
    exported = conditional.render(1, 1.0, "Bag", "", *ZEROS)[2]
    with pytest.raises(ValueError, match="Choose a class to morph into"):
        conditional.class_morph(exported, "", 5)
    with pytest.raises(ValueError, match="Unknown class 'Hat'; choose one of: Shirt, Bag, Boot"):
        conditional.class_morph(exported, "Hat", 5)


def test_user_errors_become_one_log_line_and_a_gr_error_without_traceback(explorer, capsys):
    render = ui.user_errors(explorer.render)
    with pytest.raises(gr.Error) as error:
        render(-5, 1.0, None, "", *ZEROS)
    assert error.value.message == "Seed must be in 0 … 4294967295, got -5." and not error.value.print_exception
    assert capsys.readouterr().err == "app.py: refused render: Seed must be in 0 … 4294967295, got -5.\n"
    assert render.__name__ == "render" and render.__doc__ == explorer.render.__doc__


def test_a_long_bad_value_is_shown_cut_short(explorer):
    with pytest.raises(ValueError) as error:
        explorer.interpolate("x" * 1_000_000, 2, 5, "slerp", None)
    assert len(str(error.value)) < 200


# ---- issue 10: inputs that once escaped as OverflowError, TypeError, RecursionError or NaN -----------------


def latent_json_with(conditional, **changes) -> str:
    return json.dumps({**json.loads(conditional.render(1, 1.0, "Bag", "", *ZEROS)[2]), **changes})


@pytest.mark.parametrize(
    ("call", "message"),
    [  # integers ≥ 10³⁰⁹ where a float is read (float() overflows) and integers too long for str()
        (lambda e: e.render(1, 10**309, None, "", *ZEROS), "Truncation ψ must be in 0 … 2, got 1.000e+309."),
        (lambda e: e.render(1, 1.0, None, "", -(10**309), *ZEROS[1:]), "Direction 1 must be in -3 … 3, got -1.0"),
        (lambda e: e.interpolation_frame("1", "2", "lerp", None, 10**309), "t must be in 0 … 1, got 1.000e+309."),
        (lambda e: e.render(10**5000, 1.0, None, "", *ZEROS), "Seed must be in 0 … 4294967295, got 1.000e+5000."),
        (lambda e: e.render("9" * 5000, 1.0, None, "", *ZEROS), "Seed must be in 0 … 4294967295, got '999"),
        (lambda e: e.interpolate(10**5000, "2", 5, "slerp", None), "A's seed must be in 0 … 4294967295, got 1.0"),
        (lambda e: e.render(1, "1" + "0" * 309, None, "", *ZEROS), "Truncation ψ must be in 0 … 2, got 1.000e+309."),
        (lambda e: e.render(1e300, 1.0, None, "", *ZEROS), "Seed must be in 0 … 4294967295, got 1e+300."),
        # a list or dict as the interpolation mode, and other values of the wrong type
        (lambda e: e.interpolate("1", "2", 5, {"mode": 1}, None), "Interpolation must be one of slerp, lerp, got {'m"),
        (lambda e: e.interpolation_frame("1", "2", ["lerp"], None, 0.5), "Interpolation must be one of slerp, lerp"),
        (lambda e: e.samples(0, 4, 1.0, None, 1), "Every class must be true or false, got 1."),
        (lambda e: e.samples(0, True, 1.0, None), "Number of images must be a finite number, got True."),
        (lambda e: e.open_link({1: "2"}), "A link's fields must be named by text, got 1."),
        (lambda e: e.open_link("seed=1&" * 5000), "A link query is too long (35,000 characters, at most 20,000)."),
        (lambda e: e.arithmetic("1 " * 10**6, "2", "3", None), "A is too long (2,000,000 characters, at most 100,000)"),
        (lambda e: e.read_latent_file(None), "Cannot read the uploaded file as text"),
    ],
)  # fmt: skip
def test_every_kind_of_bad_value_is_a_clear_value_error(explorer, call, message):
    with pytest.raises(ValueError) as error:
        call(explorer)
    assert str(error.value).startswith(message) and len(str(error.value)) < 200


@pytest.mark.parametrize(
    ("changes", "message"),
    [  # latent entries of 1e39 (infinite in float32), huge integers, a label of true read as class 1
        ({"latent": [1e39] * 16}, "Latent: the latent must contain finite numbers only (float32, below 3.4e38)."),
        ({"latent": [10**400] * 16}, "Latent: the latent must contain finite numbers only"),
        ({"latent": [True] * 16}, "Latent: the latent must contain numbers only."),
        ({"label": True}, "Latent: label must be a class index in 0 … 2."),
        ({"label": 10**400}, "Latent: label must be a class index in 0 … 2."),
    ],
)
def test_a_latent_is_finite_in_float32_and_its_label_an_index(conditional, changes, message):
    with pytest.raises(ValueError) as error:
        conditional.render_latent(latent_json_with(conditional, **changes))
    assert str(error.value) == message or str(error.value).startswith(message)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 49_000 + "]" * 49_000,  # 98,000 characters: under the length limit, too deep for json.loads
        '{"latent": ' + "[" * 30_000 + "]" * 30_000 + "}",
        '{"format": "gan_core.latent/1", "latent": [' + "1" * 5000 + "]}",  # int() refuses 4,300+ digits
        b"\xff\xfe{",
    ],
)
def test_latent_json_that_json_loads_cannot_read_is_refused_with_a_message(conditional, text):
    with pytest.raises(ValueError, match="Latent: not valid latent JSON"):
        conditional.render_latent(text)


def test_slerp_refuses_an_all_zero_latent_and_lerp_draws_it(conditional):
    zero = latent_json_with(conditional, latent=[0.0] * 16)
    for call in (
        lambda: conditional.interpolate(zero, zero, 5, "slerp", None),
        lambda: conditional.interpolation_frame("1", zero, "slerp", None, 0.5),
    ):
        with pytest.raises(ValueError, match="is all zeros: slerp has no direction to follow from it; choose lerp"):
            call()
    frame, _ = conditional.interpolation_frame("4", zero, "lerp", None, 0.5)
    np.testing.assert_allclose(json.loads(frame)["latent"], 0.5 * latent.latent_from_seed(4, 16), rtol=1e-6)
    assert len(conditional.interpolate(zero, zero, 5, "lerp", None)[0]) == 5


def test_latents_near_float32s_limit_are_drawn_or_refused_never_overflowed(conditional):
    huge, negative = (latent_json_with(conditional, latent=[sign * 3e38] * 16) for sign in (1, -1))
    assert pixels(conditional.render_latent(huge)).shape == (336, 336)
    with pytest.raises(ValueError, match="leaves float32's range"):
        conditional.render(1, 2.0, None, huge, *ZEROS)  # ψ · z = 6e38
    _, result = conditional.arithmetic(huge, negative, huge, None)  # 9e38 in float64, then put on the shell
    assert np.linalg.norm(json.loads(result)["latent"]) == pytest.approx(4)


def test_an_unforeseen_exception_is_a_clean_user_error_with_one_log_line(capsys):
    def overflowing(value):
        return float(value)

    checked = ui.user_errors(overflowing)
    with pytest.raises(gr.Error) as error:
        checked(10**400)
    message = "The app could not handle this request (OverflowError: int too large to convert to float)."
    assert error.value.message == message and not error.value.print_exception
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"app.py: refused overflowing: {message} [unforeseen, at tests/test_app.py:")
    with pytest.raises(gr.Error, match=r"\(TypeError: .*overflowing\(\) missing 1 required"):
        checked()  # too few arguments
    assert ui.user_errors(checked) is checked  # applied once


def test_every_function_of_the_page_is_checked_including_ones_added_later(conditional, capsys):
    demo = ui.build_demo(conditional)
    assert all(block_fn.fn.user_errors for block_fn in demo.fns.values() if block_fn.fn is not None)
    with demo:
        gr.Button().click(lambda: [][1], None, None, api_name="added_later")
    (added,) = [block_fn for block_fn in demo.fns.values() if block_fn.api_name == "added_later"]
    with pytest.raises(gr.Error, match=r"could not handle this request \(IndexError: list index out of range\)"):
        added.fn()
    assert capsys.readouterr().err.startswith("app.py: refused added_later: The app could not handle this request")


def test_a_request_with_too_few_or_too_many_values_is_refused_cleanly(conditional, capsys):
    demo = ui.build_demo(conditional)
    render = next(block_fn for block_fn in demo.fns.values() if block_fn.api_name == "render")
    for count in (2, 13):
        with pytest.raises(gr.Error) as error:
            demo.validate_inputs(render, [1] * count)
        assert error.value.message == (
            f"render takes 12 values (seed, psi, class_name, base, d1, d2, d3, d4, d5, d6, d7, d8), got {count}."
        )
    assert capsys.readouterr().err.count("\n") == 2
    demo.validate_inputs(render, [1] * 12)
    private = next(
        block_fn for block_fn in demo.fns.values() if block_fn.api_visibility == "private" and block_fn.inputs
    )
    demo.validate_inputs(private, [None] * (len(private.inputs) + 1))  # the page's own events: extras as Gradio does
    with pytest.raises(gr.Error) as error:
        demo.validate_inputs(private, [])
    assert error.value.message == f"{ui.endpoint_name(private)} takes {len(private.inputs)} values, got 0."


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (10**309, "1.000e+309"),
        (-(10**5000), "-1.000e+5000"),
        (99_999 * 10**400, "9.999e+404"),
        (10**38, "100000000000000000000000000000000000000"),
        ("x" * 10**6, "'xxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx'"),
        (json.loads("[" * 900 + "]" * 900), "[[[...]]]"),
        (1e39, "1e+39"),
        (True, "True"),
    ],
    ids=["10^309", "-10^5000", "99999e400", "10^38", "long-text", "deep-list", "1e39", "bool"],
)
def test_a_bad_value_is_quoted_in_at_most_shown_chars(value, text):
    assert checks.shown(value) == text and len(text) <= checks.SHOWN_CHARS


# ---- the model and its directions ----------------------------------------------------------------


def test_directions_are_orthonormal_and_sliders_use_the_measured_limits(tiny_model_dir, tmp_path):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    explorer = Explorer(load(model), "tiny")
    d = explorer.directions
    np.testing.assert_allclose(d @ d.T, np.eye(8), atol=1e-5)
    assert explorer.limits == [(-3.0, 3.0)] * 8 and not explorer.limits_measured
    limits = [[-1.5 - i * 0.5, 2.0 + i] for i in range(8)]
    saved_model.update_metadata(model, {"directions": {"count": 8, "limits": limits}})
    measured = Explorer(load(model), "measured")
    assert measured.limits_measured and measured.limits == [tuple(pair) for pair in limits]
    with pytest.raises(ValueError, match=r"Direction 1 must be in -1\.5 … 2, got 2\.5"):
        measured.render(1, 1.0, None, "", 2.5, *ZEROS[1:])
    saved_model.update_metadata(model, {"directions": {"limits": [[1, 2]] * 8}})  # not around 0: ignored
    assert Explorer(load(model), "bad").limits == [(-3.0, 3.0)] * 8


def test_a_source_that_fails_falls_back_to_the_bundled_model(tiny_model_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(app, "BUNDLED_MODEL", tiny_model_dir)
    fallback = app.load_explorer(str(tmp_path / "missing"))
    assert fallback.source.startswith("bundled") and fallback.generator.path == tiny_model_dir
    assert "Could not load the model" in fallback.warning and "does not exist" in fallback.warning
    assert "Showing the bundled model instead" in fallback.warning
    assert app.load_explorer(str(tiny_model_dir)).warning is None


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ({"class_names": 5}, "class_names must be null or a list of names, got 5"),
        ({"latent_dim": 10**12}, "latent_dim must be a whole number in 1 … 4096"),
        ({"num_classes": 3}, "num_classes is 3, but the generator has no class label"),
        ("truncated", "model.weights.h5 is truncated or corrupt"),
    ],
)
def test_a_model_that_would_break_the_app_is_refused_at_start(tiny_model_dir, monkeypatch, tmp_path, breakage, message):
    broken = Path(shutil.copytree(tiny_model_dir, tmp_path / "broken"))
    if breakage == "truncated":
        weights = broken / "model.weights.h5"
        weights.write_bytes(weights.read_bytes()[:-100])
    else:
        saved_model.update_metadata(broken, breakage)
    monkeypatch.setattr(app, "BUNDLED_MODEL", tiny_model_dir)
    fallback = app.load_explorer(str(broken))
    assert fallback.generator.path == tiny_model_dir
    assert message in fallback.warning and "Showing the bundled model instead" in fallback.warning


def test_about_tells_what_the_model_is(explorer):
    text = explorer.about_markdown()
    assert "tiny" in text and "16 dimensions" in text and "unconditional" in text and "SeFa" in text
    assert "±3, not measured for this model" in text and "**Quality** not measured" in text
    info = explorer.model_info()
    assert info["model_id"] == explorer.generator.model_id and info["latent_dim"] == 16


def test_about_shows_the_measured_quality(tiny_model_dir, tmp_path):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    saved_model.update_metadata(model, {"quality": {"fd": 12.5, "recall": 0.4, "n": 100, "class_entropy": 2.3}})
    text = Explorer(load(model), "measured").about_markdown()
    assert "**Quality** on 100 samples: fd 12.5, recall 0.4" in text


def test_files_are_kept_bounded_and_removed_on_close():
    writer = pictures.FileWriter(kept=3)
    paths = [writer.png(np.zeros((2, 2, 1), "uint8"), "same") for _ in range(5)]
    assert [Path(path).exists() for path in paths] == [False, False, True, True, True]
    assert len({Path(path).parent for path in paths}) == 5 and {Path(path).name for path in paths} == {"same.png"}
    writer.close()
    assert not writer.root.exists()


def test_an_uploaded_latent_file_becomes_the_view_that_shows_it_exactly(conditional, tmp_path):
    path, _, exported, *_ = conditional.render(12, 0.6, "Bag", "", *strengths(d4=1.0))
    upload = tmp_path / "latent.json"
    upload.write_text(exported)
    controls = conditional.latent_controls(conditional.read_latent_file(upload))
    assert controls[1:3] == [1.0, "Bag"] and controls[4:] == list(ZEROS)
    assert pixels(conditional.render(*controls)[0]).tobytes() == pixels(path).tobytes()
    upload.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match="Cannot read the uploaded file as text"):
        conditional.read_latent_file(upload)
    upload.write_text("x" * 10**6)
    assert len(conditional.read_latent_file(upload)) == latent.MAX_LATENT_JSON + 1  # then refused as too long
    with pytest.raises(ValueError, match="too long"):
        conditional.latent_controls(conditional.read_latent_file(upload))


def test_a_link_keeps_gradios_own_parameters_out_of_the_view(conditional):
    assert conditional.open_link("seed=3&class=Boot&__theme=dark") == View(3, 1.0, 2, None, ZEROS)


def test_a_page_of_samples_or_frames_is_picked_from_what_drew_it(conditional):
    assert conditional.sample_pick(4294967290, 16, "Bag", False, 7) == (1, "Bag")  # seeds wrap like the page's
    assert conditional.sample_pick(10, 4, "Boot", True, 2) == (12, "Shirt")
    b = conditional.render(9, 1.0, "Bag", "", *ZEROS)[2]
    gallery, _ = conditional.interpolate("5", b, 48, "slerp", "Boot")
    for index in (0, 3, 7):
        tile_json, class_name = conditional.interpolation_tile("5", b, 48, "slerp", "Boot", index)
        assert pixels(conditional.render_latent(tile_json)).shape == (336, 336)
        z = np.float32(json.loads(tile_json)["latent"])
        expected = drawn(conditional, z, conditional.class_names.index(class_name), pictures.TILE_PIXELS)
        if index in (0, 7):  # the ends are pure classes; tiles between them mix the two
            np.testing.assert_array_equal(pixels(gallery[index][0]), expected)
    with pytest.raises(ValueError, match="Tile must be in 0 … 7, got 8"):
        conditional.interpolation_tile("5", b, 48, "slerp", "Boot", 8)
    with pytest.raises(ValueError, match="Tile must be in 0 … 15, got 16"):
        conditional.sample_pick(0, 16, "Bag", False, 16)


def test_a_box_being_typed_into_changes_nothing_in_the_ui_but_is_refused_by_the_api(explorer):
    live = ui.while_typing(explorer.render, 5)
    for incomplete in ((None, 1.0, None, "", *ZEROS), (3, "", None, "", *ZEROS), (3, 1.0, None, "", None, *ZEROS[1:])):
        assert all(isinstance(value, type(gr.skip())) for value in live(*incomplete))
        with pytest.raises(ValueError, match="must be a"):
            explorer.render(*incomplete)
    assert live(3, 1.0, None, "", *ZEROS)[1] == "seed 3"


@pytest.mark.parametrize("conditional_model", [False, True])
def test_the_page_builds_for_either_kind_of_model_without_tools_it_cannot_serve(
    conditional_model, explorer, conditional
):
    demo = ui.build_demo(conditional if conditional_model else explorer)
    names = {fn.name for fn in demo.fns.values()}
    assert {"render", "samples", "previews", "interpolate", "arithmetic", "render_latent"} <= names
    assert ("class_morph" in names) == conditional_model and ("classes" in names) == conditional_model


def click(demo, block_fn, values: dict) -> None:
    """Run `block_fn` and every function chained to run after it succeeds, as the page does: inputs from
    `values` (component id → value), outputs into it (a `gr.skip()` leaves a value as it is)."""
    result = block_fn.fn(*(values[component._id] for component in block_fn.inputs))
    results = result if len(block_fn.outputs) > 1 else [result]
    for component, value in zip(block_fn.outputs, results, strict=True):
        if not isinstance(value, type(gr.skip())):
            values[component._id] = value
    for after in demo.fns.values():
        if after.trigger_after == block_fn._id and after.trigger_only_on_success and after.fn is not None:
            click(demo, after, values)


def test_the_random_seed_button_shows_a_new_seeds_picture_from_the_seed_itself(conditional):
    demo = ui.build_demo(conditional)
    by_elem_id = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    (random_seed,) = [fn for fn in demo.fns.values() if (by_elem_id["random-seed"]._id, "click") in fn.targets]
    assert random_seed.api_name == "random_seed"
    values = {block_id: getattr(block, "value", None) for block_id, block in demo.blocks.items()}
    # the page shows a latent opened from elsewhere (so the view is not a seed's), in class Bag, ψ 0.8, d1 +1
    *_, elsewhere, _, _ = conditional.render(5, 1.0, "Boot", "", *ZEROS)
    view = {"seed": 3, "class": "Bag", "psi": 0.8, "direction-1": 1.0}
    values.update({by_elem_id[elem_id]._id: value for elem_id, value in view.items()})
    render = next(fn for fn in demo.fns.values() if fn.api_name == "render")
    base = render.inputs[3]  # /render reads seed, ψ, class, the base latent, the directions
    values[base._id] = elsewhere

    seeds = []
    for _ in range(3):
        click(demo, random_seed, values)
        seed = values[by_elem_id["seed"]._id]
        assert isinstance(seed, int) and 0 <= seed <= latent.MAX_SEED
        seeds.append(seed)
        assert values[base._id] == ""  # the view starts from the new seed, not from the latent opened before
        assert values[by_elem_id["caption"]._id] == f"seed {seed} · Bag · ψ 0.8 · d1 +1"
        z = 0.8 * latent.latent_from_seed(seed, 16) + 1.0 * conditional.directions[0]
        np.testing.assert_array_equal(pixels(values[by_elem_id["current"]._id]), drawn(conditional, z, label=1))
    assert len(set(seeds)) == 3  # 1 chance in about 2³¹ that a working button repeats a seed here

"""The explorer's look-inside tools over the bundled model (no server): invert, nearest training images, timeline;
and how each is disabled, with its reason, where what it needs is missing."""

import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

import app
from explorer.handlers import Explorer
from explorer.inside import Inside
from gan_core import load, timeline


@pytest.fixture(scope="module")
def inside():
    return Inside(Explorer(load(app.BUNDLED_MODEL), "bundled"))


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_inverting_a_test_image_gives_the_comparison_and_a_latent_in_its_class(inside, fashion_mnist):
    _, test = fashion_mnist
    picture = inside.test_image(0)
    assert pixels(picture).tolist() == test.images[0][..., 0].tolist() and picture.endswith("test-0.png")
    comparison, caption, latent_json = inside.invert(picture)
    strip = pixels(comparison)
    assert strip.shape == (2 + 224 + 2, 3 * (2 + 224) + 2)  # three 224-px panels side by side, 2 px apart
    exported = json.loads(latent_json)
    assert exported["class"] == "Ankle boot" and len(exported["latent"]) == 128
    assert "its closest picture, in class Ankle boot · the difference (mean " in caption
    # the latent draws the reconstruction shown in the middle panel
    explorer = inside.explorer
    z, label = explorer.latent(latent_json)
    middle = strip[2:226, 228:452]
    drawn = explorer.generator.generate(latents=z[None], labels=[label])[0, ..., 0]
    assert np.array_equal(middle[::8, ::8], drawn)


def test_bad_pictures_are_refused_with_a_message(inside, tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    for picture, message in [(None, "Upload a picture"), (str(tmp_path / "notes.png"), "is not a picture")]:
        with pytest.raises(ValueError, match=message):
            inside.invert(picture)
    with pytest.raises(ValueError, match=r"Test image must be in 0 … 9999, got 10000"):
        inside.test_image(10_000)


def test_neighbours_of_the_current_image_come_nearest_first_with_their_class(inside):
    explorer = inside.explorer
    latent_json = explorer.latent_json(np.zeros(128, "float32") + 0.1, 7)
    gallery = inside.neighbours(latent_json, 4)
    assert len(gallery) == 5 and gallery[0][1] == "the current image"
    distances = [float(caption.rsplit("distance ", 1)[1]) for _, caption in gallery[1:]]
    assert distances == sorted(distances)
    # each file is named for the training image and its class
    names = [path.rsplit("/", 1)[1] for path, _ in gallery[1:]]
    assert all(re.fullmatch(r"training-\d+-[a-z-]+\.png", name) for name in names), names
    with pytest.raises(ValueError, match=r"Neighbours must be in 1 … 16, got 17"):
        inside.neighbours(latent_json, 17)


def test_the_timeline_shows_the_grid_of_an_epoch_and_the_curves(inside):
    history = inside.timeline
    last = max(history.epochs)
    grid, caption = inside.timeline_grid(1)
    assert caption.startswith(f"After epoch 1 of {last}: d_loss ")
    small, big = pixels(history.grids[1]), pixels(grid)
    factor = big.shape[0] // small.shape[0]
    assert factor >= 2 and np.array_equal(big[::factor, ::factor], small)  # epoch 1's grid, enlarged without blur
    curves = inside.timeline_curves()
    assert set(curves["series"]) == {"d_loss", "g_loss", "d_real", "d_fake", "fd"}
    assert sorted(curves[curves["series"] == "d_loss"]["epoch"]) == history.epochs
    gif = Image.open(inside.timeline_animation())
    assert gif.n_frames == len(history.grids)


def test_a_model_without_history_or_fashion_mnist_shows_why_its_tools_are_off(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(app.BUNDLED_MODEL, folder, ignore=shutil.ignore_patterns(timeline.HISTORY_CSV, "timeline"))
    metadata = json.loads((folder / "gan.json").read_text())
    (folder / "gan.json").write_text(json.dumps({**metadata, "dataset": "mnist"}))
    inside = Inside(Explorer(load(folder), "copy"))
    assert inside.timeline is None and "has no training history" in inside.timeline_reason
    assert inside.data_reason == "training images are searched in Fashion-MNIST; this model learned from mnist"
    with pytest.raises(ValueError, match="No training timeline: model has no training history"):
        inside.timeline_grid(1)
    with pytest.raises(ValueError, match="Nearest training images are not available: training images are searched"):
        inside.neighbours(inside.explorer.latent_json(np.zeros(128, "float32"), 0), 3)

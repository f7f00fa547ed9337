"""`gan.json`'s schema: written with the current format, read back equal, unknown formats refused."""

import json
from pathlib import Path

import pytest

from gan_core import metadata, saved_model
from gan_core.errors import ModelFolderError

PATH = Path("model/gan.json")
FULL: metadata.GanMetadata = {
    "latent_dim": 128,
    "image_shape": [28, 28, 1],
    "channels": 1,
    "output_range": [-1.0, 1.0],
    "num_classes": 10,
    "class_names": [f"class {index}" for index in range(10)],
    "dataset": "fashion-mnist",
    "epochs": 20,
    "seed": 0,
    "recipe": {"latent_dim": 128, "conditional": True},
    "command": "python train.py",
    "training": {"epochs": 20, "train_seconds": 1200.5},
    "quality": {"fd": 7.1, "per_class": {"worst": {"recall": 0.61}}},
    "directions": {"count": 8, "limits": [[-2.0, 2.0]] * 8},
    "versions": {"keras": "3.15.1", "backend": "tensorflow"},
}


def test_a_round_trip_keeps_every_field_and_stamps_the_current_format():
    text = metadata.dumps(FULL)
    assert json.loads(text)["format"] == metadata.FORMAT == f"gan_core.saved_model/{metadata.FORMAT_VERSION}"
    assert metadata.parse(text, PATH) == {**FULL, "format": metadata.FORMAT}


def test_dumps_replaces_an_older_format_stamp():
    assert json.loads(metadata.dumps({**FULL, "format": "gan_core.saved_model/1"}))["format"] == metadata.FORMAT


def test_a_newer_format_is_refused_with_a_clear_message():
    newer = f"gan_core.saved_model/{metadata.FORMAT_VERSION + 1}"
    with pytest.raises(ModelFolderError, match=rf"written by a newer gan_core \(format {metadata.FORMAT_VERSION + 1}\)"
                       r".*Update gan_core") as refused:  # fmt: skip
        metadata.parse(json.dumps({**FULL, "format": newer}), PATH)
    assert refused.value.value == newer and str(PATH) in str(refused.value)


@pytest.mark.parametrize("stamp", ["keras.saving/3", "gan_core.saved_model/x", "gan_core.saved_model/0", 2, None])
def test_a_format_that_is_not_ours_is_refused(stamp):
    with pytest.raises(ModelFolderError, match="not a gan_core saved model") as refused:
        metadata.parse(json.dumps({**FULL, "format": stamp}), PATH)
    assert refused.value.value == stamp


def test_a_file_without_a_format_is_read_as_the_first_version():
    legacy = {"latent_dim": 16, "epochs": 2}
    assert metadata.parse(json.dumps(legacy), PATH) == legacy


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"command": ["python", "train.py"]}, "command must be text"),
        ({"directions": [1, 2]}, "directions must be an object"),
        ({"quality": 7.1}, "quality must be an object"),
        ({"latent_dim": 0}, "latent_dim must be a whole number in 1 … 4096, got 0"),
    ],
)
def test_each_bad_field_is_named(changes, problem):
    with pytest.raises(ModelFolderError, match=problem):
        metadata.parse(json.dumps({**FULL, **changes}), PATH)


def test_saved_models_are_written_in_the_current_format_and_updates_keep_it(tiny_gan, tmp_path):
    folder = saved_model.save(tiny_gan, tmp_path / "model", {"dataset": "tiny", "epochs": 1, "command": "python x"})
    written = json.loads((folder / saved_model.GAN_JSON).read_text())
    assert written["format"] == metadata.FORMAT and written["command"] == "python x"
    saved_model.update_metadata(folder, {"quality": {"fd": 1.5}})
    assert saved_model.read_metadata(folder) == {**written, "quality": {"fd": 1.5}}

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import save_tiny_model

import gan_core
from gan_core import saved_model
from gan_core.saved_model import ModelFolderError

pytestmark = pytest.mark.backends  # the model, training and saving on every backend


@pytest.fixture
def model_dir(tiny_gan, tmp_path):
    tiny_gan.fit(tf.data.Dataset.from_tensors(np.zeros((16, 28, 28, 1), "float32")).repeat(), steps_per_epoch=2)
    return saved_model.save(tiny_gan, tmp_path / "model", {"dataset": "fashion-mnist", "epochs": 1})


def test_saved_folder_has_every_part(model_dir):
    names = {path.name for path in model_dir.iterdir()}
    assert {"config.json", "metadata.json", "model.weights.h5", "gan.json", "samples.png", "gan.keras"} <= names
    metadata = json.loads((model_dir / "gan.json").read_text())
    assert metadata["latent_dim"] == 16 and metadata["image_shape"] == [28, 28, 1]
    assert metadata["output_range"] == [-1.0, 1.0] and metadata["dataset"] == "fashion-mnist"
    assert not list(model_dir.parent.glob(".model.*"))  # no staging left behind


def test_save_then_load_gives_identical_images(tiny_gan, model_dir):
    loaded = gan_core.load(model_dir)
    assert loaded.latent_dim == 16 and loaded.image_shape == (28, 28, 1) and loaded.num_classes is None
    np.testing.assert_array_equal(loaded.generate([0, 1, 99]), tiny_gan.generate([0, 1, 99]))


def test_run_folder_resolves_to_its_model(tiny_gan, tmp_path):
    saved_model.save(tiny_gan, tmp_path / "run" / "model", {"epochs": 1})
    assert gan_core.load(tmp_path / "run").path == tmp_path / "run" / "model"


def test_saving_again_replaces_the_model(tiny_gan, model_dir):
    saved_model.save(tiny_gan, model_dir, {"epochs": 2})
    assert saved_model.read_metadata(model_dir)["epochs"] == 2


def test_generator_loads_in_plain_keras_without_gan_core(model_dir, tmp_path):
    script = (
        "import sys, keras, numpy as np\n"
        f"model = keras.saving.load_model({str(model_dir)!r})\n"
        "assert 'gan_core' not in sys.modules\n"
        "print(model.output_shape)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "(None, 28, 28, 1)" in result.stdout


def test_missing_folder(tmp_path):
    with pytest.raises(ModelFolderError, match="does not exist"):
        gan_core.load(tmp_path / "nope")


def test_folder_without_gan_json(tmp_path):
    with pytest.raises(ModelFolderError, match=r"has no gan.json"):
        gan_core.load(tmp_path)


def test_corrupt_gan_json(model_dir):
    (model_dir / "gan.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match=r"gan.json is corrupt"):
        gan_core.load(model_dir)


def test_missing_weights(model_dir):
    (model_dir / "model.weights.h5").unlink()
    with pytest.raises(ModelFolderError, match=r"incomplete: model.weights.h5 missing"):
        gan_core.load(model_dir)


@pytest.mark.parametrize("kept", [0.02, 0.5, 0.98])
def test_truncated_weights_are_named(model_dir, kept):
    weights = model_dir / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[: int(weights.stat().st_size * kept)])
    with pytest.raises(ModelFolderError, match=re.escape(f"{weights} is truncated or corrupt: ")):
        gan_core.load(model_dir)


def write_description(folder, **changes):
    metadata = json.loads((folder / "gan.json").read_text())
    (folder / "gan.json").write_text(json.dumps({**metadata, **changes}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"class_names": 5}, "class_names must be null or a list of names, got 5"),
        ({"latent_dim": 10**12}, "latent_dim must be a whole number in 1 … 4096, got 1000000000000"),
        ({"latent_dim": True}, "latent_dim must be a whole number in 1 … 4096, got True"),
        ({"image_shape": [28, 28]}, "image_shape must be [height, width, channels], got [28, 28]"),
        (
            {"training": 5, "dataset": ["x"]},
            "dataset must be null or text, got ['x']; training must be an object, got 5",
        ),
        ({"latent_dim": None}, "latent_dim must be a whole number in 1 … 4096, got None"),
    ],
)
def test_description_fields_of_the_wrong_kind_are_refused_one_message_each(model_dir, changes, message):
    write_description(model_dir, **changes)
    with pytest.raises(ModelFolderError, match=re.escape(f"{model_dir / 'gan.json'} is corrupt: {message}.")):
        gan_core.load(model_dir)


@pytest.mark.parametrize(
    ("conditional", "changes", "message"),
    [
        (False, {"image_shape": [64, 64, 3]}, "image_shape is [64, 64, 3], but the generator makes [28, 28, 1]"),
        (False, {"latent_dim": 17}, "latent_dim is 17, but the generator takes a z of 16"),
        (False, {"num_classes": 3}, "num_classes is 3, but the generator has no class label"),
        (True, {"num_classes": 10, "class_names": None}, "num_classes is 10, but the generator has a label embedding"),
        (True, {"class_names": ["Shirt", "Bag"]}, "class_names has 2 names for 3 classes"),
        (True, {"latent_dim": 8, "num_classes": None},
         "latent_dim is 8, but the generator takes a z of 16; num_classes is null, but the generator has a label "
         "embedding of 3 classes."),
    ],
)  # fmt: skip
def test_description_that_contradicts_the_network_is_refused(tmp_path, conditional, changes, message):
    folder = save_tiny_model(tmp_path / "model", conditional=conditional)
    write_description(folder, **changes)
    with pytest.raises(
        ModelFolderError, match=re.escape(f"{folder / 'gan.json'} does not match the generator: ")
    ) as error:
        gan_core.load(folder)
    assert message in str(error.value)


def test_whole_gan_loads_for_more_training(tiny_gan, model_dir):
    gan = saved_model.load_gan(model_dir)
    np.testing.assert_array_equal(gan.generate([4]), tiny_gan.generate([4]))
    assert int(gan.g_optimizer.iterations) == 2

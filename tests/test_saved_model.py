import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import gan_core
from gan_core import saved_model
from gan_core.saved_model import ModelFolderError


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


def test_corrupt_weights(model_dir):
    weights = model_dir / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelFolderError, match="Cannot load the generator"):
        gan_core.load(model_dir)


def test_metadata_that_contradicts_the_generator(model_dir):
    metadata = json.loads((model_dir / "gan.json").read_text())
    (model_dir / "gan.json").write_text(json.dumps({**metadata, "image_shape": [64, 64, 3]}))
    with pytest.raises(ModelFolderError, match="inconsistent"):
        gan_core.load(model_dir)


def test_whole_gan_loads_for_more_training(tiny_gan, model_dir):
    gan = saved_model.load_gan(model_dir)
    np.testing.assert_array_equal(gan.generate([4]), tiny_gan.generate([4]))
    assert int(gan.g_optimizer.iterations) == 2

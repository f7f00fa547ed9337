"""Which Keras backends gan_core runs on, and what it says on another."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import REPO, save_tiny_model

import gan_core
from gan_core import backend


def test_an_unsupported_backend_is_named_with_the_ones_that_work():
    env = {**os.environ, "KERAS_BACKEND": "numpy", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", "import gan_core"], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "gan_core runs on the tensorflow and jax backends of Keras, not 'numpy'" in done.stderr
    assert "set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax" in done.stderr


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="saves on TensorFlow, loads on JAX")
def test_a_model_saved_on_tensorflow_draws_the_same_pixels_on_jax(tmp_path):
    folder = save_tiny_model(tmp_path / "model", conditional=True)
    on_tensorflow = gan_core.load(folder).generate([0, 1, 2, 3], labels=[0, 1, 2, 0])
    script = (
        "import sys, numpy as np, gan_core, keras; assert keras.backend.backend() == 'jax'; "
        "np.save(sys.argv[2], gan_core.load(sys.argv[1]).generate([0, 1, 2, 3], labels=[0, 1, 2, 0]))"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script, str(folder), str(tmp_path / "jax.npy")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    on_jax = np.load(tmp_path / "jax.npy")
    assert on_tensorflow.std() > 10  # real pictures, not a blank that any backend would draw alike
    np.testing.assert_array_equal(on_jax, on_tensorflow)


@pytest.mark.backends
def test_compiled_inference_compiles_a_few_times_for_every_batch_size_and_returns_each_batch_whole():
    traced = []

    def model(inputs, training=False):
        traced.append(training)  # runs once per compilation, not per call
        z, labels = inputs
        return z * 2.0 + keras.ops.cast(labels, "float32")[:, None]

    infer = backend.compile_inference(model)
    for count in range(1, 129):
        z = np.full((count, 3), float(count), "float32")
        out = keras.ops.convert_to_numpy(infer([z, np.arange(count, dtype="int32")]))
        np.testing.assert_array_equal(out, 2.0 * count + np.arange(count, dtype="float32")[:, None] + np.zeros((1, 3)))
    assert traced and not any(traced)  # in inference mode
    assert len(traced) <= 8  # not once per batch size (JAX: a power of two each; TensorFlow: relaxed shapes)

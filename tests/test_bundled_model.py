"""The model that ships in pretrained/: what the app starts on."""

import numpy as np

import app
import gan_core
from gan_core import metrics
from gan_core.latent import labels_for_seeds


def test_bundled_model_is_a_small_class_conditional_fashion_mnist_generator():
    generator = gan_core.load(app.BUNDLED_MODEL)
    assert generator.image_shape == (28, 28, 1) and generator.num_classes == 10
    assert generator.class_names[5] == "Sandal" and generator.metadata["recipe"]["conditional"] is True
    assert sum(path.stat().st_size for path in app.BUNDLED_MODEL.iterdir()) < 10 * 2**20
    assert not (app.BUNDLED_MODEL / "gan.keras").exists()


def test_bundled_model_draws_the_class_it_is_asked_for():
    """The shipped classifier recognises the requested class in most samples (gan.json records ≥ 85 % on 10,000)."""
    generator = gan_core.load(app.BUNDLED_MODEL)
    seeds = range(500)
    labels = labels_for_seeds(seeds, 10)
    _, probabilities = metrics.embed(metrics.load_classifier(), generator.generate(seeds, labels=labels))
    assert metrics.class_match(probabilities, labels) >= 0.85
    assert generator.metadata["quality"]["class_match"] >= 0.85


def test_same_latent_other_class_keeps_the_image_apart():
    generator = gan_core.load(app.BUNDLED_MODEL)
    images = generator.generate([7] * 10, labels=list(range(10)))
    assert len({image.tobytes() for image in images}) == 10
    assert np.all(images.reshape(10, -1).std(axis=1) > 10)  # every class gives a real picture, not a blank

"""Inversion into the bundled model's latent space: its own samples come back, in their class; bad input is refused."""

import numpy as np
import pytest
from PIL import Image

import app
import gan_core
from gan_core import inversion, metrics
from gan_core.errors import ImageError

# Mean absolute pixel error (0 … 255) of inverting the model's own samples: measured 5.2 on average, at most
# 8.8, over 20 samples (bench/inversion.py); the bound is that maximum plus a third, for another machine's rounding.
OWN_SAMPLE_ERROR = 12.0


@pytest.fixture(scope="module")
def inverter():
    return inversion.Inverter(gan_core.load(app.BUNDLED_MODEL))


@pytest.mark.parametrize(("seed", "label"), [(101, 1), (205, 5), (309, 9)])
def test_the_models_own_samples_come_back_in_their_class(inverter, seed, label):
    drawn = inverter.generator.generate([seed], labels=[label])[0]
    found = inverter(drawn)
    assert found.label == label
    assert found.error < OWN_SAMPLE_ERROR
    assert np.array_equal(found.target, drawn)  # already the model's size: taken as it is
    again = inverter.generator.generate(latents=found.latent[None], labels=[found.label])[0]
    assert np.array_equal(again, found.image)  # the result is a real latent: it draws the reconstruction


def test_a_test_image_gets_a_reconstruction_of_its_class(inverter, fashion_mnist):
    _, test = fashion_mnist
    found = inverter(test.images[0])
    _, probabilities = metrics.embed(metrics.load_classifier(), found.image[None])
    assert int(probabilities.argmax()) == test.labels[0] == found.label
    assert found.error < 4 * OWN_SAMPLE_ERROR


def test_the_classifiers_belief_in_a_class_is_its_prior(inverter, fashion_mnist):
    _, test = fashion_mnist
    costs = inverter.candidate_classes(test.images[0])  # an ankle boot, beyond doubt
    assert next(iter(costs)) == 9 and len(costs) == inversion.CANDIDATE_CLASSES
    assert costs[9] < 1e-4 * inversion.CLASS_WEIGHT
    ruled_out = -inversion.CLASS_WEIGHT * np.log(inversion.LEAST_PROBABILITY)
    assert all(0.5 * ruled_out < cost <= ruled_out + 1e-9 for label, cost in costs.items() if label != 9)


# the first case is the control: the Sandal's own latent wins with or without the prior; the second needs the prior
@pytest.mark.parametrize(("costs", "expected"), [({5: 0.0, 9: 1.0}, 5), ({5: 1.0, 9: 0.0}, 9)])
def test_the_prior_ranks_the_starts_with_their_loss(inverter, monkeypatch, costs, expected):
    sandal = inverter.generator.generate([205], labels=[5])[0]
    monkeypatch.setattr(inverter, "candidate_classes", lambda target: costs)
    # a cost far above any loss decides the class, even against the Sandal's own, exact latent
    assert inverter(sandal).label == expected


def test_a_black_on_white_drawing_is_negated_before_it_is_matched(inverter, fashion_mnist):
    _, test = fashion_mnist
    garment = test.images[2][..., 0]  # a pair of trousers: no other class looks like it (a pullover may be a shirt)
    drawing = Image.fromarray(255 - garment).resize((280, 280))  # ten times larger, dark on white paper
    found = inverter(drawing)
    assert found.target[0, 0, 0] < 30 and found.target.shape == (28, 28, 1)
    # enlarged ten times and brought back: edges blur (measured 13.5 of 255); not negated it would be about 200
    assert np.abs(found.target[..., 0].astype(int) - garment).mean() < 20
    assert found.label == test.labels[2] == 1


def test_progress_is_reported_up_to_done(inverter):
    reported = []
    inverter(inverter.generator.generate([3], labels=[3])[0], progress=reported.append)
    assert reported == sorted(reported) and reported[-1] == 1.0 and len(reported) >= 3


def test_bad_input_is_refused_with_a_message_and_the_inverter_still_works(inverter):
    with pytest.raises(ImageError, match="not a picture"):
        inverter(b"GIF89a but not really")
    with pytest.raises(ImageError, match="blank"):
        inverter(np.zeros((28, 28), dtype="uint8"))
    assert inverter(inverter.generator.generate([4], labels=[4])[0]).error < OWN_SAMPLE_ERROR

import functools
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, write_idx, write_tiny_idx_dataset

from gan_core import evaluate, hub, memorisation, metrics, saved_model


def run_evaluate(*args):
    return subprocess.run([sys.executable, "-m", "gan_core.evaluate", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_scores_an_unconditional_model_against_the_floor(tiny_model_dir, idx_dir):
    result = run_evaluate(tiny_model_dir, "--n", 64, "--data-dir", idx_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 64 and report["real_images"] == 64
    assert set(report["scores"]) == {"fd", "kid_x1000", "precision", "recall", "class_entropy"}
    # the tiny data set's train and test splits are the same images: the floor is exactly zero
    assert report["real_vs_real"]["fd"] == 0 and report["real_vs_real"]["recall"] == 1
    assert report["scores"]["fd"] > 0  # an untrained generator is far from the data


class RealPictures:
    """A stand-in generator that draws real test pictures: for label c, the next unused test image of class
    (c + shift) mod 10, from the test images after the first `skip` (those are the reference set)."""

    latent_dim, num_classes, image_shape = 4, 10, (28, 28, 1)

    def __init__(self, test, skip: int, shift: int = 0):
        images, labels = test.images[skip:], test.labels[skip:]
        self.pools = {label: images[labels == label] for label in range(10)}
        self.used = dict.fromkeys(range(10), 0)
        self.shift = shift
        self.drawn: list[tuple[np.ndarray, int]] = []  # (image, its true class)

    def generate(self, latents=None, labels=None):
        for label in labels:
            true_class = (int(label) + self.shift) % 10
            self.drawn.append((self.pools[true_class][self.used[true_class]], true_class))
            self.used[true_class] += 1
        return np.stack([image for image, _ in self.drawn[-len(labels) :]])


N_REAL = 1000


@pytest.fixture(scope="module")
def real_picture_reports(fashion_mnist):
    """`evaluate` of a generator that draws real pictures of the class asked for, and of one that draws real
    pictures of the next class, against the real Fashion-MNIST test set."""
    _, test = fashion_mnist
    reports = {}
    with pytest.MonkeyPatch.context() as patch:
        # KID (not checked here) would spend most of the time on its 50 subsets: 5 will do
        patch.setattr(
            metrics, "kernel_inception_distance", functools.partial(metrics.kernel_inception_distance, subsets=5)
        )
        for shift in (0, 1):
            generator = RealPictures(test, skip=N_REAL, shift=shift)
            patch.setattr(evaluate, "load_scorable", lambda source, generator=generator: generator)
            reports[shift] = evaluate.evaluate("real-pictures", n=N_REAL), generator
    return reports


def test_real_pictures_of_the_class_asked_for_score_at_the_floor(real_picture_reports):
    report, generator = real_picture_reports[0]
    scores, floor = report["scores"], report["real_vs_real"]
    assert report["n"] == report["real_images"] == N_REAL and len(generator.drawn) == N_REAL
    # class match is the shipped classifier's accuracy on exactly those pictures (about 0.92 on the test set)
    images = np.stack([image for image, _ in generator.drawn])
    _, probabilities = metrics.embed(metrics.load_classifier(), images)
    accuracy = metrics.class_match(probabilities, [true_class for _, true_class in generator.drawn])
    assert scores["class_match"] == pytest.approx(accuracy, abs=1e-4) and accuracy > 0.85
    # other real pictures are as close to the test set as real training pictures are: the floor
    assert scores["fd"] < 2 * floor["fd"] + 1 and floor["fd"] < 2 * scores["fd"] + 1
    assert scores["precision"] > floor["precision"] - 0.1 and scores["recall"] > floor["recall"] - 0.1
    assert scores["class_entropy"] == pytest.approx(math.log(10), abs=0.01)  # 100 pictures of each class
    # ... in every class too: no class collapsed, per-class recall as high as real training pictures'
    per_class, floor_per_class = report["per_class"], report["real_vs_real_per_class"]
    assert len(per_class["classes"]) == 10 and per_class["collapsed"] == []
    assert per_class["mean"]["recall"] == pytest.approx(floor_per_class["mean"]["recall"], abs=0.1)
    assert per_class["worst"]["recall"] > floor_per_class["worst"]["recall"] - 0.15


def test_real_pictures_of_the_wrong_class_have_no_class_match_but_the_same_fd(real_picture_reports):
    right, _ = real_picture_reports[0]
    wrong, generator = real_picture_reports[1]
    assert all(true_class != label % 10 for label, (_, true_class) in enumerate(generator.drawn))
    assert wrong["scores"]["class_match"] < 0.05
    # the same pictures, asked for under other labels: every score that ignores the label is unchanged
    for name in ("fd", "precision", "recall", "class_entropy"):
        assert wrong["scores"][name] == right["scores"][name], name
    # while within each class the pictures are of another class: no recall, a far larger FD
    assert wrong["per_class"]["mean"]["recall"] < 0.2 and wrong["per_class"]["worst"]["recall"] < 0.05
    assert wrong["per_class"]["mean"]["fd"] > 10 * right["per_class"]["mean"]["fd"]


def test_write_stores_the_scores_in_gan_json(tiny_model_dir, idx_dir, tmp_path):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    before = saved_model.read_metadata(model)
    result = run_evaluate(model, "--n", 40, "--data-dir", idx_dir, "--write")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    quality = saved_model.read_metadata(model)["quality"]
    assert quality["fd"] == round(report["scores"]["fd"], 4) and quality["n"] == 40
    assert quality["real_vs_real_fd"] == round(report["real_vs_real"]["fd"], 4)
    assert {key: value for key, value in saved_model.read_metadata(model).items() if key != "quality"} == before
    assert sorted(path.name for path in model.iterdir()) == sorted(path.name for path in tiny_model_dir.iterdir())
    card = str(hub.model_card(saved_model.read_metadata(model), "alice/tiny"))
    assert f"| fd | {quality['fd']} |" in card and "No quality metrics" not in card


def test_bad_requests_are_refused(tiny_model_dir, tmp_path):
    assert "give a MODEL to score, or --train-classifier" in run_evaluate().stderr
    assert "--n must be at least 2" in run_evaluate(tiny_model_dir, "--n", 1).stderr
    assert "--write needs a local model folder" in run_evaluate("hf://alice/tiny", "--write").stderr
    missing = run_evaluate(tmp_path / "nope")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_directions_must_be_positive(tiny_model_dir, capsys):
    with pytest.raises(SystemExit):
        evaluate.main([str(tiny_model_dir), "--directions", "0"])
    assert "--directions must be at least 1, got 0" in capsys.readouterr().err


def test_training_the_classifier_writes_the_weights_whose_test_accuracy_it_reports(tmp_path):
    # the tiny data set's brightness encodes the label; its test split is 30 of the 64 training images
    data_dir = write_tiny_idx_dataset(tmp_path / "idx")
    _, test = evaluate.fashion_mnist(data_dir)
    write_idx(data_dir / "t10k-images-idx3-ubyte.gz", test.images[:30, ..., 0])
    write_idx(data_dir / "t10k-labels-idx1-ubyte.gz", test.labels[:30])
    weights = tmp_path / "classifier.weights.h5"
    untrained = evaluate.train_classifier(data_dir, epochs=1, weights=weights)
    accuracy = evaluate.train_classifier(data_dir, epochs=20, weights=weights)
    _, probabilities = metrics.embed(metrics.load_classifier(weights), test.images[:30])
    assert accuracy == pytest.approx(metrics.class_match(probabilities, test.labels[:30]), abs=1e-6)
    assert accuracy * 30 == pytest.approx(round(accuracy * 30))  # measured on the 30 test images, not the 64
    assert accuracy > untrained  # and it learned something in 20 epochs


STRENGTHS = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
BASE = {"precision": 0.8, "class_match": 0.9}


def test_the_limit_is_the_last_strength_before_a_score_drops():
    steady = [0.8, 0.79, 0.78, 0.77, 0.75, 0.73, 0.7, 0.6]  # ≥ 0.72 = 0.9 × 0.8 until 3.0
    assert evaluate.plausible_limit(STRENGTHS, {"precision": steady, "class_match": [0.9] * 8}, BASE) == 3.0
    # class match falls below 0.81 at 2.0 while precision holds: the first score to drop decides
    falling_match = [0.9, 0.85, 0.82, 0.8, 0.9, 0.9, 0.9, 0.9]
    assert evaluate.plausible_limit(STRENGTHS, {"precision": [0.8] * 8, "class_match": falling_match}, BASE) == 1.5


def test_a_score_that_recovers_after_dropping_still_stops_at_the_first_drop():
    dip = [0.8, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    assert evaluate.plausible_limit(STRENGTHS, {"precision": dip, "class_match": [0.9] * 8}, BASE) == 0.5
    assert evaluate.plausible_limit(STRENGTHS, {"precision": [0.5] + [0.8] * 7, "class_match": [0.9] * 8}, BASE) == 0


def test_a_score_that_never_drops_reaches_the_largest_strength():
    scores = {"precision": [0.75] * 8, "class_match": [0.85] * 8}  # just above 0.72 and 0.81
    assert evaluate.plausible_limit(STRENGTHS, scores, BASE) == 4.0
    negative = [-strength for strength in STRENGTHS]
    assert evaluate.plausible_limit(negative, scores, BASE) == -4.0
    assert evaluate.plausible_limit(STRENGTHS, {"precision": [0.75] * 8}, {"precision": 0.8}, share=0.95) == 0


def test_directions_write_stores_the_slider_limits_in_gan_json(tiny_conditional_model_dir, idx_dir, tmp_path):
    model = shutil.copytree(tiny_conditional_model_dir, tmp_path / "model")
    before = saved_model.read_metadata(model)
    result = run_evaluate(model, "--directions", 3, "--n", 20, "--data-dir", idx_dir, "--write")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["strengths"] == list(evaluate.DIRECTION_STRENGTHS) and set(report["base"]) == {
        "precision",
        "class_match",
    }
    assert [len(curve["+"]["precision"]) for curve in report["curves"]] == [20, 20, 20]
    eigenvalues = [curve["eigenvalue"] for curve in report["curves"]]
    assert eigenvalues == sorted(eigenvalues, reverse=True)
    directions = saved_model.read_metadata(model)["directions"]
    assert directions == {"count": 3, "limits": report["limits"], "rule": evaluate.LIMIT_RULE, "n": 20}
    assert len(directions["limits"]) == 3
    for low, high in directions["limits"]:
        assert -10 <= low <= 0 <= high <= 10 and 2 * low == int(2 * low) and 2 * high == int(2 * high)
    assert {key: value for key, value in saved_model.read_metadata(model).items() if key != "directions"} == before
    assert "direction  eigenvalue    low   high" in result.stderr and "Wrote the direction limits" in result.stderr


def test_an_unconditional_model_is_limited_by_precision_alone(tiny_model_dir, idx_dir):
    generator = saved_model.load(tiny_model_dir)
    report = evaluate.direction_limits(generator, count=1, n=10, strengths=(1.0, 2.0), data_dir=idx_dir)
    assert set(report["base"]) == {"precision"}
    curve = report["curves"][0]
    assert set(curve["-"]) == set(curve["+"]) == {"precision"} and len(curve["+"]["precision"]) == 2
    low = evaluate.plausible_limit([-1.0, -2.0], curve["-"], report["base"])
    high = evaluate.plausible_limit([1.0, 2.0], curve["+"], report["base"])
    assert report["limits"] == [[low, high]]
    with pytest.raises(ValueError, match="The model has 16 latent directions; cannot measure 17"):
        evaluate.direction_limits(generator, count=17, data_dir=idx_dir)


def test_memorisation_reports_c_t_beside_its_floor(capsys):
    assert evaluate.main(["pretrained", "--memorisation", "--n", "1000"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 1000 and report["threshold"] == memorisation.COPYING_THRESHOLD
    model, floor = report["model_vs_held_out"], report["floor"]
    assert not model["copying"] and not floor["copying"] and abs(floor["c_t"]) < 3
    assert model["median_distance"] > 0  # it draws no training image exactly

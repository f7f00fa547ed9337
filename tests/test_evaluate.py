import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

from gan_core import evaluate, hub, metrics, saved_model


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


def test_a_conditional_model_also_gets_class_match(tiny_conditional_model_dir, idx_dir):
    report = evaluate.evaluate(tiny_conditional_model_dir, n=30, data_dir=idx_dir)
    assert 0 <= report["scores"]["class_match"] <= 1


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


def test_training_the_classifier_writes_its_weights(idx_dir, tmp_path):
    weights = tmp_path / "classifier.weights.h5"
    accuracy = evaluate.train_classifier(idx_dir, epochs=1, weights=weights)
    assert 0 <= accuracy <= 1
    classifier = metrics.load_classifier(weights)
    assert classifier.get_layer(metrics.FEATURES_LAYER).units == 128


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

import json
import subprocess
import sys

from conftest import REPO

from gan_core import evaluate, metrics


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


def test_bad_requests_are_refused(tiny_model_dir, tmp_path):
    assert "give a MODEL to score, or --train-classifier" in run_evaluate().stderr
    assert "--n must be at least 2" in run_evaluate(tiny_model_dir, "--n", 1).stderr
    missing = run_evaluate(tmp_path / "nope")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_training_the_classifier_writes_its_weights(idx_dir, tmp_path):
    weights = tmp_path / "classifier.weights.h5"
    accuracy = evaluate.train_classifier(idx_dir, epochs=1, weights=weights)
    assert 0 <= accuracy <= 1
    classifier = metrics.load_classifier(weights)
    assert classifier.get_layer(metrics.FEATURES_LAYER).units == 128

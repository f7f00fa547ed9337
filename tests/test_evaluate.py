import json
import shutil
import subprocess
import sys

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


def test_training_the_classifier_writes_its_weights(idx_dir, tmp_path):
    weights = tmp_path / "classifier.weights.h5"
    accuracy = evaluate.train_classifier(idx_dir, epochs=1, weights=weights)
    assert 0 <= accuracy <= 1
    classifier = metrics.load_classifier(weights)
    assert classifier.get_layer(metrics.FEATURES_LAYER).units == 128

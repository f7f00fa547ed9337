"""bench/gpu.py, prepared for a lent GPU machine, runs here on the CPU in its smoke mode."""

import json
import os
import subprocess
import sys

from conftest import REPO


def test_the_gpu_benchmark_runs_every_measurement_in_smoke_mode(idx_dir, tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "bench/gpu.py", "--smoke", "--data-dir", str(idx_dir), "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["backend"] == "jax"
    measured = [(row["batch"], row["precision"]) for row in results["speed"]]
    assert measured == [(16, "float32"), (16, "mixed_bfloat16"), (32, "float32"), (32, "mixed_bfloat16")]
    assert all(row["images_per_s"] > 0 for row in results["speed"])
    quality = results["quality"]
    assert quality["steps"] == 3 and quality["n"] == 200 and quality["fd"] > 0
    assert {"precision", "recall", "class_match", "class_recall_min", "class_recall_mean"} <= set(quality)
    assert "after 3 steps at batch 16" in done.stdout


def test_the_gpu_benchmark_scores_one_run_after_each_epoch_of_a_curve(idx_dir, tmp_path):
    out = tmp_path / "curve.json"
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "bench/gpu.py", "--data-dir", str(idx_dir), "--batch", "16", "--n", "60",
               "--curve", "2,1", "--recipe", "lr=2e-4", "lr_final=none", "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert (results["recipe"]["lr"], results["recipe"]["lr_final"], results["recipe"]["batch_size"]) == (2e-4, None, 16)
    assert [row["epoch"] for row in results["curve"]] == [1, 2]
    first, second = results["curve"]
    assert first["n"] == 60 and first["fd"] > 0
    assert second["fd"] != first["fd"], "the second score is of a model trained further"
    assert "speed" not in results

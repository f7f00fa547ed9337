"""Every Python example in README.md runs, as written, against what it names: the app on the bundled model,
the Hub (the stand-in on 127.0.0.1), a trained run folder. A new example needs a runner here, or this fails."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys

from conftest import REPO, TINY_TRAIN_FLAGS, running_app
from hub_server import fake_hub  # noqa: F401  (a fixture)

README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
APP_URL = "http://127.0.0.1:7860/"


def block(marker: str) -> str:
    (found,) = [code for code in BLOCKS if marker in code]
    return found


def test_every_python_example_has_a_runner():
    runners = ("Client(", 'load("hf://alice/fashion-gan")', 'gan_core.load("runs/quick")')
    assert len(BLOCKS) == 3 and all(sum(runner in code for runner in runners) == 1 for code in BLOCKS)


def test_the_api_example_runs_against_the_bundled_model():
    code = block("Client(")
    assert APP_URL in code
    with running_app(str(REPO / "pretrained")) as url:
        names, printed = {}, io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(code.replace(APP_URL, url), names)
    assert printed.getvalue().splitlines()[-1] == "seed 42 · Sneaker · d1 +2 seed=42&class=Sneaker&d1=2"
    assert names["caption"] == "seed 42 · Sneaker · d1 +2" and names["info"]["num_classes"] == 10
    assert [tile["caption"] for tile in names["every_class"]][7] == "Sneaker" and len(names["strips"]) == 8
    assert len(names["samples"]) == 16 and len(names["frames"]) == 8 and names["frame_class"] == "Sneaker"
    assert names["view"]["class"] == "Sneaker" and names["view"]["strengths"][0] == 2.0
    assert names["morph_gif"].endswith("sneaker-to-ankle-boot.gif") and 0 <= names["seed"] < 2**32
    assert json.loads(names["found_json"])["class"] == "Ankle boot" and "mean" in names["found_caption"]
    assert len(names["nearest"]) == 5 and names["epoch_caption"].startswith("After epoch 1 of ")


def test_the_hub_example_runs_against_the_stand_in_hub(fake_hub, tiny_conditional_model_dir, tmp_path):  # noqa: F811
    env = {**fake_hub.client_env(tmp_path / "home"), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    push = [sys.executable, "-m", "gan_core.hub", "push", str(tiny_conditional_model_dir), "alice/fashion-gan"]
    assert subprocess.run(push, cwd=REPO, env=env, capture_output=True, timeout=240).returncode == 0
    check = "\nassert images.shape == (3, 28, 28, 1) and g.output_shape == (None, 28, 28, 1)\n"
    result = subprocess.run([sys.executable, "-c", block('load("hf://alice/fashion-gan")') + check], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_saved_model_example_runs_on_a_run_folder(idx_dir, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    train = [sys.executable, str(REPO / "train.py"), "--data-dir", str(idx_dir), "--out", "runs/quick", "--epochs", "1",
             "--steps-per-epoch", "2", "--fd-every", "0", *TINY_TRAIN_FLAGS]  # fmt: skip
    trained = subprocess.run(train, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr
    code = block('gan_core.load("runs/quick")')
    code += "\nassert images.shape == (2, 28, 28, 1) and type(gan).__name__ == 'GAN'\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "'epochs': 1" in result.stdout  # the print of the run's training summary


def test_ci_runs_exactly_the_readmes_test_command():
    """The README's second command (install and test) is the last line of .ci/run, word for word."""
    commands = re.findall(r"```bash\n(.*?)\n```", README, flags=re.DOTALL)
    test_command = commands[1]
    assert "python -m pytest" in test_command and "KERAS_BACKEND=jax" in test_command
    assert (REPO / ".ci" / "run").read_text().strip().splitlines()[-1] == test_command

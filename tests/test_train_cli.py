import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, TINY_TRAIN_FLAGS
from PIL import Image

import gan_core
import train
from explorer.handlers import Explorer
from explorer.inside import Inside
from gan_core import metrics, training

TRAIN = ("train.py",)


def run_train(*args, timeout=300, script=TRAIN, env=None):
    """`python train.py ARGS` (or another `script` that takes train.py's flags) in a process of its own,
    with `env` added to the environment."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, *script, *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def history(run_dir):
    with (run_dir / "history.csv").open() as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "-1"], "--epochs must be at least 1, got -1"),
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--latent-dim", "5000"], "--latent-dim must be in 1 … 4096, got 5000"),
        (["--lr", "abc"], "--lr must be a number, got 'abc'"),
        (["--seed", "-5"], "--seed must be in 0 … 4294967295, got -5"),
        (["--dataset", "cifar"], "invalid choice: 'cifar'"),
        (["--image-size", "30"], "invalid choice: 30"),
        (["--ema", "0.3"], "--ema must be 0 (off) or in 0.5 … 0.99999, got 0.3"),
        (["--augment", "color,flip"], "augmentation policy 'color,flip': expected distinct names from color, "),
    ],
)
def test_bad_flag_values_stop_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "folder"], "--dataset folder needs --data-dir"),
        (["--data-dir", "/no/such/folder"], "--data-dir /no/such/folder is not a folder"),
        (["--image-size", "64"], "fashion-mnist images are 28×28 grey"),
        (["--resume"], "holds no run to resume"),
        (["--lr", "1e-4", "--lr-final", "3e-4"], "--lr-final 0.0003 is larger than --lr 0.0001: the rate decays"),
    ],
)
def test_inconsistent_flags_stop_before_work(argv, message, tmp_path, capsys):
    assert train.main([*argv, "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_out_folder_that_is_not_a_run_is_left_alone(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    assert train.main(["--out", str(tmp_path)]) == 2
    assert "is not a train.py run folder" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["precious.txt"]


def test_help_explains_every_flag(capsys):
    """Every flag the parser accepts is in --help with its own explanation, wrapped however argparse likes."""
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    squeezed = "".join(text.split())  # argparse wraps long lines at spaces and hyphens
    actions = [action for action in train.build_parser()._actions if action.option_strings and action.dest != "help"]
    assert len(actions) > 20  # the parser's own list (27 flags when this was written), not an empty one
    flags = {flag for action in actions for flag in action.option_strings}
    for action in actions:
        for flag in action.option_strings:
            assert re.search(rf"^  (.*, )?{re.escape(flag)}(?=[ ,\n])", text, re.MULTILINE), f"{flag} is not listed"
        assert action.help and action.help != argparse.SUPPRESS and len(action.help) > 15, f"{flag} has no help"
        assert "".join((action.help % vars(action)).split()) in squeezed, f"the help of {flag} is not shown"
    # and every flag the help mentions (in the examples, in other flags' help) is one the parser takes
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]", text)) - {"--help"}
    assert mentioned <= flags, f"--help mentions flags train.py does not take: {sorted(mentioned - flags)}"


@pytest.mark.backends
def test_train_end_to_end_then_extend(idx_dir, tmp_path):
    run_dir = tmp_path / "run"
    args = ["--data-dir", idx_dir, "--epochs", "2", "--steps-per-epoch", "3", "--out", run_dir, *TINY_TRAIN_FLAGS]
    result = run_train(*args)
    assert result.returncode == 0, result.stderr
    assert f"Saved the model to {run_dir / 'model'}" in result.stdout
    # Not a terminal: one line per epoch, no progress bar redrawn with carriage returns.
    assert "\r" not in result.stdout and "━" not in result.stdout
    assert [line.split(" - ")[0] for line in result.stdout.splitlines() if " - d_fake: " in line] == ["3/3", "3/3"]
    assert history(run_dir) == [1, 2]
    assert sorted(path.name for path in (run_dir / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert not (run_dir / "backup").exists()
    loaded = gan_core.load(run_dir)
    assert loaded.metadata["epochs"] == 2 and loaded.metadata["training"]["steps"] == 6
    assert loaded.metadata["dataset"] == "fashion-mnist" and loaded.metadata["class_names"][9] == "Ankle boot"
    assert loaded.generate([0], labels=[9]).shape == (1, 28, 28, 1)

    again = run_train(*args)
    assert again.returncode == 2 and "already holds a finished model (2 epochs)" in again.stderr
    assert history(run_dir) == [1, 2]

    extended = run_train("--out", run_dir, "--resume", "--epochs", "3", "--data-dir", idx_dir, "--no-download")
    assert extended.returncode == 0, extended.stderr
    assert "further: epochs 3 … 3" in extended.stdout
    assert history(run_dir) == [1, 2, 3]
    assert gan_core.load(run_dir).metadata["training"]["epochs"] == 3

    # The app's training timeline, opened on the run folder, replays all three epochs.
    inside = Inside(Explorer(gan_core.load(run_dir), "run"))
    assert inside.timeline.epochs == [1, 2, 3] and sorted(inside.timeline.grids) == [1, 2, 3]
    with (run_dir / "history.csv").open() as file:
        last = list(csv.DictReader(file))[-1]
    grid, caption = inside.timeline_grid(3)
    assert caption.startswith(f"After epoch 3 of 3: d_loss {float(last['d_loss']):.3f}, g_loss ")
    sample = np.asarray(Image.open(run_dir / "samples" / "epoch_003.png").convert("L"))
    shown = np.asarray(Image.open(grid).convert("L"))
    factor = shown.shape[0] // sample.shape[0]
    assert np.array_equal(shown[::factor, ::factor], sample)  # that epoch's grid (enlarged if small)

    conflict = run_train("--out", run_dir, "--resume", "--epochs", "4", "--batch-size", "32")
    assert conflict.returncode == 2 and "was started with --batch-size 16, not 32" in conflict.stderr


def start_and_stop_at_epoch(args, run_dir, epoch, signal_number, script=TRAIN):
    """Start train.py (or `script`), then send `signal_number` once the backup holds `epoch` epochs."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # Started as from a shell, with Ctrl-C's default action: a child inherits an ignored SIGINT, and some
    # library in the test process may have set one (Python then installs no KeyboardInterrupt handler).
    process = subprocess.Popen([sys.executable, *script, *map(str, args)], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    progress = run_dir / "backup" / "training_metadata.json"
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if progress.exists() and json.loads(progress.read_text() or "{}").get("epoch", 0) >= epoch:
            break
        time.sleep(0.05)
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=120)
    assert not (run_dir / "model").exists(), f"the run finished before it could be stopped:\n{stderr[-3000:]}"
    return process.returncode, stderr, json.loads(progress.read_text())["epoch"]


def test_interrupted_and_killed_run_resumes_from_last_finished_epoch(idx_dir, tmp_path):
    run_dir = tmp_path / "run"
    args = ["--data-dir", idx_dir, "--epochs", "8", "--steps-per-epoch", "40", "--out", run_dir, *TINY_TRAIN_FLAGS]

    code, stderr, done = start_and_stop_at_epoch(args, run_dir, 1, signal.SIGINT)
    assert code == 130 and f"Interrupted. Resume with: python train.py --out {run_dir}" in stderr
    assert 1 <= done < 8

    code, _, done = start_and_stop_at_epoch(args, run_dir, done + 2, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert 3 <= done < 8

    resumed = run_train(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming the interrupted run in {run_dir} after epoch {done} of 8" in resumed.stdout
    assert history(run_dir) == list(range(1, 9))
    metadata = gan_core.load(run_dir).metadata
    assert metadata["epochs"] == 8 and metadata["training"]["steps"] == 8 * 40
    assert len(list((run_dir / "samples").iterdir())) == 8


def test_conditional_training_on_an_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("circles", "squares"):
        for i in range(8):
            (tmp_path / "pictures" / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype="uint8")).save(
                tmp_path / "pictures" / name / f"{i}.png"
            )
    run_dir = tmp_path / "run"
    folder_flags = ["--dataset", "folder", "--data-dir", tmp_path / "pictures", "--image-size", "32", "--conditional"]
    result = run_train(*folder_flags, "--epochs", "1", "--steps-per-epoch", "2", "--out", run_dir, *TINY_TRAIN_FLAGS)
    assert result.returncode == 0, result.stderr
    loaded = gan_core.load(run_dir)
    assert loaded.image_shape == (32, 32, 3) and loaded.num_classes == 2
    assert loaded.metadata["class_names"] == ["circles", "squares"]
    assert loaded.generate([0, 0], labels=[0, 1]).shape == (2, 32, 32, 3)


def test_default_recipe_is_conditional_with_ema_on_labelled_data(idx_dir, tmp_path):
    run_dir = tmp_path / "run"
    args = ["--data-dir", idx_dir, "--epochs", "1", "--steps-per-epoch", "2", "--fd-every", "0", "--out", run_dir]
    result = run_train(*args, *TINY_TRAIN_FLAGS, "--augment", "translation,cutout")
    assert result.returncode == 0, result.stderr
    loaded = gan_core.load(run_dir)
    assert loaded.num_classes == 10
    recipe = loaded.metadata["recipe"]
    assert recipe["conditional"] is True and recipe["ema"] == 0.999 and recipe["augment"] == "translation,cutout"
    assert json.loads((run_dir / "run.json").read_text())["augment"] == "translation,cutout"


def write_unlabelled_folder(folder):
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(16):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype="uint8")).save(folder / f"{i}.png")


def test_unlabelled_folder_trains_unconditionally_unless_conditional_is_asked_for(tmp_path):
    write_unlabelled_folder(tmp_path / "pictures")
    flags = ["--dataset", "folder", "--data-dir", tmp_path / "pictures", "--image-size", "32", *TINY_TRAIN_FLAGS]
    short = ["--epochs", "1", "--steps-per-epoch", "1", "--ema", "0"]
    result = run_train(*flags, *short, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert "The data has no labels: training an unconditional model." in result.stdout
    loaded = gan_core.load(tmp_path / "run")
    assert loaded.num_classes is None
    assert loaded.metadata["recipe"]["conditional"] is False and loaded.metadata["recipe"]["ema"] == 0.0
    assert json.loads((tmp_path / "run" / "run.json").read_text())["conditional"] is False

    refused = run_train(*flags, *short, "--conditional", "--out", tmp_path / "refused")
    assert refused.returncode == 2
    assert "--conditional needs labelled data" in refused.stderr and "sub-folder" in refused.stderr
    assert not (tmp_path / "refused").exists()


def test_fd_is_logged_and_the_best_model_kept(idx_dir, tmp_path):
    run_dir = tmp_path / "run"
    args = ["--data-dir", idx_dir, "--epochs", "3", "--steps-per-epoch", "2", "--out", run_dir, *TINY_TRAIN_FLAGS]
    refused = run_train(*args, "--fd-every", "1", "--fd-samples", "40")
    assert refused.returncode == 2 and "--fd-samples must be at least 50 for a conditional model" in refused.stderr
    result = run_train(*args, "--fd-every", "1", "--fd-samples", "50", "--tensorboard")
    assert result.returncode == 0, result.stderr
    with (run_dir / "history.csv").open() as file:
        rows = [{name: float(value) for name, value in row.items()} for row in csv.DictReader(file)]
    assert [row["epoch"] for row in rows] == [1, 2, 3] and all(np.isfinite(list(row.values())).all() for row in rows)
    # The best epoch: the lowest FD among those where no class's recall is below half the mean per-class recall.
    kept = [row for row in rows if row["class_recall_min"] >= metrics.COLLAPSE_SHARE * row["class_recall_mean"]]
    if kept:
        best = gan_core.load(run_dir / "best").metadata
        winner = min(kept, key=lambda row: row["fd"])
        assert best["epochs"] == winner["epoch"] and best["quality"]["fd"] == round(winner["fd"], 4)
        assert best["quality"]["per_class"]["worst"]["recall"] == winner["class_recall_min"]
        assert best["quality"]["n"] == 50 and best["quality"]["collapsed"] == []
    else:
        assert not (run_dir / "best").exists()
    assert any((run_dir / "tensorboard").rglob("events.out.tfevents.*"))


def test_fd_needs_fashion_mnist(tmp_path, capsys):
    assert train.main(["--dataset", "mnist", "--fd-every", "2", "--out", str(tmp_path / "run")]) == 2
    assert "--fd-every needs --dataset fashion-mnist" in capsys.readouterr().err


def test_missing_test_split_explains_how_to_train_without_fd(idx_dir, tmp_path, monkeypatch, capsys):
    from gan_core import data

    monkeypatch.setattr(data, "SYSTEM_DATA_DIR", tmp_path / "no-system-copy")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras-cache"))
    monkeypatch.delenv("GAN_DATA_DIR", raising=False)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (idx_dir / name).unlink()
    args = ["--data-dir", str(idx_dir), "--epochs", "1", "--steps-per-epoch", "1", "--out", str(tmp_path / "run"),
            *TINY_TRAIN_FLAGS]  # fmt: skip
    assert train.main(args) == 2
    assert "--fd-every 0 trains without it" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # stopped before the run folder was written
    assert train.main([*args, "--fd-every", "0"]) == 0


@pytest.mark.parametrize(("flag", "xla"), [([], True), (["--no-xla"], False)])
def test_the_training_step_is_compiled_with_xla_unless_turned_off(flag, xla, idx_dir, tmp_path, monkeypatch):
    built = []
    build_gan = training.build_gan
    monkeypatch.setattr(
        training, "build_gan", lambda *args, **kwargs: built.append(build_gan(*args, **kwargs)) or built[-1]
    )
    argv = [
        "--data-dir",
        idx_dir,
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--fd-every",
        "0",
        "--out",
        tmp_path / "run",
    ]
    assert train.main([*argv, *TINY_TRAIN_FLAGS, *flag]) == 0
    [gan] = built
    assert gan.jit_compile is xla and int(gan.g_optimizer.iterations) == 2

"""A run folder never loses its model: a crash at every step of finishing, a real `kill -9` at the
moments that used to lose it, broken backups, leftovers and a second process on the same folder."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from conftest import REPO, TINY_TRAIN_FLAGS, write_tiny_idx_dataset

import train
from gan_core import run

# The os calls that change which files exist: every step of finishing is one of them.
FILE_STEPS = ("rename", "replace", "unlink", "rmdir")
FINISHED_RUN = [".lock", "history.csv", "model", "run.json", "samples"]


class Crash(BaseException):
    """The process dying here: nothing catches it, as nothing survives a kill."""


def train_args(data, run_dir):
    return ["--data-dir", str(data), "--epochs", "2", "--steps-per-epoch", "3", "--fd-every", "0",
            "--out", str(run_dir), *TINY_TRAIN_FLAGS]  # fmt: skip


@pytest.fixture(scope="module")
def finishing(tmp_path_factory):
    """A trained run copied just before `finish` (the template), and the model the uninterrupted finish made."""
    root = tmp_path_factory.mktemp("finishing")
    data = write_tiny_idx_dataset(root / "idx")
    finish = run.finish

    def copy_then_finish(gan, out, metadata):
        shutil.copytree(out, root / "template")
        return finish(gan, out, metadata)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run, "finish", copy_then_finish)
        assert train.main(train_args(data, root / "run")) == 0
    return data, root / "template", root / "run" / "model"


def train_py(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train.py", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(finishing, tmp_path_factory):
    """The model `train.py` makes when nothing stops it: a fresh process trains exactly as the killed ones do
    (a run inside the test process can differ in the last digits, after other tests changed its state)."""
    data, _, _ = finishing
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    result = train_py(*train_args(data, run_dir))
    assert result.returncode == 0, result.stderr
    return run_dir / "model"


def finish_crashing_at(step, monkeypatch) -> list[str]:
    """Make `run.finish` crash at its `step`-th file step (never, for None); returns the steps taken."""
    steps, finish = [], run.finish

    def counted(name, original):
        def step_then_crash(*args, **kwargs):
            steps.append(" ".join([name, *map(os.fspath, args)]))
            if len(steps) - 1 == step:
                raise Crash(steps[-1])
            return original(*args, **kwargs)

        return step_then_crash

    def crashing_finish(*args):
        with pytest.MonkeyPatch.context() as patch:
            for name in FILE_STEPS:
                patch.setattr(os, name, counted(name, getattr(os, name)))
            return finish(*args)

    monkeypatch.setattr(run, "finish", crashing_finish)
    return steps


def weights(model_dir) -> dict[str, np.ndarray]:
    arrays = {}
    with h5py.File(model_dir / "model.weights.h5", "r") as file:
        file.visititems(lambda name, item: arrays.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None)
    return arrays


def description(model_dir) -> dict:
    """What gan.json says, less the wall-clock time training took and the run's own folder in its command."""
    metadata = json.loads((model_dir / "gan.json").read_text())
    del metadata["training"]["train_seconds"]
    metadata["command"] = re.sub(r"--out \S+", "--out RUN", metadata["command"])
    return metadata


def assert_same_model(model_dir, reference):
    assert description(model_dir) == description(reference)
    ours, theirs = weights(model_dir), weights(reference)
    assert ours.keys() == theirs.keys() and len(ours) > 10
    assert all(np.array_equal(ours[name], theirs[name]) for name in ours), "the weights differ"


def test_a_crash_at_any_step_of_finishing_leaves_the_trained_model(finishing, tmp_path, monkeypatch, capsys):
    data, template, reference = finishing
    shutil.copytree(template, tmp_path / "count")
    steps = finish_crashing_at(None, monkeypatch)
    assert train.main(train_args(data, tmp_path / "count")) == 0
    assert_same_model(tmp_path / "count" / "model", reference)  # a run restored from its backup saves the same
    renamed_to = [step.rsplit("/", 1)[1] for step in steps if step.startswith("rename")]
    assert renamed_to == ["model", f".backup.retired-{os.getpid()}"] and "unlink latest.weights.h5" in steps
    every_step = list(steps)

    for step, name in enumerate(every_step):
        run_dir = tmp_path / f"crash-{step}"
        shutil.copytree(template, run_dir)
        finish_crashing_at(step, monkeypatch)
        with pytest.raises(Crash):
            train.main(train_args(data, run_dir))
        monkeypatch.undo()
        saved = (run_dir / "model").exists()
        capsys.readouterr()

        code = train.main(train_args(data, run_dir))
        error = capsys.readouterr().err
        if saved:  # the model was in place: it is kept as it is, and the run says it is finished
            assert code == 2 and "already holds a finished model (2 epochs)" in error, (name, error)
        else:
            assert code == 0, (name, error)
        assert_same_model(run_dir / "model", reference)
        assert sorted(path.name for path in run_dir.iterdir()) == FINISHED_RUN, name


def write_backup(run_dir, epoch, files=("metadata", "weights"), suffix=""):
    backup = run_dir / run.BACKUP_DIR
    backup.mkdir(exist_ok=True)
    if "metadata" in files:
        (backup / f"{run.BACKUP_METADATA}{suffix}").write_text(json.dumps({"epoch": epoch, "batch": 0}))
    if "weights" in files:
        with h5py.File(backup / f"{run.BACKUP_WEIGHTS}{suffix}", "w") as file:
            file["vars/0"] = np.zeros(3)


def test_a_backup_that_cannot_be_restored_is_reported_not_trained_from_scratch(finishing, tmp_path, capsys):
    data, template, _ = finishing
    run_dir = tmp_path / "run"
    shutil.copytree(template, run_dir)
    (run_dir / run.BACKUP_DIR / run.BACKUP_WEIGHTS).unlink()
    (run_dir / run.BACKUP_DIR / f"{run.BACKUP_WEIGHTS}{run.PREVIOUS}").unlink()
    history = (run_dir / "history.csv").read_text()

    assert train.main(train_args(data, run_dir)) == 2
    error = capsys.readouterr().err
    assert "backup cannot be restored: training_metadata.json says 2 epochs, but latest.weights.h5 is missing" in error
    assert "Start a new run with another --out" in error
    assert not (run_dir / "model").exists() and (run_dir / "history.csv").read_text() == history


@pytest.mark.parametrize(
    ("latest", "previous", "expected"),
    [
        (("metadata", "weights"), ("metadata", "weights"), 4),
        (("metadata",), ("metadata", "weights"), 3),  # this epoch's weights missing: the epoch before
        ((), ("metadata", "weights"), 3),
        (("weights",), (), "training_metadata.json is missing"),
        (("metadata",), ("metadata",), "says 4 epochs, but latest.weights.h5 is missing"),
    ],
)
def test_backup_epoch_falls_back_to_the_epoch_before_only_when_it_is_whole(tmp_path, latest, previous, expected):
    write_backup(tmp_path, 4, latest)
    write_backup(tmp_path, 3, previous, suffix=run.PREVIOUS)
    if isinstance(expected, int):
        assert run.backup_epoch(tmp_path) == expected
        assert json.loads((tmp_path / run.BACKUP_DIR / run.BACKUP_METADATA).read_text())["epoch"] == expected
    else:
        with pytest.raises(run.BrokenBackupError, match=re.escape(expected)):
            run.backup_epoch(tmp_path)


def test_weights_saved_without_their_metadata_give_way_to_the_epoch_before(tmp_path):
    """Keras writes an epoch's weights, then its metadata: killed in between, the metadata equals the copy's."""
    write_backup(tmp_path, 3)
    write_backup(tmp_path, 3, suffix=run.PREVIOUS)
    backup = tmp_path / run.BACKUP_DIR
    with h5py.File(backup / run.BACKUP_WEIGHTS, "w") as file:
        file["vars/0"] = np.ones(3)  # epoch 4's weights
    assert run.backup_epoch(tmp_path) == 3
    assert (backup / run.BACKUP_WEIGHTS).read_bytes() == (backup / f"{run.BACKUP_WEIGHTS}{run.PREVIOUS}").read_bytes()


@pytest.mark.parametrize(("claimed", "stale"), [(2, True), (3, False)])
def test_a_broken_backup_beside_a_model_is_stale_only_if_it_claims_no_more_epochs(tmp_path, claimed, stale):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "gan.json").write_text(json.dumps({"latent_dim": 16, "epochs": 2}))
    write_backup(tmp_path, claimed, ("metadata",))  # its weights lost
    assert run.retire_stale_backup(tmp_path) is stale
    assert (tmp_path / run.BACKUP_DIR).exists() is not stale
    if not stale:  # a --resume --epochs 3 run killed while writing it: reported, not deleted
        with pytest.raises(run.BrokenBackupError, match=r"says 3 epochs, but latest\.weights\.h5 is missing"):
            run.backup_epoch(tmp_path)


def test_truncated_backup_weights_are_reported(tmp_path):
    write_backup(tmp_path, 2)
    weights_file = tmp_path / run.BACKUP_DIR / run.BACKUP_WEIGHTS
    weights_file.write_bytes(weights_file.read_bytes()[:100])
    with pytest.raises(run.BrokenBackupError, match=r"latest\.weights\.h5 is truncated or corrupt"):
        run.backup_epoch(tmp_path)


def test_a_half_deleted_backup_beside_the_finished_model_is_retired(finishing, tmp_path, capsys):
    """What the old finish left when killed while deleting backup/: metadata without weights."""
    data, template, reference = finishing
    run_dir = tmp_path / "run"
    shutil.copytree(template, run_dir)
    shutil.copytree(reference, run_dir / "model")
    (run_dir / run.BACKUP_DIR / run.BACKUP_WEIGHTS).unlink()
    (run_dir / ".model.partial-999999").mkdir()

    assert train.main(train_args(data, run_dir)) == 2
    captured = capsys.readouterr()
    assert f"Removed {run_dir / '.model.partial-999999'}, left by a process killed half-way." in captured.out
    assert f"Removed the backup in {run_dir}: the finished model was saved after it." in captured.out
    assert "already holds a finished model (2 epochs)" in captured.err
    assert_same_model(run_dir / "model", reference)
    assert sorted(path.name for path in run_dir.iterdir()) == FINISHED_RUN


def test_a_model_moved_aside_by_a_killed_save_is_put_back(finishing, tmp_path, capsys):
    data, template, reference = finishing
    run_dir = tmp_path / "run"
    shutil.copytree(template, run_dir)
    shutil.rmtree(run_dir / run.BACKUP_DIR)
    shutil.copytree(reference, run_dir / ".model.previous-999999")

    assert train.main(train_args(data, run_dir)) == 2
    assert f"Put back {run_dir / 'model'}, which a save killed half-way had moved aside." in capsys.readouterr().out
    assert_same_model(run_dir / "model", reference)


def test_a_second_train_py_on_the_same_run_folder_is_refused(finishing, tmp_path, capsys):
    data, template, _ = finishing
    run_dir = tmp_path / "run"
    shutil.copytree(template, run_dir)
    with run.lock(run_dir):
        assert train.main(train_args(data, run_dir)) == 2
    assert f"{run_dir} is in use by another train.py" in capsys.readouterr().err
    assert not (run_dir / "model").exists()


def files(folder) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def kill_when(run_dir, appeared, data):
    """Start train.py, `kill -9` it as soon as `appeared(run_dir)` is true; returns whether that moment came."""
    process = subprocess.Popen([sys.executable, "train.py", *train_args(data, run_dir)], cwd=REPO,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None and not appeared(run_dir):
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=60) == -signal.SIGKILL


@pytest.mark.parametrize(
    "moment",
    [
        "saving",  # the model is being written beside model/
        "finishing",  # model/ is in place: the backup is being retired, or already gone
    ],
)
def test_kill_9_while_finishing_keeps_the_trained_model(finishing, uninterrupted, tmp_path, moment):
    data, _, _ = finishing
    run_dir = tmp_path / "run"
    if moment == "saving":
        killed = kill_when(run_dir, lambda folder: any(folder.glob(".model.partial-*/*")), data)
    else:
        killed = kill_when(run_dir, lambda folder: (folder / "model").exists(), data)
    assert killed, "train.py finished before the moment came"
    kept = (run_dir / "model").exists()
    if kept:
        snapshot = files(run_dir / "model")

    restarted = train_py(*train_args(data, run_dir))
    if kept:
        assert restarted.returncode == 2 and "already holds a finished model" in restarted.stderr, restarted.stderr
        assert files(run_dir / "model") == snapshot
    else:
        assert restarted.returncode == 0, restarted.stderr
        assert "Resuming the interrupted run" in restarted.stdout and "after epoch 2 of 2" in restarted.stdout
    assert_same_model(run_dir / "model", uninterrupted)
    assert sorted(path.name for path in run_dir.iterdir()) == FINISHED_RUN

"""A finished run exported like the bundled model, and what `train.py` writes on the way: the command,
a history with real columns numbered like the sample grids, and one line per epoch in a log."""

import csv
import json

import numpy as np
import pytest
from conftest import TINY_TRAIN_FLAGS, write_tiny_idx_dataset
from PIL import Image

import gan_core
import train
from gan_core import metrics, run, saved_model

EPOCHS = 3


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    data = write_tiny_idx_dataset(root / "idx")
    argv = ["--data-dir", str(data), "--epochs", str(EPOCHS), "--steps-per-epoch", "2", "--fd-every", "1",
            "--fd-samples", "50", "--out", str(root / "run"), *TINY_TRAIN_FLAGS]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:  # a few steps of training leave every class "collapsed"
        patch.setattr(metrics, "collapsed_classes", lambda scores: [])
        assert train.main(argv) == 0
    return root / "run", argv


def test_gan_json_records_the_command_line(finished_run):
    run_dir, argv = finished_run
    command = f"python train.py {' '.join(argv)}"
    assert gan_core.load(run_dir).metadata["command"] == command
    assert json.loads((run_dir / run.RUN_JSON).read_text())["command"] == command


def test_history_has_real_columns_and_epochs_numbered_like_the_sample_grids(finished_run):
    run_dir, _ = finished_run
    with (run_dir / run.HISTORY_CSV).open() as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["epoch", "d_fake", "d_loss", "d_real", "g_loss", "seconds", "images_per_second", "fd",
                             "class_recall_min", "class_recall_mean"]  # fmt: skip
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert sorted(path.name for path in (run_dir / run.SAMPLES_DIR).iterdir()) == [
        f"epoch_{epoch:03d}.png" for epoch in range(1, EPOCHS + 1)
    ]
    assert all(row[name] not in ("", "nan") for row in rows for name in row)


def test_export_writes_the_best_generator_with_its_history_and_timeline(finished_run, tmp_path):
    run_dir, _ = finished_run
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "stale.txt").write_text("replaced whole")
    exported = run.export(run_dir, tmp_path / "bundle")
    best = saved_model.read_metadata(run_dir / run.BEST_DIR)
    written = saved_model.read_metadata(exported)
    selected = f"epoch {best['epochs']} of {EPOCHS}: the lowest FD in which no class had collapsed (best/)"
    training = {**saved_model.read_metadata(run_dir / "model")["training"], "selected": selected}
    assert written == {**best, "training": training} and "per_class" in best["quality"]
    assert training["epochs"] == EPOCHS and training["train_seconds"] > 0
    assert not (exported / saved_model.GAN_KERAS).exists() and not (exported / "stale.txt").exists()
    assert (exported / run.HISTORY_CSV).read_bytes() == (run_dir / run.HISTORY_CSV).read_bytes()
    for epoch in range(1, EPOCHS + 1):
        grid = np.asarray(Image.open(run_dir / run.SAMPLES_DIR / f"epoch_{epoch:03d}.png"))
        small = np.asarray(Image.open(exported / run.TIMELINE_DIR / f"epoch_{epoch:03d}.png"))
        assert small.shape == (grid.shape[0] // 2, grid.shape[1] // 2)
        np.testing.assert_array_equal(small.repeat(2, axis=0).repeat(2, axis=1), grid)
    assert gan_core.load(exported).generate([0, 1], labels=[3, 4]).shape == (2, 28, 28, 1)


def test_export_refuses_a_run_without_a_model(tmp_path, capsys):
    assert run.main(["export", str(tmp_path / "missing"), str(tmp_path / "bundle")]) == 2
    assert "No saved model at" in capsys.readouterr().err and not (tmp_path / "bundle").exists()

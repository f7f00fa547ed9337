"""The training timeline: read from a run folder or a model folder, compacted within a budget, drawn as curves
and as an animation."""

import csv
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from gan_core import timeline
from gan_core.timeline import TimelineMissing

COLUMNS = ["epoch", "d_fake", "d_loss", "d_real", "g_loss", "seconds", "images_per_second", "fd"]


def fake_run(folder, epochs: int, grid_side: int = 64, noise: bool = False):
    """A run folder's history (FD every 2 epochs, NaN between) and 2×-drawn grids whose pixels encode the epoch."""
    (folder / "samples").mkdir(parents=True)
    with (folder / "history.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for epoch in range(1, epochs + 1):
            writer.writerow([epoch, 0.3, 1.2 - epoch / 100, 0.7, 0.9 + epoch / 100, 60, 900,
                             100 / epoch if epoch % 2 == 0 else "nan"])  # fmt: skip
    rng = np.random.default_rng(0)
    for epoch in range(1, epochs + 1):
        small = rng.integers(0, 256, (grid_side, grid_side), dtype="uint8") if noise else np.full(
            (grid_side, grid_side), epoch, dtype="uint8")  # fmt: skip
        Image.fromarray(small.repeat(2, 0).repeat(2, 1)).save(folder / "samples" / f"epoch_{epoch:03d}.png")
    return folder


def test_a_run_folder_reads_as_one_row_and_one_grid_per_epoch(tmp_path):
    found = timeline.read(fake_run(tmp_path / "run", 4))
    assert found.epochs == [1, 2, 3, 4] and sorted(found.grids) == [1, 2, 3, 4]
    assert found.series("fd") == [(2, 50.0), (4, 25.0)]  # NaN epochs left out
    assert found.series("g_loss")[-1] == (4, pytest.approx(0.94))


def test_compact_halves_the_grids_and_keeps_first_and_last_within_the_budget(tmp_path):
    run = fake_run(tmp_path / "run", 9, grid_side=96, noise=True)  # noise: each grid ~9 KB, incompressible
    model = tmp_path / "model"
    model.mkdir()
    one_grid = 9300  # bytes of one 96 × 96 grid of noise
    timeline.compact(run, model, budget=4 * one_grid)
    kept = sorted(path.name for path in (model / "timeline").glob("epoch_*.png"))
    assert kept[0] == "epoch_001.png" and kept[-1] == "epoch_009.png" and 2 <= len(kept) <= 4
    assert sum((model / "timeline" / name).stat().st_size for name in kept) <= 4 * one_grid
    assert Image.open(model / "timeline" / kept[0]).size == (96, 96)  # the run's 2× grid at its native size
    assert (model / "history.csv").read_bytes() == (run / "history.csv").read_bytes()
    again = timeline.read(model)
    assert again.epochs == list(range(1, 10)) and sorted(again.grids) == [int(n[6:9]) for n in kept]


def test_compact_keeps_every_grid_when_they_fit(tmp_path):
    run = fake_run(tmp_path / "run", 5)
    timeline.compact(run, tmp_path)
    grids = timeline.read(tmp_path).grids
    assert sorted(grids) == [1, 2, 3, 4, 5]
    assert np.asarray(Image.open(grids[3])).tolist() == np.full((64, 64), 3).tolist()


def test_curves_are_an_svg_with_a_line_per_measured_series(tmp_path):
    svg = ET.fromstring(timeline.curves_svg(timeline.read(fake_run(tmp_path / "run", 6))))
    lines = svg.findall("{http://www.w3.org/2000/svg}polyline")
    labels = [text.text for text in svg.findall("{http://www.w3.org/2000/svg}text")]
    assert len(lines) == 5 and {"d_loss", "g_loss", "d_real", "d_fake", "fd"} <= set(labels)
    fd_points = lines[-1].get("points").split()
    assert len(fd_points) == 3  # epochs 2, 4, 6
    # FD falls, so its line goes down the chart: SVG's y grows downwards
    ys = [float(point.split(",")[1]) for point in fd_points]
    assert ys == sorted(ys)


def test_the_animation_has_a_frame_per_grid_with_its_epoch(tmp_path):
    found = timeline.read(fake_run(tmp_path / "run", 3))
    gif = Image.open(timeline.animation(found, tmp_path / "timeline.gif"))
    assert gif.n_frames == 3
    gif.seek(2)
    frame = np.asarray(gif.convert("L"))
    assert frame.shape == (128 + 14, 128) and frame[20:, :].max() == 3  # the third epoch's grid, under its label
    assert frame[:14].max() > 200  # the label's white text (the GIF palette rounds it)


def test_a_folder_without_history_says_so(tmp_path):
    with pytest.raises(TimelineMissing, match="has no training history"):
        timeline.read(tmp_path)

"""How a model learned: its training history and the sample grid of every epoch.

A run folder (`train.py --out`) holds them as `history.csv` and `samples/epoch_NNN.png`; a
model folder made from a run (`run.export`, the bundled model, a model pushed to the Hub)
holds `history.csv` and `timeline/epoch_NNN.png`, the grids at half size. `read` finds
either; `compact` writes the second from the first within a size budget; `curves_svg` draws
the curves for a model card; `animation` makes a GIF of the grids.
"""

import csv
import dataclasses
import io
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from gan_core.errors import GanCoreError

HISTORY_CSV = "history.csv"
TIMELINE_DIR = "timeline"
RUN_SAMPLES_DIR = "samples"
CURVES_SVG = "curves.svg"
GRID_NAME = re.compile(r"epoch_(\d{3,})\.png")
LOSSES = ("d_loss", "g_loss")
PROBABILITIES = ("d_real", "d_fake")  # D's mean output on real and on generated images
QUALITY = ("fd",)
HUB_BUDGET = 2 * 2**20  # bytes of grids a pushed model carries
BUNDLED_BUDGET = 2**20


class TimelineMissing(GanCoreError, FileNotFoundError):
    """A folder without a training history (a model saved before histories were kept, or made elsewhere)."""


@dataclasses.dataclass(frozen=True)
class Timeline:
    """One row of numbers per epoch (NaN where a value was not measured) and the grids of the epochs that have one."""

    rows: list[dict[str, float]]
    grids: dict[int, Path]  # epoch → PNG

    @property
    def epochs(self) -> list[int]:
        return [int(row["epoch"]) for row in self.rows]

    def series(self, name: str) -> list[tuple[int, float]]:
        """(epoch, value) of the epochs where `name` was measured."""
        return [(int(row["epoch"]), row[name]) for row in self.rows if math.isfinite(row.get(name, math.nan))]


def history_rows(path) -> list[dict[str, str]]:
    """The rows of a `history.csv` as written (text values), or none if there is no such file."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def write_history(path, rows: list[dict], columns: list[str]) -> None:
    """Write `history.csv` whole, atomically: a crash leaves the old file or the new one, never half of it."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.tmp")
    with staging.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(staging, path)


def read(folder) -> Timeline:
    """The timeline of a run folder or of a model folder made from one; `TimelineMissing` says why there is none."""
    folder = Path(folder)
    history = folder / HISTORY_CSV
    if not history.is_file():
        raise TimelineMissing(
            f"{folder.name or folder} has no training history ({HISTORY_CSV}): it was saved without one, "
            "so there is no timeline to show.",
            value=folder,
        )
    rows = [{name: _number(value) for name, value in row.items()} for row in history_rows(history)]
    if not rows or "epoch" not in rows[0]:
        raise TimelineMissing(f"{history} has no epochs in it.", value=history)
    grids_dir = folder / TIMELINE_DIR if (folder / TIMELINE_DIR).is_dir() else folder / RUN_SAMPLES_DIR
    grids = {}
    if grids_dir.is_dir():
        for path in sorted(grids_dir.iterdir()):
            match = GRID_NAME.fullmatch(path.name)
            if match:
                grids[int(match[1])] = path
    return Timeline(rows, grids)


def _number(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def compact(source, destination, budget: int = BUNDLED_BUDGET) -> Path:
    """Write `source`'s history and its grids at half size into `destination` (a model folder), keeping every
    epoch's grid if they fit `budget` bytes and otherwise evenly spaced ones, the first and the last always."""
    timeline = read(source)
    destination = Path(destination)
    shutil.copyfile(Path(source) / HISTORY_CSV, destination / HISTORY_CSV)
    from_run = not (Path(source) / TIMELINE_DIR).is_dir()
    encoded = {epoch: _png(_half(path) if from_run else Image.open(path)) for epoch, path in timeline.grids.items()}
    kept = sorted(encoded)
    while kept and sum(len(encoded[epoch]) for epoch in kept) > budget and len(kept) > 2:
        kept = [*kept[:-1:2], kept[-1]] if len(kept) > 3 else [kept[0], kept[-1]]
    (destination / TIMELINE_DIR).mkdir(exist_ok=True)
    for epoch in kept:
        (destination / TIMELINE_DIR / f"epoch_{epoch:03d}.png").write_bytes(encoded[epoch])
    (destination / TIMELINE_DIR / CURVES_SVG).write_text(curves_svg(timeline))
    return destination


def _half(path: Path) -> Image.Image:
    """A run's grid at its native size: `samples.preview_grid` repeats every pixel 2 × 2."""
    return Image.fromarray(np.asarray(Image.open(path))[::2, ::2])


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def animation(timeline: Timeline, path, milliseconds: int = 400) -> Path:
    """A GIF of the grids, epoch by epoch, each with its epoch number above it; the last frame lingers."""
    frames = []
    for epoch, grid in sorted(timeline.grids.items()):
        image = Image.open(grid).convert("L")
        frame = Image.new("L", (image.width, image.height + 14), 0)
        frame.paste(image, (0, 14))
        ImageDraw.Draw(frame).text((2, 1), f"epoch {epoch}", fill=255)
        frames.append(frame)
    if not frames:
        raise TimelineMissing("This history has no sample grids to animate.", value=None)
    durations = [milliseconds] * (len(frames) - 1) + [milliseconds * 5]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return Path(path)


def curves_svg(timeline: Timeline, width: int = 640, height: int = 200) -> str:
    """The losses, D's outputs and FD per epoch as three small line charts side by side, in SVG."""
    panels = [("losses", LOSSES), ("D(x) and D(G(z))", PROBABILITIES), ("FD (lower is better)", QUALITY)]
    colours = ["#1f77b4", "#d62728"]
    panel_width = width // len(panels)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="11"><rect width="100%" height="100%" fill="white"/>']  # fmt: skip
    epochs = timeline.epochs
    for index, (title, names) in enumerate(panels):
        left, top, inner_w, inner_h = index * panel_width + 34, 18, panel_width - 44, height - 40
        values = [value for name in names for _, value in timeline.series(name)]
        parts.append(f'<text x="{left}" y="12">{title}</text>')
        parts.append(f'<rect x="{left}" y="{top}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#999"/>')
        if not values:
            parts.append(f'<text x="{left + 6}" y="{top + 20}" fill="#666">not measured</text>')
            continue
        low, high = min(values), max(values)
        high = high if high > low else low + 1
        first, last = min(epochs), max(max(epochs), min(epochs) + 1)
        parts.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{high:.3g}</text>')
        parts.append(f'<text x="{left - 4}" y="{top + inner_h}" text-anchor="end">{low:.3g}</text>')
        parts.append(f'<text x="{left}" y="{height - 8}">epoch {first}</text>')
        parts.append(f'<text x="{left + inner_w}" y="{height - 8}" text-anchor="end">{last}</text>')
        for colour, name in zip(colours, names, strict=False):
            points = " ".join(
                f"{left + inner_w * (epoch - first) / (last - first):.1f},"
                f"{top + inner_h * (1 - (value - low) / (high - low)):.1f}"
                for epoch, value in timeline.series(name)
            )
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
            parts.append(f'<text x="{left + inner_w - 4}" y="{top + 14 + 13 * names.index(name)}" text-anchor="end" '
                         f'fill="{colour}">{name}</text>')  # fmt: skip
    parts.append("</svg>")
    return "\n".join(parts) + "\n"

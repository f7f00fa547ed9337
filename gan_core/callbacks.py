"""Callbacks for what happens between epochs of `GAN.fit`."""

import csv
import time
from pathlib import Path

import keras

from gan_core import metrics, timeline
from gan_core.samples import images_for_first_seeds, preview_grid, save_png


class SampleGrid(keras.callbacks.Callback):
    """Save `epoch_NNN.png` from the same fixed seeds after every epoch.

    Fixed seeds make the grids comparable: the same tile shows the same z
    as training goes on.
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        self.model.refresh_ema_statistics()
        save_png(
            preview_grid(self.model.generate, self.model.num_classes), self.directory / f"epoch_{epoch + 1:03d}.png"
        )


class HistoryCSV(keras.callbacks.Callback):
    """Append one row per epoch to a CSV file: `epoch`, numbered from 1 like the sample grids, then the logs.

    Unlike `keras.callbacks.CSVLogger` it writes only the columns the logs have (no `val_*`
    columns that stay empty without validation data). A file that already has rows (a resumed
    run) keeps its column order; a run extended with a column it did not have (FD measured
    only from now on) gets that column added, empty in the earlier rows.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **(logs or {})}
        rows = timeline.history_rows(self.path)
        columns = list(rows[0]) if rows else []
        new_columns = [name for name in row if name not in columns]
        if not rows or new_columns:
            timeline.write_history(self.path, [*rows, row], columns + new_columns)
            return
        with self.path.open("a", newline="") as file:
            csv.DictWriter(file, fieldnames=columns).writerow(row)


class EpochTimer(keras.callbacks.Callback):
    """Add the epoch's wall-clock `seconds` and `images_per_second` to the logs.

    Place it before `HistoryCSV`, which then records both columns.
    """

    def __init__(self, batch_size: int):
        super().__init__()
        self.batch_size = batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        logs["seconds"] = seconds
        logs["images_per_second"] = self._steps * self.batch_size / seconds


class FrechetDistance(keras.callbacks.Callback):
    """Every `every` epochs and after the last, the FD of `samples` generated images to the real test set, as `fd`.

    For a conditional model (`real_labels` given) it also logs the lowest and the mean
    per-class recall (`class_recall_min`, `class_recall_mean`, see `metrics.per_class`).
    Epochs in between log NaN, so `CSVLogger` keeps the columns. When FD improves on `best`
    (the best so far, also across an interrupted run) and no class has collapsed
    (`metrics.collapsed_classes`), `on_improvement(gan, epoch, scores)` is called — `train.py`
    saves the model as the best one there — so the best model never has a dead class.
    """

    def __init__(self, classifier, real_features, every: int, samples: int = metrics.FD_SAMPLES, best=float("inf"),
                 on_improvement=None, real_labels=None):  # fmt: skip
        super().__init__()
        self.classifier = classifier
        self.real_features = real_features
        self.real_labels = real_labels
        self.every = every
        self.samples = samples
        self.best = best
        self.on_improvement = on_improvement

    def on_epoch_end(self, epoch, logs=None):
        names = ["fd", *(["class_recall_min", "class_recall_mean"] if self.real_labels is not None else [])]
        if (epoch + 1) % self.every and epoch + 1 != self.params.get("epochs"):
            logs.update(dict.fromkeys(names, float("nan")))
            return
        scores = self.scores()
        logs["fd"] = scores["fd"]
        if "per_class" in scores:
            logs["class_recall_min"] = scores["per_class"]["worst"]["recall"]
            logs["class_recall_mean"] = scores["per_class"]["mean"]["recall"]
        if scores["fd"] < self.best and not scores.get("collapsed"):
            self.best = scores["fd"]
            if self.on_improvement:
                self.on_improvement(self.model, epoch, scores)

    def scores(self) -> dict:
        """FD on `samples` images; for a conditional model, per-class scores and the collapsed classes."""
        self.model.refresh_ema_statistics()
        images, labels = images_for_first_seeds(self.model, self.samples)
        fake_features, _ = metrics.embed(self.classifier, images)
        scores = {"fd": round(metrics.frechet_distance(self.real_features, fake_features), 4), "n": self.samples}
        if self.real_labels is not None:
            scores["per_class"] = metrics.per_class(self.real_features, self.real_labels, fake_features, labels)
            scores["collapsed"] = metrics.collapsed_classes(scores["per_class"])
        return scores

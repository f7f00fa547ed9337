"""Callbacks for what happens between epochs of `GAN.fit`."""

import time
from pathlib import Path

import keras

from gan_core import metrics
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
        save_png(
            preview_grid(self.model.generate, self.model.num_classes), self.directory / f"epoch_{epoch + 1:03d}.png"
        )


class EpochTimer(keras.callbacks.Callback):
    """Add the epoch's wall-clock `seconds` and `images_per_second` to the logs.

    Place it before `CSVLogger`, which then records both columns.
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
    """Every `every` epochs, the FD of `samples` generated images to the real test set, logged as `fd`.

    Epochs in between log NaN, so `CSVLogger` keeps one column. When FD improves on
    `best` (the best so far, also across an interrupted run), `on_improvement(gan, epoch, fd)`
    is called — `train.py` saves the model as the best one there.
    """

    def __init__(self, classifier, real_features, every: int, samples: int = 2000, best=float("inf"),
                 on_improvement=None):  # fmt: skip
        super().__init__()
        self.classifier = classifier
        self.real_features = real_features
        self.every = every
        self.samples = samples
        self.best = best
        self.on_improvement = on_improvement

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            logs["fd"] = float("nan")
            return
        images, _ = images_for_first_seeds(self.model, self.samples)
        fake_features, _ = metrics.embed(self.classifier, images)
        logs["fd"] = metrics.frechet_distance(self.real_features, fake_features)
        if logs["fd"] < self.best:
            self.best = logs["fd"]
            if self.on_improvement:
                self.on_improvement(self.model, epoch, logs["fd"])

"""The FD callback: per-class scores during training, and a best model that never has a collapsed class."""

import numpy as np
import pytest

from gan_core import metrics, timeline
from gan_core.callbacks import FrechetDistance, HistoryCSV
from gan_core.evaluate import fashion_mnist

SAMPLES = 2000


@pytest.fixture(scope="module")
def real():
    """Test-set features and labels, and training images by class (what a perfect generator would draw)."""
    train, test = fashion_mnist()
    classifier = metrics.load_classifier()
    by_class = [train.images[train.labels == label][:SAMPLES] for label in range(10)]
    return classifier, metrics.embed(classifier, test.images)[0], test.labels, by_class


class TrainingImages:
    """A stand-in for a conditional GAN that draws training images of the asked class; `collapsed`
    classes always draw the same one."""

    num_classes, latent_dim = 10, 4

    def __init__(self, by_class, collapsed=()):
        self.by_class, self.collapsed = by_class, set(collapsed)

    def refresh_ema_statistics(self):
        pass

    def generate(self, seeds=None, *, latents, labels):
        picks = np.abs(latents[:, 0] * 1000).astype(int)
        return np.stack([
            self.by_class[label][0 if label in self.collapsed else pick % len(self.by_class[label])]
            for pick, label in zip(picks, labels, strict=True)
        ])  # fmt: skip


def run_epoch(callback, model, epochs=5) -> tuple[dict, list]:
    """The first of `epochs` epochs, as `fit` would call the callback."""
    improvements, logs = [], {}
    callback.on_improvement = lambda gan, epoch, scores: improvements.append((epoch, scores))
    callback.set_model(model)
    callback.set_params({"epochs": epochs, "verbose": 2, "steps": 1})
    callback.on_epoch_end(0, logs)
    return logs, improvements


def test_a_healthy_model_is_kept_as_the_best_with_its_per_class_scores(real):
    classifier, features, labels, by_class = real
    callback = FrechetDistance(classifier, features, every=1, samples=SAMPLES, real_labels=labels)
    logs, improvements = run_epoch(callback, TrainingImages(by_class))
    [(epoch, scores)] = improvements
    assert epoch == 0 and scores["collapsed"] == [] and scores["n"] == SAMPLES
    assert logs["fd"] == scores["fd"] < 15  # training images against test images: near the floor
    assert logs["class_recall_min"] == scores["per_class"]["worst"]["recall"] > 0.6
    assert logs["class_recall_mean"] == scores["per_class"]["mean"]["recall"] > 0.75
    assert callback.best == scores["fd"]


def test_an_epoch_with_a_collapsed_class_is_never_the_best(real):
    classifier, features, labels, by_class = real
    callback = FrechetDistance(classifier, features, every=1, samples=SAMPLES, real_labels=labels)
    logs, improvements = run_epoch(callback, TrainingImages(by_class, collapsed={5}))
    assert improvements == [] and callback.best == float("inf")
    assert logs["fd"] < 30  # one class in ten collapsed: the overall FD alone would have kept it
    assert logs["class_recall_min"] < 0.05 and logs["class_recall_mean"] > 0.6
    assert metrics.collapsed_classes(callback.scores()["per_class"]) == [5]


def test_epochs_between_measurements_log_nan_in_every_column(real):
    classifier, features, labels, by_class = real
    callback = FrechetDistance(classifier, features, every=2, samples=SAMPLES, real_labels=labels)
    logs, improvements = run_epoch(callback, TrainingImages(by_class))
    assert improvements == [] and set(logs) == {"fd", "class_recall_min", "class_recall_mean"}
    assert all(np.isnan(value) for value in logs.values())


def test_the_last_epoch_is_measured_whatever_the_interval(real):
    classifier, features, labels, by_class = real
    callback = FrechetDistance(classifier, features, every=5, samples=SAMPLES, real_labels=labels)
    logs, [(epoch, scores)] = run_epoch(callback, TrainingImages(by_class), epochs=1)
    assert epoch == 0 and logs["fd"] == scores["fd"] < 15


def test_a_history_extended_with_a_new_column_keeps_its_rows_and_its_order(tmp_path):
    path = tmp_path / "history.csv"
    history = HistoryCSV(path)
    history.on_epoch_end(0, {"d_loss": 1.5, "g_loss": 0.7})
    history.on_epoch_end(1, {"d_loss": 1.25, "g_loss": 0.75})
    history.on_epoch_end(2, {"d_loss": 1.0, "g_loss": 0.8, "fd": 42.5})  # a run extended with FD from now on
    history.on_epoch_end(3, {"g_loss": 0.9, "d_loss": 0.5, "fd": 40.0})
    assert path.read_text().splitlines() == [
        "epoch,d_loss,g_loss,fd",
        "1,1.5,0.7,",
        "2,1.25,0.75,",
        "3,1.0,0.8,42.5",
        "4,0.5,0.9,40.0",
    ]
    assert timeline.read(tmp_path).series("fd") == [(3, 42.5), (4, 40.0)]
    assert not list(tmp_path.glob(".*"))  # no staging file left behind

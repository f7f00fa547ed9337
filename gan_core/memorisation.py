"""Is the model copying its training set? Nearest training images, and a data-copying test.

Both work in the feature space of the shipped Fashion-MNIST classifier (`metrics`), where
near means "looks alike", not "has similar pixels".

- `TrainingIndex`: the features of every training image, built once and cached under
  `cache_dir()` (not in the repository); `nearest` answers with the k closest images and
  their distances.
- `data_copying`: the C_T statistic of Meehan, Chaudhuri & Dasgupta (2020), "A Non-Parametric
  Test to Detect Data-Copying in Generative Models". The training features are split into
  cells (k-means); in each cell, a Mann-Whitney test asks whether generated samples lie
  closer to their nearest training image than held-out test images do. The cells' z-scores,
  weighted by the share of test images in each, average to C_T: about 0 for a model that
  draws new images like the test set's, far below 0 for one that copies (below
  `COPYING_THRESHOLD`: flagged), above 0 for one whose samples are farther than real images.
"""

import dataclasses
import hashlib
import os
import time
from pathlib import Path

import numpy as np

from gan_core import metrics
from gan_core.data import load_idx_dataset

CELLS = 20  # k-means cells of the training features
MIN_CELL_SHARE = 0.01  # cells with fewer generated samples than this share are left out (the paper's τ)
COPYING_THRESHOLD = -3.0  # C_T below this flags data copying: 3 standard errors closer than held-out images
CACHE_ENV = "GAN_CORE_CACHE"
QUERY_CHUNK = 1024


def cache_dir() -> Path:
    """Where indexes are kept: $GAN_CORE_CACHE, else $XDG_CACHE_HOME/gan_core, else ~/.cache/gan_core."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gan_core"


@dataclasses.dataclass(frozen=True)
class Neighbours:
    indices: np.ndarray  # (n, k) into the training images, nearest first
    distances: np.ndarray  # (n, k) in feature space


class TrainingIndex:
    """The classifier features of a data set's training images, for nearest-neighbour queries."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, features: np.ndarray, source: str):
        self.images, self.labels, self.features, self.source = images, labels, features.astype("float32"), source
        self._squared_norms = (self.features**2).sum(axis=1)

    @classmethod
    def load(cls, dataset: str = "fashion-mnist", data_dir=None, log=None) -> "TrainingIndex":
        """The index of `dataset`'s training split: read from the cache, or built (and cached) from the data.

        Raises `gan_core.errors.DataError` when the training data cannot be found: there is nothing to compare with.
        """
        data = load_idx_dataset(dataset, data_dir, "train", allow_download=False)
        key = hashlib.sha256(data.images.tobytes() + metrics.CLASSIFIER_WEIGHTS.read_bytes()).hexdigest()[:16]
        path = cache_dir() / f"neighbours-{dataset}-{key}.npy"
        if path.exists():
            features = np.load(path)
            if features.shape == (len(data.images), metrics.FEATURES):
                return cls(data.images, data.labels, features, data.source)
        start = time.perf_counter()
        features = metrics.embed(metrics.load_classifier(), data.images)[0].astype("float32")
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".partial-{os.getpid()}.npy")
        np.save(staging, features)
        os.replace(staging, path)
        if log:
            log(f"Indexed {len(features):,} training images in {time.perf_counter() - start:.1f} s: {path}")
        return cls(data.images, data.labels, features, data.source)

    def nearest(self, features: np.ndarray, k: int = 5) -> Neighbours:
        """The `k` training images nearest to each row of `features` (classifier features)."""
        features = np.asarray(features, dtype="float32")
        indices, distances = [], []
        for start in range(0, len(features), QUERY_CHUNK):
            chunk = features[start : start + QUERY_CHUNK]
            squared = (chunk**2).sum(1)[:, None] + self._squared_norms[None, :] - 2 * chunk @ self.features.T
            nearest = np.argpartition(squared, k - 1, axis=1)[:, :k]
            # exact distances of the few found: the expanded square above loses digits near 0
            exact = np.linalg.norm(chunk[:, None, :] - self.features[nearest], axis=2)
            order = exact.argsort(axis=1)
            indices.append(np.take_along_axis(nearest, order, axis=1))
            distances.append(np.take_along_axis(exact, order, axis=1))
        return Neighbours(np.concatenate(indices), np.concatenate(distances))


def mann_whitney_z(sample: np.ndarray, reference: np.ndarray) -> float:
    """The z-score of the Mann-Whitney U statistic: negative when `sample`'s values tend to be smaller
    than `reference`'s, about N(0, 1) when both come from one distribution (ties get average ranks)."""
    m, n = len(sample), len(reference)
    values = np.concatenate([sample, reference])
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    u = ranks[:m].sum() - m * (m + 1) / 2
    return float((u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12))


def kmeans(points: np.ndarray, k: int, iterations: int = 20, seed: int = 0) -> np.ndarray:
    """k cluster centres of `points` (Lloyd's algorithm from k distinct random points)."""
    rng = np.random.default_rng(seed)
    centres = points[rng.choice(len(points), k, replace=False)].copy()
    for _ in range(iterations):
        assignment = assign(points, centres)
        for cell in range(k):
            members = points[assignment == cell]
            if len(members):
                centres[cell] = members.mean(axis=0)
    return centres


def assign(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    squared = (points**2).sum(1)[:, None] + (centres**2).sum(1)[None, :] - 2 * points @ centres.T
    return squared.argmin(axis=1)


def data_copying(index: TrainingIndex, test_features: np.ndarray, generated_features: np.ndarray) -> dict:
    """C_T of generated samples against held-out test images (see the module docstring)."""
    centres = kmeans(index.features[:: max(1, len(index.features) // 20_000)], CELLS)
    test_cells, generated_cells = assign(test_features, centres), assign(generated_features, centres)
    test_distances = index.nearest(test_features, 1).distances[:, 0]
    generated_distances = index.nearest(generated_features, 1).distances[:, 0]
    statistic, used = 0.0, 0
    for cell in range(CELLS):
        test_in, generated_in = test_cells == cell, generated_cells == cell
        if generated_in.mean() < MIN_CELL_SHARE or test_in.sum() < 2:
            continue
        weight = test_in.mean()
        statistic += weight * mann_whitney_z(generated_distances[generated_in], test_distances[test_in])
        used += 1
    return {
        "c_t": round(float(statistic), 3),
        "copying": bool(statistic < COPYING_THRESHOLD),
        "cells_used": used,
        "median_distance": round(float(np.median(generated_distances)), 3),
        "test_median_distance": round(float(np.median(test_distances)), 3),
    }

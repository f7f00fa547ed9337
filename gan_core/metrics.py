"""Sample-quality metrics in the feature space of a Fashion-MNIST classifier.

InceptionV3 weights cannot be downloaded here, so FID's usual network is
replaced by a small CNN trained on the same domain (`build_classifier`, weights
shipped in `gan_core/assets/`). Its penultimate layer ("features") gives:

- Fréchet distance (FD) ‖μ₁−μ₂‖² + Tr(Σ₁+Σ₂−2(Σ₁Σ₂)^½) between real and generated features;
- KID: unbiased MMD² with the cubic polynomial kernel (xᵀy/d + 1)³, averaged over subsets;
- precision/recall (Kynkäänniemi et al. 2019): the share of generated samples inside
  the real k-NN manifold, and of real samples inside the generated one;
- the entropy of the predicted-class histogram (ln 10 ≈ 2.303 when every class is equally
  common) and, for conditional models, the share of samples classified as the class asked for;
- for conditional models, FD, precision and recall within each class (`per_class`): a class
  whose samples have collapsed onto a few designs has recall near 0 while the overall
  numbers barely move.
"""

from pathlib import Path

import keras
import numpy as np
from keras import layers

from gan_core import backend
from gan_core.samples import to_unit_range

CLASSIFIER_WEIGHTS = Path(__file__).parent / "assets" / "fashion_mnist_classifier.weights.h5"
FEATURES_LAYER = "features"
FEATURES = 128  # length of a feature vector
FD_SAMPLES = 2000  # generated images per FD measured during training (train.py, bench/quality.py's curves)
NEIGHBOURS = 3  # k of the k-NN manifolds behind precision and recall
PER_CLASS_MINIMUM = NEIGHBOURS + 2  # samples of each class, real and generated, that `per_class` needs
# A class whose recall is below this share of the mean per-class recall has collapsed (`collapsed_classes`).
COLLAPSE_SHARE = 0.5


def build_classifier(num_classes: int = 10) -> keras.Model:
    """A small CNN for 28×28 grey images in [−1, 1]: outputs (features, logits)."""
    image = keras.Input((28, 28, 1))
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(image)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    features = layers.Dense(FEATURES, activation="relu", name=FEATURES_LAYER)(x)
    logits = layers.Dense(num_classes, name="logits")(layers.Dropout(0.3)(features))
    return keras.Model(image, [features, logits], name="fashion_mnist_classifier")


def load_classifier(weights: Path = CLASSIFIER_WEIGHTS) -> keras.Model:
    if not Path(weights).exists():
        raise FileNotFoundError(
            f"No classifier weights at {weights}: train them with `python -m gan_core.evaluate --train-classifier`."
        )
    classifier = build_classifier()
    classifier.load_weights(weights)
    return classifier


def embed(classifier: keras.Model, images: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """uint8 NHWC images → (features as float64, class probabilities)."""
    features, logits = backend.predict(classifier, to_unit_range(images), batch_size)
    return features.astype("float64"), keras.ops.convert_to_numpy(keras.ops.softmax(logits))


def feature_extractor(classifier: keras.Model):
    """uint8 NHWC images → features, compiled for the small batches of an interactive query (`embed` goes
    through `predict`, whose overhead is about 100 ms a call)."""
    infer = backend.compile_inference(classifier)
    return lambda images: keras.ops.convert_to_numpy(infer(to_unit_range(images))[0]).astype("float64")


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """‖μ₁−μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) of two feature sets (rows are samples).

    Tr((Σ₁Σ₂)^½) is computed as the sum of √λ over the eigenvalues λ of the
    symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½, which has the same spectrum.
    """
    mu1, mu2 = real.mean(axis=0), fake.mean(axis=0)
    sigma1, sigma2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    values, vectors = np.linalg.eigh(sigma1)
    sqrt_sigma1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.linalg.eigvalsh(sqrt_sigma1 @ sigma2 @ sqrt_sigma1)
    trace_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def kernel_inception_distance(
    real: np.ndarray, fake: np.ndarray, subsets: int = 50, subset_size: int = 1000, seed: int = 0
) -> float:
    """Unbiased MMD² with the kernel k(x, y) = (xᵀy/d + 1)³, averaged over random subsets."""
    rng = np.random.default_rng(seed)
    size = min(subset_size, len(real), len(fake))
    dim = real.shape[1]
    estimates = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), size, replace=False)]
        y = fake[rng.choice(len(fake), size, replace=False)]
        k_xx, k_yy, k_xy = ((a @ b.T / dim + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        off_diagonal = size * (size - 1)
        estimates.append(
            (k_xx.sum() - np.trace(k_xx)) / off_diagonal
            + (k_yy.sum() - np.trace(k_yy)) / off_diagonal
            - 2 * k_xy.mean()
        )
    return float(np.mean(estimates))


def _kth_neighbour_radius(points: np.ndarray, k: int, chunk: int = 1000) -> np.ndarray:
    radii = np.empty(len(points))
    for start in range(0, len(points), chunk):
        distances = _distances(points[start : start + chunk], points)
        radii[start : start + chunk] = np.partition(distances, k, axis=1)[:, k]  # index 0 is the point itself
    return radii


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(squared, 0, None))


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int = 1000) -> float:
    """The share of `points` inside at least one ball (centre, radius)."""
    inside = [
        (_distances(points[start : start + chunk], centres) <= radii[None, :]).any(axis=1)
        for start in range(0, len(points), chunk)
    ]
    return float(np.concatenate(inside).mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = NEIGHBOURS) -> tuple[float, float]:
    """Precision: generated samples inside the real manifold; recall: real samples inside the generated one."""
    precision = _coverage(fake, real, _kth_neighbour_radius(real, k))
    recall = _coverage(real, fake, _kth_neighbour_radius(fake, k))
    return precision, recall


def class_entropy(probabilities: np.ndarray) -> float:
    """Entropy (nats) of the histogram of predicted classes; ln(classes) when all are equally common."""
    counts = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1])
    shares = counts[counts > 0] / counts.sum()
    return max(0.0, float(-(shares * np.log(shares)).sum()))  # max: no "-0.0" for a single class


def class_match(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The share of samples the classifier assigns to the class they were generated for."""
    return float((probabilities.argmax(axis=1) == np.asarray(labels)).mean())


def per_class(real: np.ndarray, real_labels, fake: np.ndarray, fake_labels, k: int = NEIGHBOURS) -> dict:
    """FD, precision and recall between the real and generated features of each class, and
    their worst and mean values over the classes.

    Returns `{"classes": [{"fd", "precision", "recall"} per class], "worst": {…}, "mean": {…}}`,
    where "worst" is the highest FD and the lowest precision and recall of any class. Every
    class in `real_labels` must have at least k + 2 samples on both sides (`PER_CLASS_MINIMUM` for the default k).
    """
    real_labels, fake_labels = np.asarray(real_labels), np.asarray(fake_labels)
    rows = []
    for label in np.unique(real_labels):
        real_class, fake_class = real[real_labels == label], fake[fake_labels == label]
        if min(len(real_class), len(fake_class)) < k + 2:
            raise ValueError(
                f"Class {label} has {len(real_class)} real and {len(fake_class)} generated samples; "
                f"per-class scores need at least {k + 2} of each."
            )
        precision, recall = precision_recall(real_class, fake_class, k)
        rows.append({"fd": frechet_distance(real_class, fake_class), "precision": precision, "recall": recall})
    rows = [{name: round(value, 4) for name, value in row.items()} for row in rows]
    columns = {name: [row[name] for row in rows] for name in ("fd", "precision", "recall")}
    return {
        "classes": rows,
        "worst": {"fd": max(columns["fd"]), "precision": min(columns["precision"]), "recall": min(columns["recall"])},
        "mean": {name: round(float(np.mean(values)), 4) for name, values in columns.items()},
    }


def collapsed_classes(scores: dict, share: float = COLLAPSE_SHARE) -> list[int]:
    """The classes of a `per_class` result whose recall is below `share` × the mean per-class recall.

    Relative to the mean, so it reads the same whatever the sample count (recall on a few
    hundred samples per class is lower than on thousands, for every class alike).
    """
    mean = scores["mean"]["recall"]
    return [index for index, row in enumerate(scores["classes"]) if row["recall"] < share * mean]


def compare(real: tuple[np.ndarray, np.ndarray], fake: tuple[np.ndarray, np.ndarray], labels=None) -> dict:
    """Every metric between embedded real and generated sets (each `(features, probabilities)`)."""
    precision, recall = precision_recall(real[0], fake[0])
    scores = {
        "fd": frechet_distance(real[0], fake[0]),
        "kid_x1000": 1000 * kernel_inception_distance(real[0], fake[0]),
        "precision": precision,
        "recall": recall,
        "class_entropy": class_entropy(fake[1]),
    }
    if labels is not None:
        scores["class_match"] = class_match(fake[1], labels)
    return {name: round(value, 4) for name, value in scores.items()}

"""Score a generator against Fashion-MNIST, and train the classifier the scores are computed with.

    python -m gan_core.evaluate MODEL_OR_RUN [--n 10000]     # a folder, a run, or hf://owner/name[@revision]
    python -m gan_core.evaluate MODEL_FOLDER --write          # also store the scores in its gan.json
    python -m gan_core.evaluate MODEL --directions [8] [--n 1000] [--write]   # SeFa slider limits
    python -m gan_core.evaluate MODEL --memorisation [--n 5000] [--write]    # does it copy its training set?
    python -m gan_core.evaluate --train-classifier            # writes gan_core/assets/…classifier.weights.h5

Prints JSON: FD, KID ×1000, precision, recall, class entropy (and class match for a
conditional model) of n generated images against n test images, and the same numbers for
n training images against the test images — the real-vs-real floor no generator can beat.
For a conditional model also FD, precision and recall within each class (`per_class`:
every class, the worst and the mean, and the classes that have collapsed), with their floor.
With --write the scores also go into the model's gan.json as `quality`, which the model
card on the Hub and the app's About tab show.

With --directions K it measures instead how far the app's sliders can move a latent along
each of the first K SeFa directions before the images stop looking like the data
(`direction_limits`); --write stores those limits in gan.json as `directions`.

With --memorisation it runs the data-copying test (`gan_core.memorisation`, Meehan et al.
2020): C_T compares how close n samples and n held-out test images lie to their nearest
training image. Beside it, its floor: the same test with the other half of the test set as
the "model", which copies nothing. C_T below the threshold flags copying.
"""

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from gan_core import hub, memorisation, metrics, saved_model
from gan_core.data import load_idx_dataset
from gan_core.errors import GanCoreError
from gan_core.latent import labels_for_seeds, latents_from_seeds, sefa_directions
from gan_core.samples import images_for_first_seeds, images_for_latents, to_unit_range
from gan_core.saved_model import ModelFolderError, SavedGenerator

DATASET = "fashion-mnist"
DIRECTION_STRENGTHS = tuple(0.5 * step for step in range(1, 21))  # 0.5 … 10.0
PLAUSIBLE_SHARE = 0.9
LIMIT_RULE = (
    f"The largest strength s (0.5 steps) such that at every strength up to s, precision (k=3, shipped classifier) "
    f"and class match of the moved seeds stay at least {PLAUSIBLE_SHARE:.0%} of the unmoved seeds'."
)


def fashion_mnist(data_dir=None):
    """The training and test splits."""
    return load_idx_dataset(DATASET, data_dir, "train"), load_idx_dataset(DATASET, data_dir, "test")


def train_classifier(data_dir=None, epochs: int = 10, seed: int = 0, weights: Path = metrics.CLASSIFIER_WEIGHTS):
    """Train the metric classifier on the training split; return its test accuracy."""
    train, test = fashion_mnist(data_dir)
    keras.utils.set_random_seed(seed)
    classifier = metrics.build_classifier(len(train.class_names))
    model = keras.Model(classifier.inputs, classifier.outputs[1])
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(to_unit_range(train.images), train.labels, batch_size=128, epochs=epochs, verbose=2)
    _, accuracy = model.evaluate(to_unit_range(test.images), test.labels, batch_size=500, verbose=0)
    weights.parent.mkdir(parents=True, exist_ok=True)
    classifier.save_weights(weights)
    return accuracy


def load_scorable(source) -> SavedGenerator:
    """The generator at `source`, if it makes the 28×28 grey images the metric classifier reads."""
    generator = hub.load(source)
    if generator.image_shape != (28, 28, 1):
        raise ModelFolderError(
            f"The metrics need 28×28 grey images; {source} makes {generator.image_shape}.", value=source
        )
    return generator


def evaluate(source, n: int = 10_000, data_dir=None) -> dict:
    generator = load_scorable(source)
    train, test = fashion_mnist(data_dir)
    count = min(n, len(test.images))
    classifier = metrics.load_classifier()
    real = metrics.embed(classifier, test.images[:count])
    images, labels = images_for_first_seeds(generator, n)
    fake, floor = metrics.embed(classifier, images), metrics.embed(classifier, train.images[:count])
    report = {
        "model": str(source),
        "dataset": DATASET,
        "n": n,
        "real_images": count,
        "scores": metrics.compare(real, fake, labels),
        "real_vs_real": metrics.compare(real, floor),
    }
    if labels is not None:
        real_labels = test.labels[:count]
        report["per_class"] = metrics.per_class(real[0], real_labels, fake[0], labels)
        report["per_class"]["collapsed"] = metrics.collapsed_classes(report["per_class"])
        report["real_vs_real_per_class"] = metrics.per_class(real[0], real_labels, floor[0], train.labels[:count])
    return report


def memorisation_report(source, n: int = 5000, data_dir=None) -> dict:
    """C_T of the model's first `n` seeds, and of held-out test images (the floor), against the first half
    of the test set; n is capped at half the test set."""
    generator = load_scorable(source)
    _, test = fashion_mnist(data_dir)
    index = memorisation.TrainingIndex.load(DATASET, data_dir, log=lambda line: print(line, file=sys.stderr))
    classifier = metrics.load_classifier()
    half = len(test.images) // 2
    count = min(n, half)
    reference, held_out = (
        metrics.embed(classifier, test.images[:half])[0],
        metrics.embed(classifier, test.images[half:])[0],
    )
    generated = metrics.embed(classifier, images_for_first_seeds(generator, count)[0])[0]
    return {
        "model": str(source),
        "n": count,
        "threshold": memorisation.COPYING_THRESHOLD,
        "model_vs_held_out": memorisation.data_copying(index, reference, generated),
        "floor": memorisation.data_copying(index, reference, held_out[:count]),
    }


def quality_metadata(report: dict) -> dict:
    """The flat `quality` entry of gan.json for an `evaluate` report."""
    quality = {
        **{name: round(value, 4) for name, value in report["scores"].items()},
        "n": report["n"],
        "real_vs_real_fd": round(report["real_vs_real"]["fd"], 4),
        "feature_space": "gan_core Fashion-MNIST classifier (not Inception)",
    }
    if "per_class" in report:
        quality["per_class"] = report["per_class"]
        quality["real_vs_real_per_class"] = {key: report["real_vs_real_per_class"][key] for key in ("worst", "mean")}
    return quality


def plausible_limit(strengths: Sequence[float], scores: dict, base: dict, share: float = PLAUSIBLE_SHARE) -> float:
    """The strength furthest out, walking `strengths` in order (away from 0), that is reached before any score
    first falls below `share` × its base; 0.0 if the first strength already does.

    `scores` maps each name in `base` to one value per strength. A score that recovers further out
    does not extend the limit: a slider would have to cross the broken images to get there.
    """
    limit = 0.0
    for i, strength in enumerate(strengths):
        if any(scores[name][i] < share * base[name] for name in base):
            break
        limit = strength
    return limit


def direction_limits(
    generator: SavedGenerator,
    count: int = 8,
    n: int = 1000,
    strengths: Sequence[float] = DIRECTION_STRENGTHS,
    data_dir=None,
    classifier: keras.Model | None = None,
) -> dict:
    """How far the first `count` SeFa directions can move a latent, each way, before its images break.

    Seeds 0 … n−1 (with their `labels_for_seeds`) are moved by ±s along each unit direction, for
    each strength s, and scored against n test images: precision and, for a conditional model,
    class match. `plausible_limit` turns each curve into the limit the app's sliders stop at.
    Returns the limits as [low, high] per direction, the rule, the unmoved scores (`base`) and
    every measured score (`curves`, one entry per direction with its SeFa eigenvalue).
    """
    directions, eigenvalues = sefa_directions(generator.first_layer_kernel(), generator.latent_dim)
    if not 1 <= count <= len(directions):
        raise ValueError(f"The model has {len(directions)} latent directions; cannot measure {count}.")
    _, test = fashion_mnist(data_dir)
    classifier = classifier or metrics.load_classifier()
    real = metrics.embed(classifier, test.images[:n])[0]
    seeds = np.arange(n)
    latents = latents_from_seeds(seeds, generator.latent_dim)
    labels = labels_for_seeds(seeds, generator.num_classes)

    def scores(images: np.ndarray) -> list[dict]:
        """Precision (and class match) of each consecutive block of n images."""
        features, probabilities = metrics.embed(classifier, images)
        blocks = []
        for start in range(0, len(images), n):
            block = {"precision": metrics.precision_recall(real, features[start : start + n])[0]}
            if labels is not None:
                block["class_match"] = metrics.class_match(probabilities[start : start + n], labels)
            blocks.append({name: round(value, 4) for name, value in block.items()})
        return blocks

    base = scores(images_for_latents(generator, latents, labels))[0]
    signed = [sign * strength for sign in (-1, 1) for strength in strengths]
    all_labels = None if labels is None else np.tile(labels, len(signed))
    limits, curves = [], []
    for direction, eigenvalue in zip(directions[:count], eigenvalues[:count], strict=True):
        moved = np.concatenate([latents + strength * direction for strength in signed])
        blocks = scores(images_for_latents(generator, moved, all_labels))
        curve = {"eigenvalue": round(float(eigenvalue), 4)}
        for sign, part in (("-", blocks[: len(strengths)]), ("+", blocks[len(strengths) :])):
            curve[sign] = {name: [block[name] for block in part] for name in base}
        low = plausible_limit([-strength for strength in strengths], curve["-"], base)
        high = plausible_limit(strengths, curve["+"], base)
        limits.append([math.trunc(2 * limit) / 2 for limit in (low, high)])  # 0.5 steps, towards 0
        curves.append(curve)
    return {"count": count, "limits": limits, "rule": LIMIT_RULE, "n": n, "base": base,
            "strengths": list(strengths), "curves": curves}  # fmt: skip


def directions_metadata(report: dict) -> dict:
    """The `directions` entry of gan.json for a `direction_limits` report: what the app's sliders need."""
    return {key: report[key] for key in ("count", "limits", "rule", "n")}


def print_direction_table(report: dict, file=sys.stderr) -> None:
    """One line per direction, its eigenvalue and limits: a summary to read beside the JSON."""
    print(f"unmoved seeds: {report['base']}", file=file)
    print(f"{'direction':>9}{'eigenvalue':>12}{'low':>7}{'high':>7}", file=file)
    for i, ((low, high), curve) in enumerate(zip(report["limits"], report["curves"], strict=True), start=1):
        print(f"{i:>9}{curve['eigenvalue']:>12.2f}{low:>7.1f}{high:>7.1f}", file=file)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_core.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("model", nargs="?", help="saved-model or run folder, or hf://owner/name[@revision]")
    parser.add_argument("--n", type=int, help="images to score (default: 10000; with --directions 1000 per strength)")
    parser.add_argument("--write", action="store_true", help="store the scores (or limits) in the model's gan.json")
    parser.add_argument("--directions", type=int, nargs="?", const=8, metavar="K",
                        help="measure the slider limits of the first K SeFa directions instead (K: 8)")  # fmt: skip
    parser.add_argument("--memorisation", action="store_true",
                        help="run the data-copying test instead (n: 5000 by default)")  # fmt: skip
    parser.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--train-classifier", action="store_true", help="train and save the metric classifier")
    parser.add_argument("--epochs", type=int, default=10, help="classifier training epochs (default: 10)")
    args = parser.parse_args(argv)
    if args.train_classifier == (args.model is not None):
        parser.error("give a MODEL to score, or --train-classifier, not both")
    if args.directions is not None and args.memorisation:
        parser.error("--directions and --memorisation are two different measurements: run one at a time")
    if args.n is None:
        args.n = 1000 if args.directions is not None else 5000 if args.memorisation else 10_000
    if args.n < 2:
        parser.error(f"--n must be at least 2, got {args.n}")
    if args.directions is not None and args.directions < 1:
        parser.error(f"--directions must be at least 1, got {args.directions}")
    if args.write and (args.model is None or args.model.startswith(hub.HF_PREFIX)):
        parser.error("--write needs a local model folder (a Hub model is changed by pushing a new version)")
    try:
        if args.train_classifier:
            accuracy = train_classifier(args.data_dir, args.epochs)
            print(json.dumps({"classifier": str(metrics.CLASSIFIER_WEIGHTS), "test_accuracy": round(accuracy, 4)}))
        elif args.directions is not None:
            report = direction_limits(load_scorable(args.model), args.directions, args.n, data_dir=args.data_dir)
            print(json.dumps(report, indent=2))
            print_direction_table(report)
            if args.write:
                path = saved_model.update_metadata(args.model, {"directions": directions_metadata(report)})
                print(f"Wrote the direction limits to {path}", file=sys.stderr)
        elif args.memorisation:
            report = memorisation_report(args.model, args.n, args.data_dir)
            print(json.dumps(report, indent=2))
            verdict = "copies its training set" if report["model_vs_held_out"]["copying"] else "does not copy"
            print(f"C_T {report['model_vs_held_out']['c_t']} (floor {report['floor']['c_t']}, copying below "
                  f"{report['threshold']}): the model {verdict}", file=sys.stderr)  # fmt: skip
            if args.write:
                path = saved_model.update_metadata(args.model, {"memorisation": report})
                print(f"Wrote the data-copying test to {path}", file=sys.stderr)
        else:
            report = evaluate(args.model, args.n, args.data_dir)
            print(json.dumps(report, indent=2))
            if args.write:
                path = saved_model.update_metadata(args.model, {"quality": quality_metadata(report)})
                print(f"Wrote the scores to {path}", file=sys.stderr)
    except (GanCoreError, FileNotFoundError, ValueError) as error:  # no classifier weights; too few images, directions
        print(f"gan_core.evaluate: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

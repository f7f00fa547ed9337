"""Score a generator against Fashion-MNIST, and train the classifier the scores are computed with.

    python -m gan_core.evaluate MODEL_OR_RUN [--n 10000]     # a folder, a run, or hf://owner/name[@revision]
    python -m gan_core.evaluate MODEL_FOLDER --write          # also store the scores in its gan.json
    python -m gan_core.evaluate --train-classifier            # writes gan_core/assets/…classifier.weights.h5

Prints JSON: FD, KID ×1000, precision, recall, class entropy (and class match for a
conditional model) of n generated images against n test images, and the same numbers for
n training images against the test images — the real-vs-real floor no generator can beat.
With --write the scores also go into the model's gan.json as `quality`, which the model
card on the Hub and the app's About tab show.
"""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from gan_core import hub, metrics, saved_model
from gan_core.data import DataError, load_idx_dataset
from gan_core.samples import images_for_first_seeds
from gan_core.saved_model import ModelFolderError

DATASET = "fashion-mnist"


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
    scale = lambda images: images.astype("float32") / 127.5 - 1.0  # noqa: E731
    model.fit(scale(train.images), train.labels, batch_size=128, epochs=epochs, verbose=2)
    _, accuracy = model.evaluate(scale(test.images), test.labels, batch_size=500, verbose=0)
    weights.parent.mkdir(parents=True, exist_ok=True)
    classifier.save_weights(weights)
    return accuracy


def evaluate(source, n: int = 10_000, data_dir=None) -> dict:
    generator = hub.load(source)
    if generator.image_shape != (28, 28, 1):
        raise ModelFolderError(f"The metrics need 28×28 grey images; {source} makes {generator.image_shape}.")
    train, test = fashion_mnist(data_dir)
    count = min(n, len(test.images))
    classifier = metrics.load_classifier()
    real = metrics.embed(classifier, test.images[:count])
    images, labels = images_for_first_seeds(generator, n)
    return {
        "model": str(source),
        "dataset": DATASET,
        "n": n,
        "real_images": count,
        "scores": metrics.compare(real, metrics.embed(classifier, images), labels),
        "real_vs_real": metrics.compare(real, metrics.embed(classifier, train.images[:count])),
    }


def quality_metadata(report: dict) -> dict:
    """The flat `quality` entry of gan.json for an `evaluate` report."""
    return {
        **{name: round(value, 4) for name, value in report["scores"].items()},
        "n": report["n"],
        "real_vs_real_fd": round(report["real_vs_real"]["fd"], 4),
        "feature_space": "gan_core Fashion-MNIST classifier (not Inception)",
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_core.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("model", nargs="?", help="saved-model or run folder, or hf://owner/name[@revision]")
    parser.add_argument("--n", type=int, default=10_000, help="generated images to score (default: 10000)")
    parser.add_argument("--write", action="store_true", help="store the scores in the model folder's gan.json")
    parser.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--train-classifier", action="store_true", help="train and save the metric classifier")
    parser.add_argument("--epochs", type=int, default=10, help="classifier training epochs (default: 10)")
    args = parser.parse_args(argv)
    if args.train_classifier == (args.model is not None):
        parser.error("give a MODEL to score, or --train-classifier, not both")
    if args.n < 2:
        parser.error(f"--n must be at least 2, got {args.n}")
    if args.write and (args.model is None or args.model.startswith(hub.HF_PREFIX)):
        parser.error("--write needs a local model folder (a Hub model is changed by pushing a new version)")
    try:
        if args.train_classifier:
            accuracy = train_classifier(args.data_dir, args.epochs)
            print(json.dumps({"classifier": str(metrics.CLASSIFIER_WEIGHTS), "test_accuracy": round(accuracy, 4)}))
        else:
            report = evaluate(args.model, args.n, args.data_dir)
            print(json.dumps(report, indent=2))
            if args.write:
                path = saved_model.update_metadata(args.model, {"quality": quality_metadata(report)})
                print(f"Wrote the scores to {path}", file=sys.stderr)
    except (DataError, ModelFolderError, hub.HubError, FileNotFoundError) as error:
        print(f"gan_core.evaluate: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

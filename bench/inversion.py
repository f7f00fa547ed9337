"""Inversion: seconds per image, how well the model's own samples come back, and test images' classes.

    python bench/inversion.py [--model pretrained] [--own 20] [--test 500]
    python bench/inversion.py --sweep        # steps × starts × learning rate on 40 test images: the settings

For the settings of `gan_core.inversion` (or each sweep setting): the seconds one inversion
takes after the first (which traces the step), the mean and worst pixel error (0 … 255) of
inverting the model's own samples (seeds 1000 …, every class), and for test images the mean
pixel error and the share of reconstructions the shipped classifier puts in the image's class.
"""

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

import gan_core
from gan_core import inversion, metrics
from gan_core.evaluate import fashion_mnist


def measure(inverter, own: np.ndarray, test_images: np.ndarray, test_labels: np.ndarray, classifier) -> dict:
    inverter(own[0])  # trace
    start = time.perf_counter()
    own_errors = [inverter(image).error for image in own]
    seconds = (time.perf_counter() - start) / len(own)
    print(f"  own samples: {seconds:.2f} s each, error mean {np.mean(own_errors):.2f}, max {np.max(own_errors):.2f}",
          flush=True)  # fmt: skip
    found = [inverter(image) for image in test_images]
    _, probabilities = metrics.embed(classifier, np.stack([result.image for result in found]))
    return {
        "seconds": seconds,
        "own_mean": float(np.mean(own_errors)),
        "own_max": float(np.max(own_errors)),
        "test_error": float(np.mean([result.error for result in found])),
        "test_class": float(np.mean(probabilities.argmax(axis=1) == test_labels)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pretrained")
    parser.add_argument("--own", type=int, default=20, help="own samples to invert")
    parser.add_argument("--test", type=int, default=500, help="test images to invert")
    parser.add_argument("--sweep", action="store_true", help="try other steps, starts and learning rates")
    args = parser.parse_args()

    generator = gan_core.load(args.model)
    seeds = list(range(1000, 1000 + args.own))
    own = generator.generate(seeds, labels=[seed % (generator.num_classes or 1) for seed in seeds])
    _, test = fashion_mnist()
    count = 40 if args.sweep else args.test
    classifier = metrics.load_classifier()
    settings = [(inversion.STEPS, inversion.RESTARTS, inversion.LEARNING_RATE)]
    if args.sweep:
        settings = list(itertools.product((50, 100, 150, 250), (2, 8), (0.02, 0.05, 0.1)))
    print(f"{args.model}: {args.own} own samples, {count} test images, {os.cpu_count()} CPUs")
    print(f"{'steps':>5} {'starts':>6} {'lr':>5} {'s/image':>8} {'own mean':>9} {'own max':>8} "
          f"{'test err':>9} {'test class':>10}")  # fmt: skip
    for steps, restarts, learning_rate in settings:
        inverter = inversion.Inverter(generator, restarts=restarts, steps=steps, learning_rate=learning_rate)
        row = measure(inverter, own, test.images[:count], test.labels[:count], classifier)
        print(f"{steps:>5} {restarts:>6} {learning_rate:>5} {row['seconds']:>8.2f} {row['own_mean']:>9.2f} "
              f"{row['own_max']:>8.2f} {row['test_error']:>9.2f} {row['test_class']:>10.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

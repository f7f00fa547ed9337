"""Nearest training images: how long the index takes to build and a query to answer, and the data-copying test.

    python bench/neighbours.py [--model pretrained] [--queries 200]

Builds the index of the 60,000 Fashion-MNIST training images in a fresh temporary cache
(what the first use on a machine costs), reads it back (every later use), times single-image
queries (the explorer's "Copied?" tool: embed one picture, find its 8 nearest) and prints
the data-copying statistic C_T of the model's samples beside its floor (`gan_core.memorisation`).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from gan_core import evaluate, memorisation, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pretrained")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--n", type=int, default=5000, help="samples for the data-copying test")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        os.environ[memorisation.CACHE_ENV] = cache
        start = time.perf_counter()
        memorisation.TrainingIndex.load()
        built = time.perf_counter() - start
        start = time.perf_counter()
        index = memorisation.TrainingIndex.load()
        read = time.perf_counter() - start
    features_of = metrics.feature_extractor(metrics.load_classifier())
    _, test = evaluate.fashion_mnist()
    features_of(test.images[:1])  # trace
    times = []
    for image in test.images[: args.queries]:
        start = time.perf_counter()
        index.nearest(features_of(image[None]), 8)
        times.append(time.perf_counter() - start)
    print(f"index of {len(index.features):,} training images: built in {built:.1f} s, read back in {read:.2f} s")
    print(f"one query (embed + 8 nearest), {args.queries} queries: p50 {1000 * np.median(times):.1f} ms, "
          f"p95 {1000 * np.percentile(times, 95):.1f} ms")  # fmt: skip
    report = evaluate.memorisation_report(args.model, args.n)
    model, floor = report["model_vs_held_out"], report["floor"]
    print(f"C_T of {report['n']:,} samples: {model['c_t']} (floor {floor['c_t']}; copying below "
          f"{report['threshold']}); median distance to the nearest training image {model['median_distance']} "
          f"(held-out real images {model['test_median_distance']})")  # fmt: skip


if __name__ == "__main__":
    main()

"""Does latent arithmetic give garments? The app's A − B + C, scored like samples.

    python bench/latent_arithmetic.py [--model pretrained] [--n 10000] [--seed 0]

Each operand is one random seed's latent, or the mean of 3 seeds' (`latent.mean_latent`);
the app puts the result back on the typical shell (norm √d, `latent.to_shell`). Every
configuration below draws --n results, each with the label of operand A's first seed for a
conditional model, and scores them with `gan_core.metrics` against --n test images, as
`python -m gan_core.evaluate` does; plain samples (seeds 0 … n−1) and the real-vs-real
floor are the reference rows. Operand seeds come from numpy's Generator with --seed.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras
import numpy as np

from gan_core import evaluate, metrics
from gan_core.latent import MAX_SEED, labels_for_seeds, latents_from_seeds, mean_latent, to_shell
from gan_core.samples import images_for_latents

OPERANDS = 3  # A, B, C


def arithmetic(seeds: np.ndarray, latent_dim: int) -> np.ndarray:
    """A − B + C for each row of `seeds` (n, 3, k): each operand is the mean latent of its k seeds."""
    operands = np.array([[mean_latent(operand, latent_dim) for operand in row] for row in seeds])
    return operands[:, 0] - operands[:, 1] + operands[:, 2]


def configurations(latent_dim: int, num_classes: int | None, n: int, seed: int) -> dict:
    """name → (latents, labels): plain samples, then A − B + C of single seeds and of 3-seed means,
    raw or on the shell; the raw and shell rows share their operands, so only the projection differs."""
    rng = np.random.default_rng(seed)
    plain = np.arange(n)
    single, triple = (rng.integers(0, MAX_SEED, size=(n, OPERANDS, k), endpoint=True) for k in (1, 3))
    single_latents, triple_latents = arithmetic(single, latent_dim), arithmetic(triple, latent_dim)
    single_labels, triple_labels = (labels_for_seeds(seeds[:, 0, 0], num_classes) for seeds in (single, triple))
    return {
        "plain samples (seeds 0 … n−1)": (latents_from_seeds(plain, latent_dim), labels_for_seeds(plain, num_classes)),
        "A − B + C, raw": (single_latents, single_labels),
        "A − B + C, on the shell": (to_shell(single_latents), single_labels),
        "means of 3: A − B + C, on the shell": (to_shell(triple_latents), triple_labels),
        "means of 3: A − B + C, raw": (triple_latents, triple_labels),
    }


def score_configurations(generator, real: tuple, classifier: keras.Model, n: int, seed: int) -> dict:
    """name → the mean latent norm and `metrics.compare`'s scores of each configuration's images."""
    results = {}
    for name, (latents, labels) in configurations(generator.latent_dim, generator.num_classes, n, seed).items():
        fake = metrics.embed(classifier, images_for_latents(generator, latents, labels))
        norm = round(float(np.linalg.norm(latents, axis=1).mean()), 4)
        results[name] = {"norm": norm, **metrics.compare(real, fake, labels)}
    return results


def print_table(results: dict, floor: dict, latent_dim: int) -> None:
    """The scores beside the real-vs-real floor, and the shell radius the norms compare with."""
    width = max(map(len, results)) + 2
    print(f"\n{'configuration':<{width}}{'norm':>7}{'FD':>8}{'KID×1000':>10}{'precision':>10}{'recall':>8}"
          f"{'entropy':>9}{'match':>7}")  # fmt: skip
    for name, r in results.items():
        match = f"{r['class_match']:>7.3f}" if "class_match" in r else f"{'—':>7}"
        print(f"{name:<{width}}{r['norm']:>7.2f}{r['fd']:>8.2f}{r['kid_x1000']:>10.1f}{r['precision']:>10.3f}"
              f"{r['recall']:>8.3f}{r['class_entropy']:>9.3f}{match}")  # fmt: skip
    print(f"{'real vs real (floor)':<{width}}{'':>7}{floor['fd']:>8.2f}{floor['kid_x1000']:>10.1f}"
          f"{floor['precision']:>10.3f}{floor['recall']:>8.3f}{floor['class_entropy']:>9.3f}")  # fmt: skip
    print(f"\nThe typical shell: √d = {np.sqrt(latent_dim):.2f}; √3·√d = {np.sqrt(3 * latent_dim):.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", default="pretrained", help="saved-model folder or hf://owner/name (default: pretrained)"
    )
    parser.add_argument(
        "--n", type=int, default=10_000, help="results per configuration, and test images (default: 10000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="numpy Generator seed that picks the operand seeds")
    parser.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST IDX files")
    args = parser.parse_args()

    start = time.perf_counter()
    generator = evaluate.load_scorable(args.model)
    train, test = evaluate.fashion_mnist(args.data_dir)
    classifier = metrics.load_classifier()
    real = metrics.embed(classifier, test.images[: args.n])
    floor = metrics.compare(real, metrics.embed(classifier, train.images[: args.n]))
    results = score_configurations(generator, real, classifier, args.n, args.seed)
    print(f"{args.model}: {args.n} results per configuration vs {len(real[0])} test images, operand seed {args.seed}")
    print_table(results, floor, generator.latent_dim)
    print(f"{time.perf_counter() - start:.0f} s on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

"""The default recipe on a GPU, with Keras' JAX backend: images/s and FD after a fixed number of steps.

    KERAS_BACKEND=jax python bench/gpu.py --data-dir DATA          # on a GPU machine (about 6 minutes)
    KERAS_BACKEND=jax python bench/gpu.py --smoke                  # a few steps of everything, on any machine
    KERAS_BACKEND=jax python bench/gpu.py --data-dir DATA --curve 8,16,28 --recipe lr=2e-4 lr_final=none

Speed: the default recipe at batch 128 and at --big-batch (one that fills the GPU), each in float32
and in mixed bfloat16 (`keras.mixed_precision`), --steps timed steps after --warmup untimed ones
(compilation). Quality: --fd-steps steps at batch 128 in float32, then FD, precision, recall and
the per-class scores on --n samples against the test set (`gan_core.metrics`). --curve instead trains
one run of the recipe (--recipe changes it) in whole epochs and scores it after each epoch named: on a
GPU a whole default run takes a minute, so the epoch count and the learning rate can be measured there.

It needs no TensorFlow (GPU machines here have JAX only): the data comes from the IDX files through
numpy (`gan_core.data.make_dataset`). bench/README.md says how to carry the wheels and the data there.
"""

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras

from bench.quality import parse_overrides
from bench.train_throughput import images_per_second
from gan_core import backend, metrics
from gan_core.data import load_data, load_idx_dataset, make_dataset
from gan_core.recipe import Recipe, build_gan
from gan_core.samples import images_for_first_seeds

PRECISIONS = ("float32", "mixed_bfloat16")


def speed(data, batch_size: int, precision: str, steps: int, warmup: int) -> float:
    """Images per second of the default recipe at `batch_size` under the dtype policy `precision`."""
    keras.mixed_precision.set_global_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        gan = build_gan(Recipe(batch_size=batch_size), data.image_shape, data.num_classes, seed=0, jit_compile=True)
        return images_per_second(gan, make_dataset(data, batch_size, seed=0), batch_size, steps, warmup)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def score(gan, test, n: int) -> dict:
    """FD, precision, recall and the per-class recalls of `gan`'s first `n` seeds against the test set."""
    gan.refresh_ema_statistics()
    images, labels = images_for_first_seeds(gan, n)
    classifier = metrics.load_classifier()
    real, fake = metrics.embed(classifier, test.images[:n]), metrics.embed(classifier, images)
    per_class = metrics.per_class(real[0], test.labels[:n], fake[0], labels)
    return {**metrics.compare(real, fake, labels), "class_recall_min": per_class["worst"]["recall"],
            "class_recall_mean": per_class["mean"]["recall"]}  # fmt: skip


def quality(data, test, recipe: Recipe, steps: int, n: int) -> dict:
    """`recipe` trained `steps` steps (its learning rate decaying over a whole default run), scored."""
    keras.utils.set_random_seed(0)
    gan = build_gan(recipe, data.image_shape, data.num_classes, seed=0, jit_compile=True,
                    steps_per_epoch=len(data.images) // recipe.batch_size)  # fmt: skip
    start = time.perf_counter()
    gan.fit(make_dataset(data, recipe.batch_size, seed=0), epochs=1, steps_per_epoch=steps, verbose=0)
    return {"steps": steps, "train_seconds": round(time.perf_counter() - start, 1), "n": n, **score(gan, test, n)}


def curve(data, test, recipe: Recipe, epochs: list[int], n: int) -> list[dict]:
    """One run of `recipe` as `python train.py` makes it (whole epochs), scored after each of `epochs`."""
    keras.utils.set_random_seed(0)
    steps_per_epoch = len(data.images) // recipe.batch_size
    gan = build_gan(recipe, data.image_shape, data.num_classes, seed=0, jit_compile=True,
                    steps_per_epoch=steps_per_epoch)  # fmt: skip
    dataset, done, rows = make_dataset(data, recipe.batch_size, seed=0), 0, []
    for epoch in epochs:
        gan.fit(dataset, initial_epoch=done, epochs=epoch, steps_per_epoch=steps_per_epoch, verbose=0)
        done = epoch
        rows.append({"epoch": epoch, "n": n, **score(gan, test, n)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST IDX .gz files")
    parser.add_argument("--batch", type=int, default=128, help="the default recipe's batch")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per speed measurement")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first (compilation)")
    parser.add_argument("--big-batch", type=int, default=2048, help="the batch that fills the GPU")
    parser.add_argument("--fd-steps", type=int, default=4680, help="training steps before FD (10 epochs)")
    parser.add_argument("--n", type=int, default=10_000, help="samples for FD")
    parser.add_argument("--recipe", nargs="*", default=[], metavar="FIELD=VALUE", help="change the default recipe")
    parser.add_argument("--curve", metavar="EPOCHS", help="instead: score one run after these epochs (10,20,28)")
    parser.add_argument("--out", type=Path, help="also write the results here as JSON")
    parser.add_argument("--smoke", action="store_true", help="tiny steps and batches: check the script anywhere")
    args = parser.parse_args()
    if args.smoke:
        args.batch, args.big_batch, args.steps, args.warmup, args.fd_steps, args.n = 16, 32, 2, 1, 3, 200

    data = load_data("fashion-mnist", args.data_dir, allow_download=False)
    test = load_idx_dataset("fashion-mnist", args.data_dir, "test", allow_download=False)
    print(f"keras {keras.__version__} on {keras.backend.backend()}, devices {backend.devices()}", flush=True)
    recipe = Recipe(**{**parse_overrides(args.recipe), "batch_size": args.batch})
    results = {"backend": keras.backend.backend(), "devices": backend.devices(), "recipe": dataclasses.asdict(recipe)}
    if args.curve:
        results["curve"] = curve(data, test, recipe, sorted(int(epoch) for epoch in args.curve.split(",")), args.n)
        return write(results, args.out)
    results["speed"] = []
    print(f"{'batch':>6} {'precision':<15} {'images/s':>10}")
    for batch_size in (args.batch, args.big_batch):
        for precision in PRECISIONS:
            images_per_s = speed(data, batch_size, precision, args.steps, args.warmup)
            results["speed"].append({"batch": batch_size, "precision": precision, "images_per_s": images_per_s})
            print(f"{batch_size:>6} {precision:<15} {images_per_s:>10.0f}", flush=True)
    results["quality"] = quality(data, test, recipe, args.fd_steps, args.n)
    print(f"after {args.fd_steps} steps at batch {args.batch}: {json.dumps(results['quality'])}")
    write(results, args.out)


def write(results: dict, path: Path | None):
    if path:
        path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

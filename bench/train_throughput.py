"""Training throughput (images/s) of the default recipe and the keras.io DCGAN.

    python bench/train_throughput.py [--steps 200] [--warmup 20]
    KERAS_BACKEND=jax python bench/train_throughput.py       # the same on JAX
    python bench/train_throughput.py --variants "spectral_norm=true" "conditional_norm=true spectral_norm=true"

Both train through `model.fit` on the same Fashion-MNIST pipeline
(`gan_core.data`), each at its own batch size. The first `--warmup` steps
(graph tracing) are not timed. Also printed: the default recipe with XLA
(`jit_compile=True`, which "auto" turns off on CPU), and how fast the input
pipeline alone delivers images, to show that it never starves the step.

--variants times only the default recipe and each variant of it (space-separated
FIELD=VALUE changes, as in `bench/quality.py --recipe`): the speeds that turn
`bench/quality.py`'s 600-s budget into a step count (`--steps`).
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras

from bench.baselines import KERAS_IO_DCGAN, KerasIoDCGAN
from bench.quality import parse_overrides
from gan_core.data import load_data, make_dataset
from gan_core.recipe import Recipe, build_gan


class StepClock(keras.callbacks.Callback):
    """Time from the end of the first step to the end of the last: excludes tracing and filling the shuffle buffer."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.start = time.perf_counter()
        self.end = time.perf_counter()


def images_per_second(model, dataset, batch_size, steps, warmup):
    model.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0, shuffle=False)
    clock = StepClock()
    model.fit(dataset, epochs=1, steps_per_epoch=steps + 1, verbose=0, shuffle=False, callbacks=[clock])
    return steps * batch_size / (clock.end - clock.start)


def pipeline_images_per_second(dataset, batch_size, steps):
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return steps * batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per configuration")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first (tracing, caches)")
    parser.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--variants", nargs="*", metavar="CHANGES", help="time only these variants of the recipe")
    args = parser.parse_args()

    data = load_data("fashion-mnist", args.data_dir)
    recipe = Recipe()

    def default_recipe(jit_compile, changes=""):
        keras.utils.set_random_seed(0)
        variant = Recipe(**parse_overrides(changes.split()))
        return build_gan(variant, data.image_shape, data.num_classes, seed=0, jit_compile=jit_compile)

    def keras_io_dcgan():
        keras.utils.set_random_seed(0)
        gan = KerasIoDCGAN(KERAS_IO_DCGAN["latent_dim"], seed=0)
        gan.compile()
        return gan

    if args.variants is not None:
        configurations = [
            (changes or "default recipe", default_recipe("auto", changes), recipe.batch_size)
            for changes in ["", *args.variants]
        ]
    else:
        configurations = [
            ("default recipe", default_recipe("auto"), recipe.batch_size),
            ("default recipe, XLA", default_recipe(True), recipe.batch_size),
            ("keras.io DCGAN", keras_io_dcgan(), KERAS_IO_DCGAN["batch_size"]),
        ]
    print(f"{len(data.images)} Fashion-MNIST images from {data.source}; keras {keras.__version__}, "
          f"{os.cpu_count()} CPUs; {args.steps} timed steps each")  # fmt: skip
    backend = keras.backend.backend()
    print(f"{'configuration':<22} {'backend':<10} {'batch':>5} {'images/s':>9} {'ms/step':>8}")
    for name, model, batch_size in configurations:
        dataset = make_dataset(data, batch_size, seed=0)
        speed = images_per_second(model, dataset, batch_size, args.steps, args.warmup)
        print(f"{name:<22} {backend:<10} {batch_size:>5} {speed:>9.0f} {1000 * batch_size / speed:>8.1f}", flush=True)
    if args.variants is not None:
        return
    pipeline = pipeline_images_per_second(make_dataset(data, recipe.batch_size, seed=0), recipe.batch_size, 500)
    print(f"{'input pipeline alone':<22} {'':<10} {recipe.batch_size:>5} {pipeline:>9.0f}")


if __name__ == "__main__":
    main()

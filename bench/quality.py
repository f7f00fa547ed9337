"""Sample quality at an equal wall-clock budget: the default recipe against the keras.io GANs.

    python bench/quality.py [--budget 600] [--n 10000] [--eval-every 60] [--only default,dcgan,wgan-gp]
    python bench/quality.py --only default --recipe conditional=false ema=0   # try a recipe change
    python bench/quality.py --only default,dcgan --seeds 0,1,2 --log runs/quality.jsonl
    python bench/quality.py --only default --images 2000 --recipe augment=color,translation,cutout

Each configuration trains through `model.fit` on the same Fashion-MNIST pipeline, at its
published batch size and hyperparameters, for --budget seconds of training (the time spent
measuring is not counted). Every --eval-every seconds it is scored with FD on 2,000 samples
(`metrics.FD_SAMPLES`), which draws its learning curve. At the end each is scored with
`gan_core.metrics` on --n samples against the test set. Printed: one table with the
real-vs-real floor, and the training time each configuration needed to reach the keras.io
DCGAN's final FD.

With several --seeds each configuration is trained once per seed (weights, data order and
latents) and compared by its median. With --log, every finished run is appended to a JSON
lines file and the table covers all runs in it with the same budget and sample count, so
runs from several invocations add up.

--images N trains on the first N training images only: the small-data setting that
differentiable augmentation (`augment=...`) is for.
"""

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
import typing
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras

from bench.baselines import KERAS_IO_DCGAN, KERAS_IO_WGAN_GP, KerasIoDCGAN, KerasIoWGANGP
from gan_core import metrics
from gan_core.data import load_data, load_idx_dataset, make_dataset
from gan_core.latent import labels_for_seeds, latents_from_seeds
from gan_core.recipe import Recipe, build_gan
from gan_core.samples import images_for_first_seeds, to_uint8


class TrainingBudget(keras.callbacks.Callback):
    """Stop after `seconds` of training (or after `max_steps` steps); record (seconds, steps, FD)
    every `eval_every` seconds (every tenth of `max_steps`).

    Time spent in `measure` is excluded from the budget, and a last point is taken at the end.
    """

    def __init__(self, seconds: float, eval_every: float, measure, max_steps: int | None = None):
        super().__init__()
        self.seconds, self.eval_every, self.measure, self.max_steps = seconds, eval_every, measure, max_steps
        self.train_seconds, self.steps, self.curve = 0.0, 0, []

    def _progress(self) -> float:
        return self.steps / self.max_steps * self.seconds if self.max_steps else self.train_seconds

    def on_train_begin(self, logs=None):
        self._next_eval = self.eval_every
        self._last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.train_seconds += time.perf_counter() - self._last
        self.steps += 1
        done = self._progress() >= self.seconds
        if done or self._progress() >= self._next_eval:
            self.curve.append((round(self.train_seconds), self.steps, self.measure(self.model, metrics.FD_SAMPLES)))
            self._next_eval += self.eval_every
        if done:
            self.model.stop_training = True
        self._last = time.perf_counter()


def parse_overrides(pairs: list[str]) -> dict:
    """["ema=0.999", "conditional=true"] → {"ema": 0.999, "conditional": True}, typed like `Recipe`'s fields."""
    fields = {field.name: field for field in dataclasses.fields(Recipe)}
    overrides = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name not in fields:
            raise SystemExit(f"--recipe: unknown field {name!r}; fields: {', '.join(fields)}")
        kind = next(t for t in (*typing.get_args(fields[name].type), fields[name].type) if t is not type(None))
        if text.lower() in ("none", "null"):
            overrides[name] = None
        elif kind is bool:
            overrides[name] = text.lower() in ("1", "true", "yes")
        else:
            overrides[name] = kind(text)
    return overrides


def configurations(recipe: Recipe, seed: int, xla: bool = False, train_images: int = 60_000):
    """name → (build the compiled model, batch size, sample n uint8 images from it).

    The default recipe's model is the start of `python train.py`'s run on `train_images`
    images: a decaying learning rate decays over all the recipe's epochs.
    """

    def sample_gan(model, n):
        model.refresh_ema_statistics()
        return images_for_first_seeds(model, n)[0]

    def predict(model, n):
        return model.generator.predict(latents_from_seeds(range(n), model.latent_dim), batch_size=500, verbose=0)

    return {
        "default": (
            lambda: build_gan(
                recipe,
                (28, 28, 1),
                num_classes=10,
                seed=seed,
                jit_compile=xla or "auto",
                steps_per_epoch=train_images // recipe.batch_size,
            ),
            recipe.batch_size,
            sample_gan,
        ),
        "dcgan": (
            lambda: _compiled(KerasIoDCGAN(KERAS_IO_DCGAN["latent_dim"], seed=seed)),
            KERAS_IO_DCGAN["batch_size"],
            lambda model, n: to_uint8(2.0 * predict(model, n) - 1.0),  # its sigmoid output is in [0, 1]
        ),
        "wgan-gp": (
            lambda: _compiled(KerasIoWGANGP(KERAS_IO_WGAN_GP["latent_dim"], seed=seed)),
            KERAS_IO_WGAN_GP["batch_size"],
            lambda model, n: to_uint8(predict(model, n)),
        ),
    }


def _compiled(model):
    model.compile()
    return model


NAMES = {"default": "default recipe", "dcgan": "keras.io DCGAN", "wgan-gp": "keras.io WGAN-GP"}


def train_and_score(name, seed, recipe, args, data, real, real_labels, classifier) -> dict:
    """One configuration trained for the budget with one seed, scored on --n samples."""
    build, batch_size, sample = configurations(recipe, seed, args.xla, len(data.images))[name]
    keras.utils.set_random_seed(seed)
    model = build()

    def measure(model, n):
        return metrics.frechet_distance(real[0], metrics.embed(classifier, sample(model, n))[0])

    budget = TrainingBudget(args.budget, args.eval_every, measure, args.steps)
    steps = len(data.images) // batch_size
    model.fit(make_dataset(data, batch_size, seed=seed), epochs=10**6, steps_per_epoch=steps, verbose=0,
              shuffle=False, callbacks=[budget])  # fmt: skip
    fake_images = sample(model, args.n)
    labels = labels_for_seeds(range(args.n), getattr(model, "num_classes", None))
    fake = metrics.embed(classifier, fake_images)
    scores = metrics.compare(real, fake, labels)
    if labels is not None:
        scores["per_class"] = metrics.per_class(real[0], real_labels, fake[0], labels)
    return {
        "name": name,
        "variant": " ".join(args.recipe) if name == "default" else "",
        "images": len(data.images),
        "seed": seed,
        "budget": args.budget,
        "n": args.n,
        "recipe": dataclasses.asdict(recipe) if name == "default" else None,
        **scores,
        "steps": budget.steps,
        "train_seconds": budget.train_seconds,
        "images_per_s": budget.steps * batch_size / budget.train_seconds,
        "curve": budget.curve,
    }


def label(run: dict) -> str:
    """The configuration's name, with the recipe changes of a default-recipe variant in brackets."""
    return NAMES[run["name"]] + (f" [{run['variant']}]" if run.get("variant") else "")


def _class_recalls(run: dict) -> str:
    """The lowest and the mean per-class recall, or dashes for an unconditional model."""
    if "per_class" not in run:
        return f"{'—':>10}{'—':>11}"
    return f"{run['per_class']['worst']['recall']:>10.3f}{run['per_class']['mean']['recall']:>11.3f}"


def print_report(runs: list[dict], floor: dict, args) -> None:
    width = max(len(label(r)) for r in runs) + 2
    print(f"\n{args.budget:.0f} s of training each on {os.cpu_count()} CPUs; scores on {args.n} samples vs test images")
    header = f"{'configuration':<{width}}{'seed':>5}{'FD':>8}{'KID×1000':>10}{'precision':>10}{'recall':>8}"
    print(f"{header}{'entropy':>9}{'match':>7}{'cls R min':>10}{'cls R mean':>11}{'steps':>7}{'img/s':>7}")
    for r in runs:
        match = f"{r['class_match']:>7.3f}" if "class_match" in r else f"{'—':>7}"
        print(f"{label(r):<{width}}{r['seed']:>5}{r['fd']:>8.2f}{r['kid_x1000']:>10.1f}{r['precision']:>10.3f}"
              f"{r['recall']:>8.3f}{r['class_entropy']:>9.3f}{match}{_class_recalls(r)}{r['steps']:>7}"
              f"{r['images_per_s']:>7.0f}")  # fmt: skip
    print(f"{'real vs real (floor)':<{width + 5}}{floor['fd']:>8.2f}{floor['kid_x1000']:>10.1f}"
          f"{floor['precision']:>10.3f}{floor['recall']:>8.3f}{floor['class_entropy']:>9.3f}{'':>7}"
          f"{_class_recalls(floor)}")  # fmt: skip

    groups = {}
    for r in runs:
        groups.setdefault(label(r), []).append(r)
    median_fd = {name: statistics.median(r["fd"] for r in group) for name, group in groups.items()}
    print("\nMedian FD over seeds:")
    for name, group in groups.items():
        print(f"  {name:<{width}} {median_fd[name]:8.2f}  (seeds {sorted(r['seed'] for r in group)})")
    dcgan = groups.get(NAMES["dcgan"])
    if dcgan:
        target = statistics.median(r["curve"][-1][2] for r in dcgan)
        print(f"\nTraining time to reach the keras.io DCGAN's median final {metrics.FD_SAMPLES}-sample FD "
              f"({target:.2f}):")  # fmt: skip
        for r in runs:
            reached = next((seconds for seconds, _, fd in r["curve"] if fd <= target), None)
            print(f"  {label(r):<{width}} seed {r['seed']}: {'not reached' if reached is None else f'{reached} s'}")
    print(f"\nCurves (training seconds, FD on {metrics.FD_SAMPLES:,} samples):")
    for r in runs:
        print(f"  {label(r):<{width}} seed {r['seed']}: {[(s, round(fd, 1)) for s, _, fd in r['curve']]}")
    if dcgan:
        for name in (name for name in groups if name.startswith(NAMES["default"])):
            ratio = median_fd[name] / median_fd[NAMES["dcgan"]]
            print(f"\n{name} FD / keras.io DCGAN FD (medians) = {ratio:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=600, help="training seconds per configuration")
    parser.add_argument("--steps", type=int,
                        help="train this many steps instead (the budget's steps at the speed measured alone), "
                        "so that other work on the machine does not shorten the run")  # fmt: skip
    parser.add_argument("--n", type=int, default=10_000, help="samples for the final scores")
    parser.add_argument("--eval-every", type=float, default=60, help="seconds of training between curve points")
    parser.add_argument("--only", default="default,dcgan,wgan-gp", help="comma-separated configurations to run")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; each configuration runs once per seed")
    parser.add_argument("--log", type=Path, help="JSON lines file: append each run, report on all runs in it")
    parser.add_argument("--images", type=int, help="train on the first N training images only (default: all)")
    parser.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--xla", action="store_true", help="compile the step with XLA, as train.py does")
    parser.add_argument("--recipe", nargs="*", default=[], metavar="FIELD=VALUE", help="change the default recipe")
    args = parser.parse_args()
    recipe = Recipe(**parse_overrides(args.recipe))
    if args.recipe:
        print(f"recipe: {recipe}")
    names = args.only.split(",")
    if unknown := set(names) - set(NAMES):
        raise SystemExit(f"--only: unknown configuration(s) {sorted(unknown)}; choose from {', '.join(NAMES)}")
    seeds = [int(seed) for seed in args.seeds.split(",")]

    data = load_data("fashion-mnist", args.data_dir)
    test = load_idx_dataset("fashion-mnist", args.data_dir, "test")
    classifier = metrics.load_classifier()
    real = metrics.embed(classifier, test.images[: args.n])
    train = metrics.embed(classifier, data.images[: args.n])
    floor = metrics.compare(real, train)
    floor["per_class"] = metrics.per_class(real[0], test.labels[: args.n], train[0], data.labels[: args.n])
    if args.images:
        data = dataclasses.replace(data, images=data.images[: args.images], labels=data.labels[: args.images])

    runs = []
    for name in names:
        for seed in seeds:
            run = train_and_score(name, seed, recipe, args, data, real, test.labels[: args.n], classifier)
            print(f"{label(run)}, seed {seed}: {run}", flush=True)
            runs.append(run)
            if args.log:
                with args.log.open("a") as log:
                    log.write(json.dumps(run) + "\n")
    if args.log:
        logged = [json.loads(line) for line in args.log.read_text().splitlines() if line.strip()]
        same = ("budget", "n", "images")
        runs = [r for r in logged if all(r.get(key) == runs[-1][key] for key in same)]
    print_report(runs, floor, args)


if __name__ == "__main__":
    main()

"""Train a GAN on Fashion-MNIST (default), MNIST or a folder of images.

    python train.py                                  # default recipe, ~20 min on 2 CPU cores
    python train.py --epochs 5 --out runs/quick      # a shorter run
    python train.py --dataset folder --data-dir ~/faces --image-size 64

The run folder (--out) is laid out as gan_core/run.py describes. Interrupted
runs resume when started again with the same --out.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from gan_core import hub, metrics, run, saved_model
from gan_core.augment import POLICIES, parse_policy
from gan_core.callbacks import EpochTimer, FrechetDistance, SampleGrid
from gan_core.data import DATASETS, DataError, load_data, load_idx_dataset, make_dataset
from gan_core.latent import MAX_SEED
from gan_core.losses import LOSSES
from gan_core.networks import IMAGE_SIZES
from gan_core.recipe import Recipe, build_gan

DEFAULT_FD_EVERY = 5
# Flags that define a run: resuming with a different value would train a different model.
RUN_FLAGS = (
    "dataset",
    "data_dir",
    "image_size",
    "channels",
    "seed",
    "steps_per_epoch",
    *(field.name for field in dataclasses.fields(Recipe) if field.name != "epochs"),
)


class UsageError(Exception):
    """A flag value or run folder that stops the run before any work."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _bounded(kind, name, low, high=None):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not (value >= low and (high is None or value <= high)):
            bound = f"at least {low}" if high is None else f"in {low} … {high}"
            raise argparse.ArgumentTypeError(f"{name} must be {bound}, got {text}")
        return value

    return parse


def _augment_policy(text):
    try:
        parse_policy(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _ema_decay(text):
    value = _bounded(float, "--ema", 0.0, 0.99999)(text)
    if 0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"--ema must be 0 (off) or in 0.5 … 0.99999, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    default = Recipe()
    parser = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        choices=DATASETS,
        help="data set to train on (default: fashion-mnist); 'folder' reads the images under --data-dir",
    )
    data.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the data set's IDX .gz files, or the "
        "image folder for --dataset folder (default: search $GAN_DATA_DIR, "
        "~/.keras/datasets, /usr/share/datasets, then download)",
    )
    data.add_argument(
        "--image-size", type=int, choices=IMAGE_SIZES, help="square image size (IDX data sets: 28; folder default: 64)"
    )
    data.add_argument("--channels", type=int, choices=(1, 3), help="1 = grey, 3 = RGB (folder default: 3)")
    data.add_argument("--no-download", action="store_true", help="never download the data set")

    recipe = parser.add_argument_group("recipe")
    recipe.add_argument(
        "--epochs",
        type=_bounded(int, "--epochs", 1),
        help=f"total epochs, counting any already trained (default: {default.epochs})",
    )
    recipe.add_argument(
        "--batch-size",
        type=_bounded(int, "--batch-size", 1),
        help=f"images per training step (default: {default.batch_size})",
    )
    recipe.add_argument(
        "--latent-dim",
        type=_bounded(int, "--latent-dim", 1, saved_model.MAX_LATENT_DIM),
        help=f"length of the latent vector z (default: {default.latent_dim})",
    )
    recipe.add_argument(
        "--width",
        type=_bounded(int, "--width", 1),
        help=f"channel multiplier of both networks (default: {default.width})",
    )
    recipe.add_argument(
        "--lr",
        type=_bounded(float, "--lr", 1e-8, 1.0),
        help=f"Adam learning rate of both networks (default: {default.lr})",
    )
    recipe.add_argument(
        "--beta-1", type=_bounded(float, "--beta-1", 0.0, 0.999), help=f"Adam β1 (default: {default.beta_1})"
    )
    recipe.add_argument("--loss", choices=LOSSES, help=f"GAN loss (default: {default.loss})")
    recipe.add_argument(
        "--r1-gamma",
        type=_bounded(float, "--r1-gamma", 1e-6, 1e4),
        help="weight γ of an R1 gradient penalty on real images, applied lazily every 16 D steps (default: none)",
    )
    recipe.add_argument(
        "--ema",
        type=_ema_decay,
        help="decay of an exponential moving average of the generator's weights, used for sampling and "
        f"saving; 0 turns it off (default: {default.ema})",
    )
    recipe.add_argument(
        "--augment",
        type=_augment_policy,
        metavar="POLICY",
        help="differentiable augmentation of every image D sees, for small data sets: "
        f"comma-separated groups from {','.join(POLICIES)} (default: none)",
    )
    recipe.add_argument(
        "--conditional",
        action=argparse.BooleanOptionalAction,
        help="condition both networks on the class label (default: yes when the data set has labels, "
        "i.e. IDX data sets and image folders with one sub-folder per class)",
    )

    run = parser.add_argument_group("run")
    run.add_argument(
        "--seed",
        type=_bounded(int, "--seed", 0, MAX_SEED),
        help="seed for weights, data order and latents: the same seed repeats a run (default: 0)",
    )
    run.add_argument(
        "--steps-per-epoch",
        type=_bounded(int, "--steps-per-epoch", 1),
        help="training steps per epoch, for short runs (default: one pass over the data)",
    )
    run.add_argument(
        "--fd-every",
        type=_bounded(int, "--fd-every", 0),
        help=f"compute FD every N epochs, log it to history.csv and keep the best model in best/ "
        f"(default: {DEFAULT_FD_EVERY} on fashion-mnist; 0 turns it off)",
    )
    run.add_argument(
        "--fd-samples",
        type=_bounded(int, "--fd-samples", 2),
        default=2000,
        help="generated images per FD (default: 2000)",
    )
    run.add_argument("--tensorboard", action="store_true", help="also log to <out>/tensorboard for TensorBoard")
    run.add_argument("--out", type=Path, help="run folder (default: runs/<dataset>-<date>-<time>)")
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out: an interrupted one, or a finished one up to a larger --epochs",
    )

    publish = parser.add_argument_group("hugging face hub (token from HF_TOKEN or `hf auth login`)")
    publish.add_argument("--push-to-hub", metavar="REPO_ID", help="after training, publish the model to owner/name")
    publish.add_argument("--hub-private", action="store_true", help="create the Hub repository as private")
    publish.add_argument("--hub-revision", metavar="BRANCH", help="branch to push to (default: main)")
    return parser


def resolve_flags(args, saved: dict | None) -> dict:
    """Effective flags: given ones, else the run's saved ones, else defaults."""
    defaults = {**dataclasses.asdict(Recipe()), "dataset": "fashion-mnist", "seed": 0}
    flags = {}
    for name in (*RUN_FLAGS, "epochs"):
        given = getattr(args, name)
        given = str(given) if isinstance(given, Path) else given
        if saved is not None and given is not None and name != "epochs" and given != saved.get(name):
            raise UsageError(
                f"{args.out} was started with --{name.replace('_', '-')} {saved.get(name)}, not {given}; "
                "repeat the original flags (or leave them out), or choose another --out."
            )
        flags[name] = given if given is not None else (saved or defaults).get(name, defaults.get(name))
    if flags["dataset"] == "folder" and flags["data_dir"] is None:
        raise UsageError("--dataset folder needs --data-dir pointing at a folder of images.")
    if flags["data_dir"] is not None and not Path(flags["data_dir"]).is_dir():
        raise UsageError(f"--data-dir {flags['data_dir']} is not a folder.")
    if flags["dataset"] != "folder" and (flags["image_size"] not in (None, 28) or flags["channels"] not in (None, 1)):
        raise UsageError(f"{flags['dataset']} images are 28×28 grey: leave out --image-size and --channels.")
    return flags


def plan(args) -> tuple[dict, str]:
    """Decide what to do with --out: a "new" run, "resume" an interrupted one, or "extend" a finished one."""
    out = args.out
    run_json = out / run.RUN_JSON
    if not run_json.exists():
        if out.exists() and any(path.name != run.LOCK_FILE for path in out.iterdir()):
            raise UsageError(f"--out {out} is not empty and is not a train.py run folder; choose another --out.")
        if args.resume:
            raise UsageError(f"--resume: {out} holds no run to resume.")
        return resolve_flags(args, None), "new"
    try:
        saved = json.loads(run_json.read_text())
    except json.JSONDecodeError as error:
        raise UsageError(f"{run_json} is corrupt ({error}); choose another --out.") from None
    flags = resolve_flags(args, saved)
    for folder in (out, out / saved_model.RUN_MODEL_DIR):
        for repair in saved_model.recover_interrupted_saves(folder) if folder.is_dir() else ():
            print(repair)
    if run.retire_stale_backup(out):
        print(f"Removed the backup in {out}: the finished model was saved after it.")
    done = run.finished_epochs(out)
    if done is None or run.backup_epoch(out):
        return flags, "resume"
    if not args.resume:
        raise UsageError(
            f"{out} already holds a finished model ({done} epochs). Choose another --out, "
            f"or add --resume --epochs N (N > {done}) to train it further."
        )
    if flags["epochs"] <= done:
        raise UsageError(f"--resume: {out} already has {done} epochs; pass --epochs larger than {done}.")
    return flags, "extend"


def quality_callbacks(args, flags: dict, out: Path, model_metadata) -> list[keras.callbacks.Callback]:
    """FD every --fd-every epochs (keeping the best model in best/), and TensorBoard with --tensorboard."""
    callbacks = []
    if args.fd_every:
        classifier = metrics.load_classifier()
        try:
            test = load_idx_dataset(flags["dataset"], flags["data_dir"], "test", allow_download=not args.no_download)
        except DataError as error:
            raise DataError(
                f"{error}\nFD during training needs the test split; --fd-every 0 trains without it."
            ) from None
        real_features, _ = metrics.embed(classifier, test.images)
        best_dir = out / run.BEST_DIR
        kept = saved_model.read_metadata(best_dir) if (best_dir / saved_model.GAN_JSON).exists() else {}
        best = kept.get("quality", {}).get("fd", float("inf"))

        def save_best(gan, epoch, fd):
            quality = {"fd": round(fd, 4), "n": args.fd_samples}
            saved_model.save(gan, best_dir, {**model_metadata(epoch + 1), "quality": quality})

        callbacks.append(FrechetDistance(classifier, real_features, args.fd_every, args.fd_samples, best, save_best))
    if args.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(out / "tensorboard"))
    return callbacks


def train(flags: dict, mode: str, args, held: contextlib.ExitStack) -> Path:
    out = args.out
    data = load_data(
        flags["dataset"], flags["data_dir"], flags["image_size"], flags["channels"], allow_download=not args.no_download
    )
    print(f"Data: {len(data.images)} images of {data.image_shape} from {data.source}")
    if flags["conditional"] and not data.num_classes:
        if args.conditional:
            raise UsageError(
                f"--conditional needs labelled data, and {data.source} has no classes: "
                "put each class's images in a sub-folder of its own, or leave out --conditional."
            )
        print("The data has no labels: training an unconditional model.")
        flags["conditional"] = False
    recipe = Recipe(**{field.name: flags[field.name] for field in dataclasses.fields(Recipe)})
    steps_per_epoch = flags["steps_per_epoch"] or len(data.images) // recipe.batch_size
    dataset = make_dataset(data, recipe.batch_size, seed=flags["seed"])

    keras.utils.set_random_seed(flags["seed"])
    if mode == "extend":
        gan = saved_model.load_gan(out)
        initial_epoch = run.finished_epochs(out)
        print(f"Training the finished model in {out} further: epochs {initial_epoch + 1} … {recipe.epochs}")
    else:
        gan = build_gan(recipe, data.image_shape, data.num_classes, seed=flags["seed"])
        initial_epoch = run.backup_epoch(out) if mode == "resume" else 0
        if mode == "resume":
            print(f"Resuming the interrupted run in {out} after epoch {initial_epoch} of {recipe.epochs}")
        run.drop_history_after(out, initial_epoch)

    def model_metadata(epochs: int) -> dict:
        return {
            "dataset": data.name,
            "class_names": list(data.class_names) if data.class_names else None,
            "epochs": epochs,
            "seed": flags["seed"],
            "recipe": dataclasses.asdict(recipe),
            "versions": {"keras": keras.__version__, "backend": keras.backend.backend()},
        }

    measuring = quality_callbacks(args, flags, out, model_metadata)  # may fail: before the run folder is written
    out.mkdir(parents=True, exist_ok=True)
    if mode == "new":
        held.enter_context(run.lock(out))
    (out / run.RUN_JSON).write_text(json.dumps(flags, indent=2) + "\n")
    print(f"Run folder: {out}  (after an interruption, resume with: python train.py --out {out})")
    gan.fit(
        dataset,
        epochs=recipe.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,
        callbacks=[
            EpochTimer(recipe.batch_size),
            SampleGrid(out / run.SAMPLES_DIR),
            *measuring,
            keras.callbacks.CSVLogger(out / run.HISTORY_CSV, append=True),
            # Last, so a crash after it leaves at most a history row that resuming drops.
            keras.callbacks.BackupAndRestore(out / run.BACKUP_DIR, double_checkpoint=True, delete_checkpoint=False),
        ],
    )
    summary = run.training_summary(out, steps_per_epoch, recipe.batch_size)
    return run.finish(gan, out, {**model_metadata(recipe.epochs), "training": summary})


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.out is None:
        args.out = Path("runs") / f"{args.dataset or 'fashion-mnist'}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        if (args.hub_private or args.hub_revision) and not args.push_to_hub:
            raise UsageError("--hub-private and --hub-revision need --push-to-hub REPO_ID.")
        if args.push_to_hub:
            hub.check_can_push(args.push_to_hub)
        with contextlib.ExitStack() as held:
            if (args.out / run.RUN_JSON).exists():
                held.enter_context(run.lock(args.out))
            flags, mode = plan(args)
            if args.fd_every is None:
                args.fd_every = DEFAULT_FD_EVERY if flags["dataset"] == "fashion-mnist" else 0
            elif args.fd_every and flags["dataset"] != "fashion-mnist":
                raise UsageError(
                    "--fd-every needs --dataset fashion-mnist: the FD classifier knows Fashion-MNIST only."
                )
            model_dir = train(flags, mode, args, held)
    except (UsageError, DataError, saved_model.ModelFolderError, run.RunFolderError, hub.HubError) as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nInterrupted. Resume with: python train.py --out {args.out}", file=sys.stderr)
        return 130
    print(f"Saved the model to {model_dir}")
    return publish(model_dir, args) if args.push_to_hub else 0


def publish(model_dir: Path, args) -> int:
    """Push the finished model; on failure keep it and say how to retry."""
    try:
        commit = hub.push(model_dir, args.push_to_hub, private=args.hub_private, revision=args.hub_revision)
    except hub.HubError as error:
        retry = hub.push_command(model_dir, args.push_to_hub, args.hub_private, args.hub_revision)
        print(f"train.py: error: {error}\nThe model is saved in {model_dir}. Retry with: {retry}", file=sys.stderr)
        return 1
    print(f"Published to {hub.repo_url(args.push_to_hub)} (commit {commit.oid})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

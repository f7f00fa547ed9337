"""Train a GAN on Fashion-MNIST (default), MNIST or a folder of images.

    python train.py                                  # default recipe, about an hour on 2 CPU cores
    python train.py --epochs 5 --out runs/quick      # a shorter run
    python train.py --dataset folder --data-dir ~/faces --image-size 64

The run folder (--out) is laid out as gan_core/run.py describes. Interrupted
runs resume when started again with the same --out. On JAX, several processes
(hosts) train one run when Keras' launch variables name them
(KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES, _PROCESS_ID): start the same
command on each, with --devices all and an --out they share.
"""

import argparse
import contextlib
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from gan_core import backend, hub, metadata, metrics, run, training
from gan_core.augment import POLICIES, parse_policy
from gan_core.data import DATASETS
from gan_core.errors import GanCoreError, UsageError
from gan_core.latent import MAX_SEED
from gan_core.losses import LOSSES
from gan_core.networks import IMAGE_SIZES
from gan_core.recipe import Recipe


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


def _devices(text):
    if text == "all" or (text.isdigit() and int(text) >= 1):
        return text
    raise argparse.ArgumentTypeError(f"--devices must be 'all' or a number of devices (1, 2, …), got {text!r}")


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
        type=_bounded(int, "--latent-dim", 1, metadata.MAX_LATENT_DIM),
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
        "--d-lr",
        type=_bounded(float, "--d-lr", 1e-8, 1.0),
        help="Adam learning rate of the discriminator, when it differs from --lr (two time-scale update rule; "
        f"default: {default.d_lr or 'the same as --lr'})",
    )
    recipe.add_argument(
        "--lr-final",
        type=_bounded(float, "--lr-final", 0.0, 1.0),
        help="decay --lr along a cosine to this rate over --lr-decay-epochs, then keep it (--d-lr in the same "
        f"ratio; equal to --lr: no decay; default: {default.lr_final}, or no decay when --lr is given alone)",
    )
    recipe.add_argument(
        "--lr-decay-epochs",
        type=_bounded(int, "--lr-decay-epochs", 1),
        help="epochs over which --lr decays to --lr-final, then stays there "
        f"(default: {default.lr_decay_epochs or 'every epoch of the run'})",
    )
    recipe.add_argument(
        "--beta-1", type=_bounded(float, "--beta-1", 0.0, 0.999), help=f"Adam β1 (default: {default.beta_1})"
    )
    recipe.add_argument("--loss", choices=LOSSES, help=f"GAN loss (default: {default.loss})")
    recipe.add_argument(
        "--r1-gamma",
        type=_bounded(float, "--r1-gamma", 1e-6, 1e4),
        help="weight γ of an R1 gradient penalty on real images, applied lazily every --r1-every D steps "
        "(default: none)",
    )
    recipe.add_argument(
        "--r1-every",
        type=_bounded(int, "--r1-every", 1),
        help=f"D steps between R1 penalties, each scaled by this interval (default: {default.r1_every})",
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
        "--conditional-norm",
        action=argparse.BooleanOptionalAction,
        help="a conditional generator takes the class through the scale and shift of its batch norms "
        f"instead of beside z (default: {'yes' if default.conditional_norm else 'no'})",
    )
    recipe.add_argument(
        "--spectral-norm",
        action=argparse.BooleanOptionalAction,
        help="spectral normalisation of every discriminator layer "
        f"(default: {'yes' if default.spectral_norm else 'no'})",
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
        f"(default: {training.DEFAULT_FD_EVERY} on fashion-mnist; 0 turns it off)",
    )
    run.add_argument(
        "--fd-samples",
        type=_bounded(int, "--fd-samples", 2),
        default=metrics.FD_SAMPLES,
        help=f"generated images per FD (default: {metrics.FD_SAMPLES})",
    )
    run.add_argument(
        "--xla",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="compile the training step with XLA, 1.6× faster on a 2-core CPU (default: yes)",
    )
    run.add_argument(
        "--devices",
        type=_devices,
        default="1",
        help="train data-parallel on 'all' devices or the first N (GPUs, else CPU devices), each taking an equal "
        "share of every batch: tf.distribute.MirroredStrategy on TensorFlow, keras.distribution.DataParallel on "
        "JAX (default: 1)",
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


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    args = build_parser().parse_args(argv)
    out_given = args.out is not None
    if not out_given:
        args.out = Path("runs") / f"{args.dataset or 'fashion-mnist'}-{time.strftime('%Y%m%d-%H%M%S')}"
    given = {name: getattr(args, name) for name in (*run.RUN_FLAGS, "epochs")}
    options = training.Options(
        fd_every=args.fd_every,
        fd_samples=args.fd_samples,
        tensorboard=args.tensorboard,
        allow_download=not args.no_download,
        conditional_asked=args.conditional is True,
        xla=args.xla,
        devices=args.devices,
    )
    try:
        if backend.processes_asked() > 1 and not out_given:
            raise UsageError("Several processes train one run: give each the same --out, on a file system they share.")
        processes = backend.join_processes()
        with contextlib.ExitStack() as held:

            def plan_here() -> run.Plan:
                if (args.hub_private or args.hub_revision) and not args.push_to_hub:
                    raise UsageError("--hub-private and --hub-revision need --push-to-hub REPO_ID.")
                if args.push_to_hub:
                    hub.check_can_push(args.push_to_hub)
                if (args.out / run.RUN_JSON).exists():
                    held.enter_context(run.lock(args.out))
                return run.plan(args.out, given, resume=args.resume, command=shlex.join(["python", "train.py", *argv]))

            plan = run.shared_plan(processes, plan_here)
            model_dir = training.train(args.out, plan, options, processes=processes)
    except GanCoreError as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        again = (
            " in every process, with the same KERAS_DISTRIBUTION_* variables" if backend.processes_asked() > 1 else ""
        )
        print(f"\nInterrupted. Resume with: python train.py --out {args.out}{again}", file=sys.stderr)
        return 130
    if processes.index:
        print(f"Process {processes.index} of {processes.count} is done: process 0 saved the model to {model_dir}")
        return 0
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

"""Train a planned run (`run.plan`) with `GAN.fit`: data, model, the callbacks between epochs, the final save."""

import contextlib
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import keras

from gan_core import backend, metrics, run, saved_model
from gan_core.callbacks import EpochTimer, FrechetDistance, HistoryCSV, SampleGrid
from gan_core.data import DataError, ImageData, load_data, load_idx_dataset, make_dataset
from gan_core.errors import ProcessesError, UsageError
from gan_core.recipe import Recipe, build_gan

FD_DATASET = "fashion-mnist"  # the only data set the metric classifier knows
DEFAULT_FD_EVERY = 5


@dataclasses.dataclass(frozen=True)
class Options:
    """How to train, beyond the flags that define the run.

    `fd_every` = None measures FD every `DEFAULT_FD_EVERY` epochs on Fashion-MNIST and never
    elsewhere; `conditional_asked` says that the user asked for a conditional model, so data
    without labels is refused instead of training an unconditional one. `xla` compiles the
    training step with XLA, on CPU too, where Keras' "auto" would not: on the 2-core machine
    this project targets it trains 1.6× faster (bench/README.md); it changes no result but the
    last digits. `devices` ("all" or a count) trains data-parallel on that many of
    `backend.devices()`, each taking an equal share of every batch.
    """

    fd_every: int | None = None
    fd_samples: int = metrics.FD_SAMPLES
    tensorboard: bool = False
    allow_download: bool = True
    conditional_asked: bool = False
    xla: bool = True
    devices: str = "1"


def fd_every(options: Options, dataset: str) -> int:
    """Epochs between FD measurements (0: never) for `dataset`, refusing FD where the classifier cannot judge."""
    if options.fd_every is None:
        return DEFAULT_FD_EVERY if dataset == FD_DATASET else 0
    if options.fd_every and dataset != FD_DATASET:
        raise UsageError(
            f"--fd-every needs --dataset {FD_DATASET}: the FD classifier knows Fashion-MNIST only.",
            value=options.fd_every,
        )
    return options.fd_every


def choose_devices(devices: str, batch_size: int, processes: backend.Processes = backend.ONE_PROCESS) -> list[str]:
    """The devices `devices` asks for ("all", or the first N of `backend.devices()`), checked against the batch;
    over several processes, every process's devices."""
    available = backend.devices()
    count = len(available) if devices == "all" else int(devices)
    if not 1 <= count <= len(available):
        holder = "this machine has" if processes.count == 1 else f"these {processes.count} processes have"
        raise UsageError(f"--devices {devices}: {holder} {len(available)} ({', '.join(available)}).", value=devices)
    if processes.count > 1 and count < len(available):
        raise UsageError(
            f"--devices {devices}: {processes.count} processes train on every device they have together "
            f"({len(available)}); pass --devices all.",
            value=devices,
        )
    if batch_size % count:
        raise UsageError(
            f"--batch-size {batch_size} does not split evenly over {count} devices; choose a multiple of {count}.",
            value=batch_size,
        )
    return available[:count]


def train(
    out: Path,
    plan: run.Plan,
    options: Options,
    log: Callable[[str], None] = print,
    processes: backend.Processes = backend.ONE_PROCESS,
) -> Path:
    """Train the planned run in `out` and save its finished model in `out/model`; return that folder.

    For a "new" run, `out` is locked here, once everything that can fail before training has
    been checked; an existing run must already be locked by the caller (`run.lock`). Over several
    `processes` (`backend.join_processes`), each calls this with the same plan (`run.shared_plan`)
    and only process 0 writes `out` (`run.process_copy`).
    """
    out = Path(out)
    with contextlib.ExitStack() as held:
        with _together(processes):  # what can fail on one process only fails on all, before any waits for all
            if processes.count > 1 and not backend.TENSORFLOW_INSTALLED:
                raise UsageError("Training over several processes reads the data with tf.data: install tensorflow.")
            flags = dict(plan.flags)
            every = fd_every(options, flags["dataset"])
            data = load_data(flags["dataset"], flags["data_dir"], flags["image_size"], flags["channels"],
                             allow_download=options.allow_download)  # fmt: skip
            log(f"Data: {len(data.images)} images of {data.image_shape} from {data.source}")
            if flags["conditional"] and not data.num_classes:
                if options.conditional_asked:
                    raise UsageError(
                        f"--conditional needs labelled data, and {data.source} has no classes: "
                        "put each class's images in a sub-folder of its own, or leave out --conditional.",
                        value=data.source,
                    )
                log("The data has no labels: training an unconditional model.")
                flags["conditional"] = False
            if plan.mode == "new" and flags["lr_final"] is not None and flags["lr_decay_epochs"] is None:
                flags["lr_decay_epochs"] = flags["epochs"]  # the horizon stays put when the run is extended later
            recipe = Recipe(**{field.name: flags[field.name] for field in dataclasses.fields(Recipe)})
            steps_per_epoch = flags["steps_per_epoch"] or len(data.images) // recipe.batch_size
            devices = choose_devices(options.devices, recipe.batch_size, processes)
            if len(devices) > 1:
                share = recipe.batch_size // len(devices)
                log(f"Data-parallel on {len(devices)} devices ({', '.join(devices)}), {share} images a batch on each")
                if options.xla and not backend.xla_across(devices):
                    log(f"Without XLA: {keras.backend.backend()} cannot compile a step over these devices with it.")
                    options = dataclasses.replace(options, xla=False)
            folder = held.enter_context(run.process_copy(out, plan, processes))
        if processes.index:
            log(f"Process {processes.index} of {processes.count}: process 0 writes {out}; this one trains beside it")
        held.enter_context(backend.data_parallel(devices))
        keras.utils.set_random_seed(flags["seed"])
        if plan.mode == "extend":
            gan = saved_model.load_gan(folder)
            log(f"Training the finished model in {out} further: epochs {plan.initial_epoch + 1} … {recipe.epochs}")
        else:
            gan = build_gan(recipe, data.image_shape, data.num_classes, seed=flags["seed"],
                            steps_per_epoch=steps_per_epoch)  # fmt: skip
            if plan.mode == "resume":
                log(f"Resuming the interrupted run in {out} after epoch {plan.initial_epoch} of {recipe.epochs}")
            run.drop_history_after(folder, plan.initial_epoch)
        gan.jit_compile = options.xla

        def model_metadata(epochs: int) -> dict:
            return {
                "dataset": data.name,
                "class_names": list(data.class_names) if data.class_names else None,
                "epochs": epochs,
                "seed": flags["seed"],
                "recipe": dataclasses.asdict(recipe),
                "command": plan.command,
                "versions": {"keras": keras.__version__, "backend": keras.backend.backend()},
            }

        measuring = _quality_callbacks(folder, data, flags, every, options, model_metadata)  # fails before writing
        if plan.mode == "new":
            folder.mkdir(parents=True, exist_ok=True)
            held.enter_context(run.lock(folder))
            run.start(folder, dataclasses.replace(plan, flags=flags))  # with what the data decided
        log(f"Run folder: {out}  (after an interruption, resume with: python train.py --out {out})")
        gan.fit(
            make_dataset(data, recipe.batch_size, seed=flags["seed"]),
            epochs=recipe.epochs,
            initial_epoch=plan.initial_epoch,
            steps_per_epoch=steps_per_epoch,
            shuffle=False,
            # a progress bar on a terminal, one line per epoch in a log, and nothing from a second process
            verbose=0 if processes.index else 1 if sys.stdout.isatty() else 2,
            callbacks=[
                EpochTimer(recipe.batch_size),
                SampleGrid(folder / run.SAMPLES_DIR),
                *measuring,
                HistoryCSV(folder / run.HISTORY_CSV),
                # Last, so a crash after it leaves at most a history row that resuming drops.
                keras.callbacks.BackupAndRestore(
                    folder / run.BACKUP_DIR, double_checkpoint=True, delete_checkpoint=False
                ),
            ],
        )
        summary = run.training_summary(folder, steps_per_epoch, recipe.batch_size)
        model_dir = run.finish(gan, folder, {**model_metadata(recipe.epochs), "training": summary})
        return out / model_dir.relative_to(folder)


@contextlib.contextmanager
def _together(processes: backend.Processes):
    """Stop every process when the block fails on any: a process that went on would wait forever in
    the first step that needs all of them."""
    try:
        yield
    except BaseException:
        processes.agree(False)
        raise
    if not processes.agree(True):
        raise ProcessesError("Another process could not start the run (its output says why); this one stops too.")


def _quality_callbacks(out: Path, data: ImageData, flags: dict, every: int, options: Options, model_metadata):
    """FD every `every` epochs (keeping the best model in best/), and TensorBoard if asked for."""
    callbacks = []
    if every:
        classifier = metrics.load_classifier()
        try:
            test = load_idx_dataset(flags["dataset"], flags["data_dir"], "test", allow_download=options.allow_download)
        except DataError as error:
            raise DataError(
                f"{error}\nFD during training needs the test split; --fd-every 0 trains without it.", value=error.value
            ) from None
        real_features, _ = metrics.embed(classifier, test.images)
        best_dir = out / run.BEST_DIR
        kept = saved_model.read_metadata(best_dir) if (best_dir / saved_model.GAN_JSON).exists() else {}
        best = kept.get("quality", {}).get("fd", float("inf"))

        def save_best(gan, epoch, scores):
            saved_model.save(gan, best_dir, {**model_metadata(epoch + 1), "quality": scores})

        real_labels = test.labels if flags["conditional"] and data.num_classes else None
        if real_labels is not None and options.fd_samples < metrics.PER_CLASS_MINIMUM * data.num_classes:
            raise UsageError(
                f"--fd-samples must be at least {metrics.PER_CLASS_MINIMUM * data.num_classes} for a conditional "
                f"model of {data.num_classes} classes (per-class recall needs {metrics.PER_CLASS_MINIMUM} samples "
                f"of each), got {options.fd_samples}.",
                value=options.fd_samples,
            )
        callbacks.append(
            FrechetDistance(classifier, real_features, every, options.fd_samples, best, save_best, real_labels)
        )
    if options.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(out / "tensorboard"))
    return callbacks

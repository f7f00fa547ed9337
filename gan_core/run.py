"""A `train.py` run folder: what starting on it means (`plan`), and the order of steps that keeps its model safe.

    python -m gan_core.run export RUN DESTINATION   # e.g. the bundled model: … export runs/<name> pretrained

    run.json      the flags that define the run, and the command that started it
    history.csv   one row per finished epoch, numbered from 1 like the sample grids
    samples/      epoch_NNN.png from fixed seeds, one per epoch
    backup/       Keras' `BackupAndRestore` state while training (this epoch and the one before)
    best/         the model with the best FD so far (no class collapsed)
    model/        the finished model

`export` turns a finished run into a folder like the bundled model: the best model's
generator (without the whole GAN) with the run's history and a compact timeline of its
sample grids.

A kill at any moment leaves a folder that the next start reads correctly:
`saved_model.save` writes a model beside its destination and renames it into
place; `finish` writes `model/` before it retires `backup/`, and retires it by
renaming it away before deleting it, so a `backup/` that exists is whole; a
backup no newer than `model/` is stale and removed; and a backup that cannot be
restored is reported, never silently replaced by fresh weights. One process at
a time works in a run folder (`lock`), so what a dead one left half-written is
known to be dead and cleaned up on the next start.
"""

import argparse
import contextlib
import dataclasses
import fcntl
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py

from gan_core import saved_model, timeline
from gan_core.backend import Processes
from gan_core.errors import GanCoreError, RunFolderError, UsageError
from gan_core.recipe import BEFORE_FIELD_EXISTED, Recipe

RUN_JSON = "run.json"
HISTORY_CSV = timeline.HISTORY_CSV
SAMPLES_DIR = timeline.RUN_SAMPLES_DIR
BACKUP_DIR = "backup"
BEST_DIR = "best"
LOCK_FILE = ".lock"
# BackupAndRestore's files, and its copies of the epoch before (double_checkpoint=True).
BACKUP_WEIGHTS = "latest.weights.h5"
BACKUP_METADATA = "training_metadata.json"
PREVIOUS = ".bkp"
TIMELINE_DIR = timeline.TIMELINE_DIR
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
DEFAULT_FLAGS = {**dataclasses.asdict(Recipe()), "dataset": "fashion-mnist", "seed": 0}


@dataclasses.dataclass(frozen=True)
class Plan:
    """What starting training on a run folder does.

    `mode` is "new" (an empty or missing folder), "resume" (an interrupted run, from its backup)
    or "extend" (a finished run trained up to a larger `epochs`); `flags` are the effective flags
    (given ones, else the run's saved ones, else the defaults); `initial_epoch` counts the epochs
    already trained; `command` is the command line that started the run.
    """

    mode: str
    flags: dict
    initial_epoch: int
    command: str


class RunFolderBusyError(RunFolderError):
    """Another process is training in the run folder."""


class BrokenBackupError(RunFolderError):
    """The backup of an interrupted run cannot be restored: resuming would start from fresh weights."""

    def __init__(self, backup: Path, reason: str):
        super().__init__(
            f"{backup} cannot be restored: {reason}. Training on would start from untrained weights, so the run "
            f"stops here; the history and samples in {backup.parent} are kept. Start a new run with another --out."
        )
        self.backup = backup


def plan(
    out: Path, given: dict, *, resume: bool = False, command: str = "", log: Callable[[str], None] = print
) -> Plan:
    """Decide what training on `out` does with the `given` flags (None = not given).

    Repairs what a killed process left (see the module docstring), saying so with one `log` line
    each, and raises `UsageError` for a folder that is not a run, flags that differ from the run's,
    or nothing left to do. Call it while holding `lock(out)` when `out` already holds a run.
    """
    out = Path(out)
    run_json = out / RUN_JSON
    if not run_json.exists():
        if out.exists() and any(path.name != LOCK_FILE for path in out.iterdir()):
            raise UsageError(f"--out {out} is not empty and is not a train.py run folder; choose another --out.",
                             value=out)  # fmt: skip
        if resume:
            raise UsageError(f"--resume: {out} holds no run to resume.", value=out)
        return Plan("new", resolve_flags(out, given, None), 0, command)
    try:
        saved = json.loads(run_json.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{run_json} is corrupt ({error}); choose another --out.", value=run_json) from None
    flags = resolve_flags(out, given, saved)
    command = saved.get("command", command)
    for folder in (out, out / saved_model.RUN_MODEL_DIR):
        for repair in saved_model.recover_interrupted_saves(folder) if folder.is_dir() else ():
            log(repair)
    if retire_stale_backup(out):
        log(f"Removed the backup in {out}: the finished model was saved after it.")
    done, restored = finished_epochs(out), backup_epoch(out)
    if done is None or restored:
        return Plan("resume", flags, restored, command)
    if not resume:
        raise UsageError(
            f"{out} already holds a finished model ({done} epochs). Choose another --out, "
            f"or add --resume --epochs N (N > {done}) to train it further.",
            value=out,
        )
    if flags["epochs"] <= done:
        raise UsageError(f"--resume: {out} already has {done} epochs; pass --epochs larger than {done}.",
                         value=flags["epochs"])  # fmt: skip
    return Plan("extend", flags, done, command)


def shared_plan(processes: Processes, plan_here: Callable[[], Plan]) -> Plan:
    """Process 0's plan on every process: it alone reads (and repairs) the run folder and decides.

    The others would see the folder while process 0 repairs and starts it; a refusal is shared
    too, so no process waits for a run that will not start.
    """
    if processes.count == 1:
        return plan_here()
    if processes.index == 0:
        try:
            planned = plan_here()
        except BaseException as error:  # an interrupt too: the others must not wait for a plan
            processes.share(json.dumps({"refused": str(error)}).encode())
            raise
        processes.share(json.dumps(dataclasses.asdict(planned), default=str).encode())
        return planned
    shared = json.loads(processes.share(b""))
    if "refused" in shared:
        raise UsageError(f"process 0 refused the run: {shared['refused']}", value=shared["refused"])
    return Plan(**shared)


@contextlib.contextmanager
def process_copy(out: Path, plan: Plan, processes: Processes) -> Iterator[Path]:
    """The folder this process trains in: `out` for process 0, which writes the run; for the others a
    temporary copy of the run as process 0 found it (its backup to resume from, its model to extend),
    deleted afterwards. Every process trains the same steps and runs the same callbacks; only the
    run folder's writes are process 0's alone."""
    if processes.index == 0:
        yield out
        return
    with tempfile.TemporaryDirectory(prefix=f"gan-process-{processes.index}-") as scratch:
        folder = Path(scratch) / "run"
        if plan.mode != "new":
            # Before the first step process 0 only replaces history.csv (by renaming a hidden file onto it);
            # its backup, best and finished model stay as they are until every process trains.
            shutil.copytree(out, folder, ignore=shutil.ignore_patterns(".*", SAMPLES_DIR))
        yield folder


def resolve_flags(out: Path, given: dict, saved: dict | None) -> dict:
    """Effective flags: given ones, else the run's saved ones, else defaults; a given flag that
    differs from the run's saved one is refused. A new run given --lr alone keeps that rate
    (the default decay from 6e-4 to --lr-final is the default rate's)."""
    fallback = {**DEFAULT_FLAGS, **(BEFORE_FIELD_EXISTED if saved is not None else {})}
    flags = {}
    for name in (*RUN_FLAGS, "epochs"):
        value = given.get(name)
        value = str(value) if isinstance(value, Path) else value
        if saved is not None and value is not None and name != "epochs" and value != saved.get(name):
            raise UsageError(
                f"{out} was started with --{name.replace('_', '-')} {saved.get(name)}, not {value}; "
                "repeat the original flags (or leave them out), or choose another --out.",
                value=value,
            )
        flags[name] = value if value is not None else (saved or DEFAULT_FLAGS).get(name, fallback.get(name))
    if saved is None and given.get("lr") is not None and given.get("lr_final") is None:
        flags["lr_final"] = None  # a rate the user chose is the rate they get, not the default's warm start
    if flags["dataset"] == "folder" and flags["data_dir"] is None:
        raise UsageError("--dataset folder needs --data-dir pointing at a folder of images.")
    if flags["data_dir"] is not None and not Path(flags["data_dir"]).is_dir():
        raise UsageError(f"--data-dir {flags['data_dir']} is not a folder.", value=flags["data_dir"])
    if flags["dataset"] != "folder" and (flags["image_size"] not in (None, 28) or flags["channels"] not in (None, 1)):
        raise UsageError(f"{flags['dataset']} images are 28×28 grey: leave out --image-size and --channels.")
    if flags["lr_final"] is not None and flags["lr_final"] > flags["lr"]:
        raise UsageError(
            f"--lr-final {flags['lr_final']} is larger than --lr {flags['lr']}: the rate decays towards --lr-final "
            "(equal to --lr keeps it constant).",
            value=flags["lr_final"],
        )
    return flags


def start(out: Path, plan: Plan) -> None:
    """Write `run.json` for a planned run (its flags and the command that started it)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / RUN_JSON).write_text(json.dumps({**plan.flags, "command": plan.command}, indent=2) + "\n")


@contextlib.contextmanager
def lock(out: Path):
    """Hold `out` for this process; a second `train.py` on the same folder is refused, not interleaved.

    The operating system drops the lock when the process dies, however it dies.
    """
    with open(Path(out) / LOCK_FILE, "a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderBusyError(
                f"{out} is in use by another train.py; wait for it or choose another --out."
            ) from None
        yield


def finished_epochs(out: Path) -> int | None:
    """Epochs of the finished model in `out/model`, or None before there is one."""
    if not (out / saved_model.RUN_MODEL_DIR / saved_model.GAN_JSON).exists():
        return None
    return saved_model.read_metadata(out / saved_model.RUN_MODEL_DIR).get("epochs", 0)


def backup_epoch(out: Path) -> int:
    """Epochs finished according to the backup (0 without one), after checking that it can be restored.

    `BackupAndRestore` reads a missing weights file as "start from scratch at epoch N", and it writes an
    epoch's weights before its metadata, so a kill in between leaves weights one epoch ahead of a metadata
    file equal to the previous epoch's. In both cases the previous epoch's pair, when whole, is put back.
    """
    backup = out / BACKUP_DIR
    if not backup.exists():
        return 0
    latest, previous = _restorable_epoch(backup, ""), _restorable_epoch(backup, PREVIOUS)
    if isinstance(latest, int) and latest != previous:
        return latest
    if not isinstance(previous, int):
        raise BrokenBackupError(backup, latest)
    for name in (BACKUP_WEIGHTS, BACKUP_METADATA):
        shutil.copyfile(backup / f"{name}{PREVIOUS}", backup / name)
    return previous


def _recorded_epoch(metadata: Path) -> int | None:
    """The epoch a backup's metadata file records, or None when it cannot be read."""
    try:
        epoch = json.loads(metadata.read_text())["epoch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return epoch if isinstance(epoch, int) and epoch >= 0 else None


def _restorable_epoch(backup: Path, suffix: str) -> int | str:
    """The epoch a pair of backup files holds, or why it cannot be restored."""
    metadata, weights = backup / f"{BACKUP_METADATA}{suffix}", backup / f"{BACKUP_WEIGHTS}{suffix}"
    epoch = _recorded_epoch(metadata)
    if epoch is None:
        return f"{metadata.name} is {'corrupt' if metadata.exists() else 'missing'}"
    try:
        with h5py.File(weights, "r") as file:
            if not len(file):
                return f"{weights.name} holds no weights"
    except FileNotFoundError:
        return f"{metadata.name} says {epoch} epochs, but {weights.name} is missing"
    except OSError:
        return f"{weights.name} is truncated or corrupt"
    return epoch


def retire_stale_backup(out: Path) -> bool:
    """Remove `backup/` when the finished model already has its epochs (a kill came before it was removed).

    A broken backup beside the model is stale too when it claims no more epochs than the model has; one
    that claims more (a `--resume --epochs N` run killed while writing it) is left for `backup_epoch` to report.
    """
    backup = out / BACKUP_DIR
    done = finished_epochs(out)
    if not backup.exists() or done is None:
        return False
    try:
        stale = backup_epoch(out) <= done
    except BrokenBackupError:
        claimed = (_recorded_epoch(backup / f"{BACKUP_METADATA}{suffix}") for suffix in ("", PREVIOUS))
        stale = max((epoch for epoch in claimed if epoch is not None), default=0) <= done
    if stale:
        _retire(backup)
    return stale


def finish(gan, out: Path, metadata: dict) -> Path:
    """Save the finished model to `out/model`, then retire the backup it came from."""
    model_dir = saved_model.save(gan, out / saved_model.RUN_MODEL_DIR, metadata)
    _retire(out / BACKUP_DIR)
    return model_dir


def _retire(folder: Path) -> None:
    """Rename `folder` away, then delete it: a kill in between leaves a leftover, never half a folder."""
    if folder.exists():
        retired = saved_model.beside(folder, "retired")
        folder.rename(retired)
        shutil.rmtree(retired)


def history_rows(out: Path) -> list[dict]:
    return timeline.history_rows(out / HISTORY_CSV)


def drop_history_after(out: Path, epochs: int) -> None:
    """Forget history rows of epochs that the restored backup did not keep."""
    rows = history_rows(out)
    kept = [row for row in rows if int(row["epoch"]) <= epochs]
    if len(kept) < len(rows):
        timeline.write_history(out / HISTORY_CSV, kept, list(rows[0]))


def training_summary(out: Path, steps_per_epoch: int, batch_size: int) -> dict:
    rows = history_rows(out)
    last = rows[-1]
    return {
        "epochs": len(rows),
        "steps": len(rows) * steps_per_epoch,
        "images_seen": len(rows) * steps_per_epoch * batch_size,
        "train_seconds": round(sum(float(row["seconds"]) for row in rows), 1),
        "final": {name: round(float(last[name]), 4) for name in ("d_loss", "g_loss", "d_real", "d_fake")},
    }


def export(out: Path, destination: Path) -> Path:
    """Write a finished run's model to `destination` as a generator-only folder with the run's timeline.

    The model is `best/` when there is one (else `model/`), without `gan.keras`, its gan.json
    given the whole run's `training` summary and which epoch was kept; beside it go
    `history.csv` and `timeline/` (`timeline.compact`: each epoch's sample grid at its native size,
    the run's being drawn at 2×, and the curves), so a later tool can show how the model learned.
    The folder replaces `destination` whole, as `saved_model.save` does.
    """
    out, destination = Path(out), Path(destination)
    source = out / BEST_DIR if (out / BEST_DIR / saved_model.GAN_JSON).exists() else out / saved_model.RUN_MODEL_DIR
    saved_model.load(source)  # refuse to export a model that does not load
    staging = saved_model.beside(destination, "partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(saved_model.GAN_KERAS))
    if source.name == BEST_DIR:
        finished = saved_model.read_metadata(out / saved_model.RUN_MODEL_DIR)
        kept = saved_model.read_metadata(source)["epochs"]
        selected = f"epoch {kept} of {finished['epochs']}: the lowest FD in which no class had collapsed (best/)"
        saved_model.update_metadata(staging, {"training": {**finished.get("training", {}), "selected": selected}})
    timeline.compact(out, staging)
    return saved_model.replace_folder(staging, destination)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_core.run", description=export.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    exporting = commands.add_parser("export", help="a finished run's best model, with its history and timeline")
    exporting.add_argument("run", type=Path, help="the run folder (--out of train.py)")
    exporting.add_argument("destination", type=Path, help="the folder to write (replaced whole)")
    args = parser.parse_args(argv)
    try:
        folder = export(args.run, args.destination)
    except (GanCoreError, FileNotFoundError) as error:
        print(f"gan_core.run: error: {error}", file=sys.stderr)
        return 2
    print(f"Exported {args.run} to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

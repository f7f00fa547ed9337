"""A `train.py` run folder, and the order of steps that keeps its model safe.

    run.json      the flags that define the run
    history.csv   one row per finished epoch
    samples/      epoch_NNN.png from fixed seeds, one per epoch
    backup/       Keras' `BackupAndRestore` state while training (this epoch and the one before)
    best/         the model with the best FD so far
    model/        the finished model

A kill at any moment leaves a folder that the next start reads correctly:
`saved_model.save` writes a model beside its destination and renames it into
place; `finish` writes `model/` before it retires `backup/`, and retires it by
renaming it away before deleting it, so a `backup/` that exists is whole; a
backup no newer than `model/` is stale and removed; and a backup that cannot be
restored is reported, never silently replaced by fresh weights. One process at
a time works in a run folder (`lock`), so what a dead one left half-written is
known to be dead and cleaned up on the next start.
"""

import contextlib
import csv
import fcntl
import json
import shutil
from pathlib import Path

import h5py

from gan_core import saved_model

RUN_JSON = "run.json"
HISTORY_CSV = "history.csv"
SAMPLES_DIR = "samples"
BACKUP_DIR = "backup"
BEST_DIR = "best"
LOCK_FILE = ".lock"
# BackupAndRestore's files, and its copies of the epoch before (double_checkpoint=True).
BACKUP_WEIGHTS = "latest.weights.h5"
BACKUP_METADATA = "training_metadata.json"
PREVIOUS = ".bkp"


class RunFolderError(Exception):
    """A run folder that cannot be trained in as it is."""


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
    path = out / HISTORY_CSV
    if not path.exists():
        return []
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def drop_history_after(out: Path, epochs: int) -> None:
    """Forget history rows of epochs that the restored backup did not keep."""
    rows = history_rows(out)
    kept = [row for row in rows if int(row["epoch"]) < epochs]
    if len(kept) == len(rows):
        return
    with (out / HISTORY_CSV).open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


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

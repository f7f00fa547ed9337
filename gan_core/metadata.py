"""`gan.json`: what a saved generator is and how it was made, in one typed and versioned schema.

Every `gan.json` is written through `dumps`, which stamps the current format, and read
through `parse`, which checks each field the app, the model card and the tools rely on,
and refuses a format this gan_core does not know (a model saved by a newer version).

Format history: 1, the first; 2 adds `command` (the command line that trained the model)
and per-class scores in `quality` (`per_class`, see `gan_core.metrics.per_class`). A file
without `format` predates the field and is read as version 1.
"""

import json
import reprlib
from pathlib import Path
from typing import NotRequired, TypedDict

from gan_core.errors import ModelFolderError

FORMAT_NAME = "gan_core.saved_model"
FORMAT_VERSION = 2
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"
MAX_LATENT_DIM = 4096
MAX_IMAGE_SIDE = 4096


class GanMetadata(TypedDict):
    """The fields of `gan.json`. Only `latent_dim` is required; the rest is written by `saved_model.save`."""

    latent_dim: int
    format: NotRequired[str]
    image_shape: NotRequired[list[int]]  # [height, width, channels]
    channels: NotRequired[int]
    output_range: NotRequired[list[float]]  # the generator's pixel range, [-1, 1]
    num_classes: NotRequired[int | None]  # None: an unconditional generator
    class_names: NotRequired[list[str] | None]
    dataset: NotRequired[str | None]
    epochs: NotRequired[int]
    seed: NotRequired[int | None]
    recipe: NotRequired[dict]  # gan_core.recipe.Recipe's fields
    command: NotRequired[str]  # the command line that started the training run
    training: NotRequired[dict]  # gan_core.run.training_summary
    quality: NotRequired[dict]  # gan_core.evaluate.quality_metadata, or the FD callback's scores
    directions: NotRequired[dict]  # gan_core.evaluate.directions_metadata: the app's slider limits
    memorisation: NotRequired[dict]  # gan_core.evaluate.memorisation_report: the data-copying test
    versions: NotRequired[dict]  # keras and backend versions that trained it


def _whole(low: int, high: int):
    return lambda value: type(value) is int and low <= value <= high


def _names(value) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(name, str) for name in value))


# What each field must be, checked before the network loads.
FIELD_CHECKS = {
    "latent_dim": (f"a whole number in 1 … {MAX_LATENT_DIM}", _whole(1, MAX_LATENT_DIM)),
    "num_classes": ("null or a whole number in 1 … 10000", lambda value: value is None or _whole(1, 10_000)(value)),
    "class_names": ("null or a list of names", _names),
    "image_shape": (
        "[height, width, channels]",
        lambda value: isinstance(value, list) and len(value) == 3 and all(map(_whole(1, MAX_IMAGE_SIDE), value)),
    ),
    "dataset": ("null or text", lambda value: value is None or isinstance(value, str)),
    "command": ("text", lambda value: isinstance(value, str)),
    "epochs": ("a whole number", _whole(0, 10**9)),
    **{
        name: ("an object", lambda value: isinstance(value, dict))
        for name in ("recipe", "training", "quality", "directions", "memorisation")
    },
}


def dumps(metadata: GanMetadata) -> str:
    """The text of a `gan.json`, stamped with the current format."""
    return json.dumps({**metadata, "format": FORMAT}, indent=2) + "\n"


def parse(text: str, path: Path) -> GanMetadata:
    """The checked contents of the `gan.json` at `path` (for messages), or `ModelFolderError` saying what is wrong."""
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelFolderError(f"{path} is corrupt: {error}.", value=path) from error
    if not isinstance(metadata, dict):
        raise ModelFolderError(f"{path} is corrupt: it holds {type(metadata).__name__}, not an object.", value=path)
    version = format_version(metadata.get("format", f"{FORMAT_NAME}/1"), path)
    if version > FORMAT_VERSION:
        raise ModelFolderError(
            f"{path} was written by a newer gan_core (format {version}); this one reads formats 1 … "
            f"{FORMAT_VERSION}. Update gan_core to load this model.",
            value=metadata["format"],
        )
    problems = [
        f"{name} must be {kind}, got {reprlib.repr(metadata[name])}"
        for name, (kind, valid) in FIELD_CHECKS.items()
        if name in metadata and not valid(metadata[name])
    ]
    if "latent_dim" not in metadata:
        problems.insert(0, "latent_dim is missing")
    if problems:
        raise ModelFolderError(f"{path} is corrupt: {'; '.join(problems)}.", value=path)
    return metadata


def format_version(text, path: Path) -> int:
    """The version number of a `format` value such as "gan_core.saved_model/2"."""
    name, _, number = text.rpartition("/") if isinstance(text, str) else ("", "", "")
    if name != FORMAT_NAME or not number.isdigit() or int(number) < 1:
        raise ModelFolderError(
            f"{path} has format {reprlib.repr(text)}: not a gan_core saved model ({FORMAT_NAME}/N expected).",
            value=text,
        )
    return int(number)

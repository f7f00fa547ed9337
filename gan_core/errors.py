"""The errors gan_core raises on purpose: catch `GanCoreError` for all of them, or one kind.

Each kind is also the built-in exception it is a case of (a bad value is a `ValueError`, a
folder or a server that fails is an `OSError`), so callers that catch those keep working,
and each carries the offending value (a flag's value, a path, a repository id) as `value`.
"""


class GanCoreError(Exception):
    """Base class: the message says what is wrong and what to do; `value` is what was wrong."""

    def __init__(self, message: str, *, value=None):
        super().__init__(message)
        self.value = value


class UsageError(GanCoreError, ValueError):
    """An option, flag or argument value that cannot work, found before any work is done."""


class ImageError(GanCoreError, ValueError):
    """An image given to a tool (an upload, a drawing) that is not a usable still picture."""


class DataError(GanCoreError, OSError):
    """The training or test data is missing or unusable."""


class ModelFolderError(GanCoreError, OSError):
    """A saved-model folder is missing, incomplete or unreadable."""


class RunFolderError(GanCoreError, OSError):
    """A `train.py` run folder that cannot be trained in as it is."""


class ProcessesError(GanCoreError, RuntimeError):
    """Another of the processes training one run together could not start it."""


class HubError(GanCoreError, OSError):
    """A Hugging Face Hub operation failed, or a repository id is invalid."""

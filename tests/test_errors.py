"""gan_core's own errors: each is a GanCoreError and the built-in it is a case of, and carries what was wrong as
`value`. Every error here is raised by the real code, never constructed by the test."""

import json

import numpy as np
import pytest
from conftest import write_idx

from gan_core import data, evaluate, hub, saved_model
from gan_core.errors import DataError, GanCoreError, HubError, ModelFolderError


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No IDX files in any of the folders searched."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("GAN_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "SYSTEM_DATA_DIR", tmp_path / "system")


def raised(call, *args, **kwargs) -> Exception:
    """The error `call(*args, **kwargs)` raises, caught as a GanCoreError."""
    with pytest.raises(GanCoreError) as error:
        call(*args, **kwargs)
    return error.value


def test_a_data_folder_without_the_files_is_a_data_error_about_that_folder(nowhere, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    error = raised(data.load_idx_dataset, "fashion-mnist", str(folder), allow_download=False)
    assert type(error) is DataError and isinstance(error, OSError)
    assert error.value == folder and "Could not find the fashion-mnist data set" in str(error)


def test_without_a_data_dir_the_missing_data_error_names_the_data_set(nowhere):
    error = raised(data.load_idx_dataset, "mnist", allow_download=False)
    assert isinstance(error, DataError) and error.value == "mnist"


def test_half_a_data_set_names_its_folder(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), "uint8"))
    error = raised(data.load_idx_dataset, "fashion-mnist", tmp_path, allow_download=False)
    assert isinstance(error, DataError) and isinstance(error, OSError) and error.value == tmp_path


def test_a_truncated_idx_file_names_the_file(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(bad, np.zeros((2, 28, 28), "uint8"), truncate_by=100)
    error = raised(data.read_idx, str(bad))
    assert isinstance(error, DataError) and error.value == bad


@pytest.mark.parametrize(
    ("call", "value"),
    [
        (lambda: data.load_data("cifar"), "cifar"),
        (lambda: data.load_data("mnist", image_size=64), (64, None)),
        (lambda: data.load_data("folder"), None),
    ],
)
def test_bad_data_options_are_data_errors_with_the_bad_value(call, value):
    error = raised(call)
    assert isinstance(error, DataError) and isinstance(error, OSError) and error.value == value


def test_a_missing_image_folder_names_it(tmp_path):
    error = raised(data.load_image_folder, tmp_path / "nope", 64, 3)
    assert isinstance(error, DataError) and error.value == tmp_path / "nope"


def test_a_batch_larger_than_the_data_set_names_the_batch_size():
    images = data.ImageData(np.zeros((4, 28, 28, 1), "uint8"), None, None, "tiny", "test")
    error = raised(data.make_dataset, images, 8)
    assert isinstance(error, DataError) and error.value == 8


def test_a_missing_model_folder_is_a_model_folder_error_about_the_path(tmp_path):
    error = raised(saved_model.load, str(tmp_path / "nope"))
    assert type(error) is ModelFolderError and isinstance(error, OSError)
    assert error.value == tmp_path / "nope"


def test_a_folder_without_gan_json_names_the_folder(tmp_path):
    error = raised(saved_model.load, tmp_path)
    assert isinstance(error, ModelFolderError) and error.value == tmp_path


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"epochs": 3}'])
def test_a_corrupt_gan_json_names_the_file(tmp_path, text):
    (tmp_path / saved_model.GAN_JSON).write_text(text)
    error = raised(saved_model.read_metadata, tmp_path)
    assert isinstance(error, ModelFolderError) and error.value == tmp_path / saved_model.GAN_JSON


def test_an_incomplete_model_folder_names_the_folder(tmp_path):
    (tmp_path / saved_model.GAN_JSON).write_text(json.dumps({"latent_dim": 16}))
    error = raised(saved_model.load, tmp_path)
    assert isinstance(error, ModelFolderError) and error.value == tmp_path and "incomplete" in str(error)


def test_a_hub_load_of_a_local_folder_passes_the_model_folder_error_on(tmp_path):
    error = raised(hub.load, tmp_path / "nope")
    assert isinstance(error, ModelFolderError) and error.value == tmp_path / "nope"


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("not a repo id!", "not a repo id!"),
        ("hf://alice/bad id!", "alice/bad id!"),
        ("just-a-name", "just-a-name"),
        ("hf://alice/gan@", "hf://alice/gan@"),
    ],
)
def test_a_bad_hub_source_is_a_hub_error_with_the_bad_value(source, value):
    error = raised(hub.parse_source, source)
    assert type(error) is HubError and isinstance(error, OSError) and error.value == value


def test_a_hub_load_of_a_bad_id_fails_before_any_download(monkeypatch):
    monkeypatch.setattr(hub, "snapshot_download", lambda *args, **kwargs: pytest.fail("downloaded"))
    error = raised(hub.load, "hf://owner/name/extra")
    assert isinstance(error, HubError) and error.value == "owner/name/extra"


@pytest.mark.parametrize(
    "failure",
    [
        hub.hub_errors.LocalEntryNotFoundError("not in the cache"),
        RuntimeError("something unforeseen"),
    ],
)
def test_a_failed_download_is_a_hub_error_about_the_repo_id(monkeypatch, failure):
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(hub, "snapshot_download", fail)
    for call in (hub.load, hub.pull):
        error = raised(call, "hf://alice/gan@v1")
        assert type(error) is HubError and error.value == "alice/gan" and error.__cause__ is failure
        assert str(error).startswith("Could not download hf://alice/gan@v1: ")


@pytest.mark.parametrize(("value", "expected"), [("other/repo", "other/repo"), (None, "alice/gan")])
def test_a_hub_error_passes_through_unchanged_and_carries_a_repo_id(monkeypatch, value, expected):
    """A HubError raised inside a Hub call is not re-explained: the same error, its message and value kept
    (given the repo id when it had none)."""
    inner = []

    def fail(*args, **kwargs):
        try:
            hub.require_token(value)  # raises for real: no token
        except HubError as error:
            inner.append(error)
            raise

    monkeypatch.setattr(hub, "get_token", lambda: None)
    monkeypatch.setattr(hub, "snapshot_download", fail)
    error = raised(hub.pull, "alice/gan")
    assert error is inner[0] and str(error).startswith("No Hugging Face token") and error.value == expected


def test_a_missing_token_names_the_repo_it_was_needed_for(monkeypatch):
    monkeypatch.setattr(hub, "get_token", lambda: None)
    error = raised(hub.check_can_push, "alice/gan")
    assert isinstance(error, HubError) and isinstance(error, OSError) and error.value == "alice/gan"


def test_catching_gan_core_error_catches_every_kind(nowhere, tmp_path):
    calls = [
        lambda: data.load_idx_dataset("fashion-mnist", tmp_path, allow_download=False),
        lambda: saved_model.load(tmp_path / "nope"),
        lambda: hub.parse_source("not a repo id!"),
    ]
    kinds = []
    for call in calls:
        try:
            call()
        except GanCoreError as error:
            assert error.value is not None
            kinds.append(type(error))
    assert kinds == [DataError, ModelFolderError, HubError]


def test_the_command_lines_report_every_kind_as_an_error(tmp_path, capsys):
    assert evaluate.main([str(tmp_path / "nope")]) == 2
    assert "gan_core.evaluate: error: No saved model at" in capsys.readouterr().err
    assert hub.main(["pull", "not a repo id!"]) == 1
    assert "gan_core.hub: error: 'not a repo id!' is not a valid Hub model id" in capsys.readouterr().err
    assert hub.main(["push", str(tmp_path / "nope"), "alice/gan"]) == 1
    err = capsys.readouterr().err
    assert "No saved model at" in err and "Retry with: python -m gan_core.hub push" in err


def test_the_old_module_attributes_are_the_shared_classes():
    assert data.DataError is DataError and saved_model.ModelFolderError is ModelFolderError
    assert hub.HubError is HubError

"""Publishing and loading through the real huggingface_hub client, against the stand-in Hub on 127.0.0.1.

The client reads HF_ENDPOINT and HF_TOKEN when it is imported, which this process has done already (Keras and
Gradio import it), so every Hub client here runs in a subprocess with the stand-in's environment.
"""

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, TINY_TRAIN_FLAGS, running_app
from gradio_client import Client
from hub_server import ALICE_TOKEN, BOB_TOKEN
from hub_server import fake_hub as fake_hub  # the fixture; "as" marks it used

import gan_core
from gan_core import hub, timeline

SEEDS = [0, 1, 2, 3]


def run(env, *args, timeout=240):
    env = {**env, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def images_via_hub(env, source, tmp_path):
    """Images for SEEDS from `source`, loaded by gan_core.hub in a fresh process."""
    out = tmp_path / f"images-{hashlib.sha1(source.encode()).hexdigest()[:8]}.npy"
    script = f"import numpy as np, gan_core.hub as hub; np.save({str(out)!r}, hub.load({source!r}).generate({SEEDS}))"
    result = run(env, "-c", script)
    assert result.returncode == 0, result.stderr
    return np.load(out)


def folder_digest(folder):
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*")) if path.is_file()
    }


@pytest.fixture(scope="module")
def first_model(tiny_model_dir):
    return tiny_model_dir


@pytest.fixture(scope="module")
def second_model(tiny_conditional_model_dir):
    return tiny_conditional_model_dir


def train_args(idx_dir, run_dir):
    """A one-epoch train.py run on the tiny data set."""
    return ["train.py", "--data-dir", idx_dir, "--out", run_dir, "--epochs", "1", "--steps-per-epoch", "2",
            *TINY_TRAIN_FLAGS]  # fmt: skip


def test_push_then_pull_in_a_fresh_cache_gives_identical_images(fake_hub, first_model, tmp_path):
    before = folder_digest(first_model)
    pushed = run(fake_hub.client_env(tmp_path / "home-a"), "-m", "gan_core.hub", "push", first_model, "alice/tiny-gan")
    assert pushed.returncode == 0, pushed.stderr
    assert f"Pushed {first_model} to {fake_hub.endpoint}/alice/tiny-gan" in pushed.stdout
    assert folder_digest(first_model) == before  # the card went into a staging copy, not the local folder

    files = fake_hub.files("alice/tiny-gan")
    assert {"config.json", "metadata.json", "model.weights.h5", "gan.json", "samples.png", "gan.keras"} <= set(files)
    card = files["README.md"].decode()
    for text in ("library_name: keras", "pipeline_tag: unconditional-image-generation", "- gan", "- dcgan",
                 "![64 samples from fixed seeds](samples.png)", "## Training", 'load("hf://alice/tiny-gan")',
                 'keras.saving.load_model("hf://alice/tiny-gan")', "No quality metrics"):  # fmt: skip
        assert text in card

    expected = gan_core.load(first_model).generate(SEEDS)
    pulled = images_via_hub(fake_hub.client_env(tmp_path / "home-b"), "hf://alice/tiny-gan", tmp_path)
    np.testing.assert_array_equal(pulled, expected)

    target = tmp_path / "pulled"
    result = run(fake_hub.client_env(tmp_path / "home-c"), "-m", "gan_core.hub", "pull", "alice/tiny-gan", target)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(gan_core.load(target).generate(SEEDS), expected)


def test_plain_keras_loads_what_was_pushed(fake_hub, first_model, tmp_path):
    assert (
        run(fake_hub.client_env(tmp_path / "a"), "-m", "gan_core.hub", "push", first_model, "alice/k").returncode == 0
    )
    out = tmp_path / "keras.npy"
    script = (
        "import sys, keras, numpy as np\n"
        "model = keras.saving.load_model('hf://alice/k')\n"
        "assert 'gan_core' not in sys.modules\n"
        f"z = np.stack([np.random.default_rng(s).standard_normal(16).astype('float32') for s in {SEEDS}])\n"
        f"np.save({str(out)!r}, model.predict(z, verbose=0))\n"
    )
    result = run(fake_hub.client_env(tmp_path / "b"), "-c", script)
    assert result.returncode == 0, result.stderr
    from gan_core.samples import to_uint8

    np.testing.assert_array_equal(to_uint8(np.load(out)), gan_core.load(first_model).generate(SEEDS))


def test_a_second_push_is_a_new_revision_and_the_first_still_loads(fake_hub, first_model, second_model, tmp_path):
    env = fake_hub.client_env(tmp_path / "home")
    assert run(env, "-m", "gan_core.hub", "push", first_model, "alice/gan").returncode == 0
    first_commit = fake_hub.head("alice/gan")
    assert run(env, "-m", "gan_core.hub", "push", second_model, "alice/gan").returncode == 0
    assert fake_hub.head("alice/gan") != first_commit
    assert json.loads(fake_hub.files("alice/gan")["gan.json"])["num_classes"] == 3

    fresh = fake_hub.client_env(tmp_path / "fresh")
    old = images_via_hub(fresh, f"hf://alice/gan@{first_commit}", tmp_path)
    np.testing.assert_array_equal(old, gan_core.load(first_model).generate(SEEDS))
    script = "import gan_core.hub as hub; print(hub.load('hf://alice/gan').num_classes)"
    assert run(fresh, "-c", script).stdout.strip() == "3"


def test_push_to_a_branch(fake_hub, first_model, tmp_path):
    env = fake_hub.client_env(tmp_path / "home")
    result = run(env, "-m", "gan_core.hub", "push", first_model, "alice/gan", "--revision", "experiments")
    assert result.returncode == 0, result.stderr
    assert "gan.json" in fake_hub.files("alice/gan", "experiments")
    assert "gan.json" not in fake_hub.files("alice/gan", "main")
    pulled = images_via_hub(fake_hub.client_env(tmp_path / "fresh"), "hf://alice/gan@experiments", tmp_path)
    np.testing.assert_array_equal(pulled, gan_core.load(first_model).generate(SEEDS))


def test_offline_mode_loads_from_cache_and_fails_clearly_otherwise(fake_hub, first_model, tmp_path):
    home = tmp_path / "home"
    assert run(fake_hub.client_env(home), "-m", "gan_core.hub", "push", first_model, "alice/gan").returncode == 0
    images_via_hub(fake_hub.client_env(home), "hf://alice/gan", tmp_path)  # fills the cache
    requests_before = len(fake_hub.requests)
    offline = fake_hub.client_env(home, offline=True)
    np.testing.assert_array_equal(
        images_via_hub(offline, "hf://alice/gan", tmp_path), gan_core.load(first_model).generate(SEEDS)
    )
    assert len(fake_hub.requests) == requests_before  # not a single request
    result = run(offline, "-m", "gan_core.hub", "pull", "alice/never-downloaded")
    assert result.returncode == 1
    assert "HF_HUB_OFFLINE is set, and the model is not in the local cache" in result.stderr


@pytest.mark.parametrize(
    ("token", "repo_id", "message"),
    [
        ("hf_wrong_token_value", "alice/gan", "the Hub rejected the token (401)"),
        (BOB_TOKEN, "alice/gan", "the token may not write here (403 Forbidden)"),
        (None, "alice/gan", "No Hugging Face token: set HF_TOKEN or run `hf auth login`"),
        (ALICE_TOKEN, "not a/valid id", "is not a valid Hub model id"),
        (ALICE_TOKEN, "just-a-name", "is not a valid Hub model id: expected owner/name"),
    ],
)
def test_failed_pushes_are_explained_and_lose_nothing(fake_hub, first_model, tmp_path, token, repo_id, message):
    before = folder_digest(first_model)
    result = run(fake_hub.client_env(tmp_path / "home", token), "-m", "gan_core.hub", "push", first_model, repo_id)
    assert result.returncode == 1
    assert message in result.stderr
    assert f"Retry with: python -m gan_core.hub push {first_model} {repo_id}" in result.stderr
    assert folder_digest(first_model) == before
    for secret in ("hf_wrong_token_value", BOB_TOKEN, ALICE_TOKEN):
        assert secret not in result.stdout + result.stderr


def test_a_server_error_mid_upload_is_explained_and_loses_nothing(fake_hub, first_model, tmp_path):
    env = fake_hub.client_env(tmp_path / "home")
    fake_hub.fail_next("commit", status=500)
    result = run(env, "-m", "gan_core.hub", "push", first_model, "alice/gan")
    assert result.returncode == 1
    assert "Push to alice/gan failed: the Hub answered HTTP 500 (a server error)" in result.stderr
    assert "gan.json" not in fake_hub.files("alice/gan")  # nothing half-published
    assert ALICE_TOKEN not in result.stderr
    assert run(env, "-m", "gan_core.hub", "push", first_model, "alice/gan").returncode == 0  # the retry works


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("hf://alice/missing", "the repository does not exist"),
        ("hf://alice/gan@no-such-branch", "no such branch, tag or commit"),
        ("hf://alice/bad id!", "is not a valid Hub model id"),
        ("hf://alice/gan@", "empty revision"),
    ],
)
def test_loading_a_bad_source_is_explained(fake_hub, first_model, tmp_path, source, message):
    env = fake_hub.client_env(tmp_path / "home")
    assert run(env, "-m", "gan_core.hub", "push", first_model, "alice/gan").returncode == 0
    result = run(env, "-c", f"import gan_core.hub as hub; hub.load({source!r})")
    assert result.returncode == 1 and "HubError: " in result.stderr and message in result.stderr


def test_train_py_checks_the_hub_before_training(fake_hub, idx_dir, tmp_path):
    args = train_args(idx_dir, tmp_path / "run")
    no_token = run(fake_hub.client_env(tmp_path / "h", None), *args, "--push-to-hub", "alice/gan")
    assert no_token.returncode == 2 and "No Hugging Face token" in no_token.stderr
    bad_id = run(fake_hub.client_env(tmp_path / "h"), *args, "--push-to-hub", "alice/bad id")
    assert bad_id.returncode == 2 and "is not a valid Hub model id" in bad_id.stderr
    bad_token = run(fake_hub.client_env(tmp_path / "h", "hf_wrong_token_value"), *args, "--push-to-hub", "alice/gan")
    assert bad_token.returncode == 2 and "rejected the token (401)" in bad_token.stderr
    assert "hf_wrong_token_value" not in bad_token.stdout + bad_token.stderr
    assert not (tmp_path / "run").exists()

    fake_hub.fail_next("commit", status=503)
    failed = run(fake_hub.client_env(tmp_path / "h"), *args, "--push-to-hub", "alice/gan", "--hub-private")
    assert failed.returncode == 1 and "the Hub answered HTTP 503" in failed.stderr
    retry = f"python -m gan_core.hub push {tmp_path / 'run' / 'model'} alice/gan --private"
    assert f"The model is saved in {tmp_path / 'run' / 'model'}. Retry with: {retry}" in failed.stderr
    assert gan_core.load(tmp_path / "run").metadata["epochs"] == 1  # the run is complete

    again = run(fake_hub.client_env(tmp_path / "h"), *retry.split()[1:])
    assert again.returncode == 0, again.stderr
    assert json.loads(fake_hub.files("alice/gan")["gan.json"])["epochs"] == 1


def test_train_py_pushes_when_done(fake_hub, idx_dir, tmp_path):
    args = train_args(idx_dir, tmp_path / "run")
    result = run(fake_hub.client_env(tmp_path / "h"), *args, "--push-to-hub", "alice/trained", "--hub-revision", "v1")
    assert result.returncode == 0, result.stderr
    assert f"Published to {fake_hub.endpoint}/alice/trained" in result.stdout
    files = fake_hub.files("alice/trained", "v1")
    assert {"model.weights.h5", "history.csv", "timeline/epoch_001.png", "timeline/curves.svg"} <= set(files)
    assert files["history.csv"] == (tmp_path / "run" / "history.csv").read_bytes()
    assert sum(len(data) for name, data in files.items() if name.startswith("timeline/")) <= timeline.HUB_BUDGET
    assert "![Losses, D's outputs and FD per epoch](timeline/curves.svg)" in files["README.md"].decode()
    # what the app's Training tool reads from a Hub model: the history and the grids, downloaded with the model
    script = ("import gan_core.hub as hub, gan_core.timeline as t; found = t.read(hub.load('hf://alice/trained@v1').path);"
              " print(found.epochs, sorted(found.grids))")  # fmt: skip
    loaded = run(fake_hub.client_env(tmp_path / "h2"), "-c", script)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "[1] [1]", loaded.stderr


def test_the_app_serves_a_hub_model_and_falls_back_from_a_broken_one(fake_hub, first_model, tmp_path):
    env = fake_hub.client_env(tmp_path / "home")
    assert run(env, "-m", "gan_core.hub", "push", first_model, "alice/gan").returncode == 0
    with running_app("hf://alice/gan", env=fake_hub.client_env(tmp_path / "app-home")) as url:
        info = Client(url, verbose=False).predict(api_name="/model_info")
    assert info["source"] == "hf://alice/gan" and info["warning"] is None
    assert info["hub_url"] == f"{fake_hub.endpoint}/alice/gan"
    assert info["model_id"] == gan_core.load(first_model).model_id

    with running_app("hf://alice/missing", env=fake_hub.client_env(tmp_path / "app-home")) as url:
        info = Client(url, verbose=False).predict(api_name="/model_info")
    assert info["source"].startswith("bundled") and "the repository does not exist" in info["warning"]


def test_a_generator_only_folder_is_published_with_a_card_that_says_so(fake_hub, first_model, tmp_path):
    folder = shutil.copytree(first_model, tmp_path / "generator-only", ignore=shutil.ignore_patterns("gan.keras"))
    pushed = run(fake_hub.client_env(tmp_path / "home"), "-m", "gan_core.hub", "push", folder, "alice/sampler")
    assert pushed.returncode == 0, pushed.stderr
    card = fake_hub.files("alice/sampler")["README.md"].decode()
    assert "holds the generator only (no `gan.keras`)" in card and "to continue training" not in card


def test_the_card_shows_each_class_with_its_scores_and_the_worst_and_mean():
    per_class = {
        "classes": [{"fd": 10.0 + index, "precision": 0.8, "recall": [0.7, 0.6, 0.5][index]} for index in range(3)],
        "worst": {"fd": 12.0, "precision": 0.8, "recall": 0.5},
        "mean": {"fd": 11.0, "precision": 0.8, "recall": 0.6},
    }
    metadata = {"latent_dim": 8, "image_shape": [28, 28, 1], "num_classes": 3, "class_names": ["Shirt", "Bag", "Boot"],
                "quality": {"fd": 7.5, "n": 10000, "per_class": per_class}}  # fmt: skip
    card = str(hub.model_card(metadata, "alice/gan"))
    assert "| fd | 7.5 |" in card and "| n | 10000 |" in card and "per_class" not in card
    rows = card[card.index("### Per class") :].splitlines()
    assert [row for row in rows if row.startswith("| ") and "---" not in row][1:] == [
        "| Shirt | 10.0 | 0.8 | 0.7 |",
        "| Bag | 11.0 | 0.8 | 0.6 |",
        "| Boot | 12.0 | 0.8 | 0.5 |",
        "| **worst** | 12.0 | 0.8 | 0.5 |",
        "| **mean** | 11.0 | 0.8 | 0.6 |",
    ]
    assert "### Per class" not in str(hub.model_card({**metadata, "quality": {"fd": 7.5}}, "alice/gan"))

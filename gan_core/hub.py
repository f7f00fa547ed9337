"""Publish saved models to the Hugging Face Hub and load them back.

    python -m gan_core.hub push RUN_OR_MODEL_DIR owner/name [--private] [--revision BRANCH]
    python -m gan_core.hub pull owner/name[@revision] [DIR]

A model source is a local saved-model (or run) folder, `hf://owner/name` or
`hf://owner/name@revision` (a branch, tag or commit). Downloads go to the
normal Hugging Face cache, so with `HF_HUB_OFFLINE=1` a cached model loads
without network. The token comes from `HF_TOKEN` or `hf auth login`; it is
never printed.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from huggingface_hub import CommitInfo, HfApi, ModelCard, ModelCardData, constants, get_token, snapshot_download
from huggingface_hub import errors as hub_errors
from huggingface_hub.utils import validate_repo_id

from gan_core import saved_model, timeline
from gan_core.errors import GanCoreError, HubError

HF_PREFIX = "hf://"
HUB_DATASETS = {"fashion-mnist": "zalando-datasets/fashion_mnist", "mnist": "ylecun/mnist"}


def parse_source(source: str) -> tuple[str, str | None]:
    """`hf://owner/name[@revision]` (the prefix is optional) → (repo id, revision or None)."""
    repo_id, separator, revision = source.removeprefix(HF_PREFIX).partition("@")
    check_repo_id(repo_id)
    if separator and not revision:
        raise HubError(f"{source!r} has an empty revision after '@'.", value=source)
    return repo_id, revision or None


def check_repo_id(repo_id: str) -> None:
    try:
        validate_repo_id(repo_id)
    except hub_errors.HFValidationError as error:
        raise HubError(
            f"{repo_id!r} is not a valid Hub model id (expected owner/name): {error}", value=repo_id
        ) from None
    if repo_id.count("/") != 1:
        raise HubError(f"{repo_id!r} is not a valid Hub model id: expected owner/name.", value=repo_id)


def repo_url(repo_id: str) -> str:
    return f"{constants.ENDPOINT}/{repo_id}"


def _explain(error: Exception, what: str, repo_id: str) -> HubError:
    """A HubError about `repo_id` (its `value`) that names the cause of a failed Hub call in words, never with the
    token. A HubError passes through as it is, the same object (given `repo_id` as its value if it has none)."""
    if isinstance(error, HubError):
        if error.value is None:
            error.value = repo_id
        return error
    if isinstance(error, hub_errors.RepositoryNotFoundError):
        return HubError(
            f"{what}: the repository does not exist, or the token may not see it (it may be private).", value=repo_id
        )
    if isinstance(error, hub_errors.RevisionNotFoundError):
        return HubError(f"{what}: no such branch, tag or commit in the repository.", value=repo_id)
    if isinstance(error, (hub_errors.LocalEntryNotFoundError, hub_errors.OfflineModeIsEnabled)):
        offline = " HF_HUB_OFFLINE is set, and" if constants.HF_HUB_OFFLINE else ""
        return HubError(
            f"{what}:{offline} the model is not in the local cache and the Hub cannot be reached.", value=repo_id
        )
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status == 401:
        return HubError(
            f"{what}: the Hub rejected the token (401). Set a valid HF_TOKEN or run `hf auth login`.", value=repo_id
        )
    if status == 403:
        return HubError(f"{what}: the token may not write here (403 Forbidden).", value=repo_id)
    if status is not None:
        return HubError(
            f"{what}: the Hub answered HTTP {status}{' (a server error)' if status >= 500 else ''}.", value=repo_id
        )
    return HubError(f"{what}: {type(error).__name__}: {error}", value=repo_id)


def load(source: str | os.PathLike) -> saved_model.SavedGenerator:
    """The generator of a local folder, or of a Hub repo (`hf://owner/name[@revision]`), with its metadata."""
    if not str(source).startswith(HF_PREFIX):
        return saved_model.load(source)
    repo_id, revision = parse_source(str(source))
    try:
        folder = snapshot_download(repo_id, revision=revision)
    except Exception as error:
        raise _explain(error, f"Could not download {source}", repo_id) from error
    return saved_model.load(folder)


def require_token(repo_id: str | None = None) -> None:
    """Stop unless a token is configured (HF_TOKEN or `hf auth login`); `repo_id`, the repository it is needed for,
    is the error's `value`."""
    if not get_token():
        raise HubError(
            "No Hugging Face token: set HF_TOKEN or run `hf auth login` (a write token is needed to push).",
            value=repo_id,
        )


def check_can_push(repo_id: str) -> None:
    """Everything that can be checked before a long training run: the id, the token, and that the Hub accepts it."""
    check_repo_id(repo_id)
    require_token(repo_id)
    try:
        HfApi().whoami()
    except Exception as error:
        raise _explain(error, f"Cannot push to {repo_id}", repo_id) from error


def model_card(metadata: dict, repo_id: str, with_gan_keras: bool = True, with_timeline: bool = False) -> ModelCard:
    """A model card: Hub metadata, the sample grid, how it was trained (with its curves when the timeline is
    uploaded too), how well, and how to use it."""
    dataset = metadata.get("dataset", "unknown")
    card_data = ModelCardData(
        library_name="keras",
        pipeline_tag="unconditional-image-generation",
        license="apache-2.0",
        tags=["gan", "dcgan", "keras", "gan_core", dataset],
        datasets=[HUB_DATASETS[dataset]] if dataset in HUB_DATASETS else None,
    )
    height, width, channels = metadata["image_shape"]
    recipe = metadata.get("recipe", {})
    training = metadata.get("training", {})
    num_classes = metadata.get("num_classes")
    quality = metadata.get("quality") or {}
    per_class = [_per_class_table(quality["per_class"], metadata.get("class_names"))] if "per_class" in quality else []
    labels = "\nlabels = np.zeros(16, dtype='int32')  # class indices" if num_classes else ""
    inputs = "[z, labels]" if num_classes else "z"
    generate_labels = ", labels=[0, 1, 2]" if num_classes else ""
    sections = [
        f"# {repo_id}",
        f"A DCGAN generator trained on **{dataset}** with gan_core, a Keras 3 GAN library: "
        f"{height}×{width} {'grey' if channels == 1 else 'RGB'} images from a {metadata['latent_dim']}-dimensional "
        f"latent vector z ~ N(0, I)"
        + (
            f", conditioned on one of {num_classes} classes ({', '.join(metadata.get('class_names') or [])})."
            if num_classes
            else "."
        ),
        "![64 samples from fixed seeds](samples.png)",
        "## Training\n\n| setting | value |\n|---|---|\n"
        + "\n".join(f"| {key} | {value} |" for key, value in {**recipe, "seed": metadata.get("seed")}.items()),
        f"Trained for {training.get('epochs', '?')} epochs ({training.get('steps', '?')} steps, "
        f"{training.get('images_seen', '?')} images) in {training.get('train_seconds', '?')} s. "
        f"Final epoch means: `{json.dumps(training.get('final', {}))}`.",
        *(
            [
                f"![Losses, D's outputs and FD per epoch]({timeline.TIMELINE_DIR}/{timeline.CURVES_SVG})\n\n"
                f"`{timeline.HISTORY_CSV}` has the numbers of every epoch and `{timeline.TIMELINE_DIR}/` the sample "
                "grid after each: the explorer's Training tool plays them back."
            ]
            if with_timeline
            else []
        ),
        "## Quality\n\n"
        + (
            "| metric | value |\n|---|---|\n"
            + "\n".join(f"| {key} | {value} |" for key, value in quality.items() if not isinstance(value, dict | list))
            if quality
            else "No quality metrics were computed for this model."
        ),
        *per_class,
        "## Use it\n\nWith gan_core (`pip install -r requirements.txt` in its repository):\n\n"
        f'```python\nfrom gan_core.hub import load\n\ngenerator = load("hf://{repo_id}")\n'
        f"images = generator.generate([0, 1, 2]{generate_labels})"
        f"  # uint8, shape (3, {height}, {width}, {channels})\n```",
        "With plain Keras (the generator uses Keras' own layers only):\n\n"
        f'```python\nimport keras\nimport numpy as np\n\ngenerator = keras.saving.load_model("hf://{repo_id}")\n'
        f'z = np.random.default_rng(0).standard_normal((16, {metadata["latent_dim"]})).astype("float32"){labels}\n'
        f"images = (generator.predict({inputs}) + 1) * 127.5  # [-1, 1] → [0, 255]\n```",
        "`gan.keras` holds the whole GAN (both networks and optimizer state) to continue training with gan_core."
        if with_gan_keras
        else "This repository holds the generator only (no `gan.keras`): it samples, but cannot be trained further.",
    ]
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")


def _per_class_table(per_class: dict, class_names: list[str] | None) -> str:
    """FD, precision and recall of each class's samples against that class's test images, then the worst and mean."""
    names = class_names or [str(index) for index in range(len(per_class["classes"]))]
    rows = [(name, row) for name, row in zip(names, per_class["classes"], strict=True)]
    rows += [("**worst**", per_class["worst"]), ("**mean**", per_class["mean"])]
    return "### Per class\n\nEach class's samples against the test images of that class.\n\n" + (
        "| class | FD | precision | recall |\n|---|---:|---:|---:|\n"
        + "\n".join(f"| {name} | {row['fd']} | {row['precision']} | {row['recall']} |" for name, row in rows)
    )


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def push(
    model_dir: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
) -> CommitInfo:
    """Upload a saved-model (or run) folder and a generated model card to `repo_id` in one commit.

    The local folder is only read: the card is written into a staging copy.
    """
    folder = saved_model.model_folder(model_dir)
    metadata = saved_model.load(folder).metadata  # refuse to publish a folder that does not load
    check_repo_id(repo_id)
    require_token(repo_id)
    api = HfApi()
    with tempfile.TemporaryDirectory(prefix="gan-push-") as staging:
        upload = Path(staging) / "model"
        shutil.copytree(folder, upload, copy_function=_link_or_copy)
        run_folder = folder.parent
        if not (upload / timeline.HISTORY_CSV).exists() and (run_folder / timeline.HISTORY_CSV).exists():
            timeline.compact(run_folder, upload, budget=timeline.HUB_BUDGET)  # a run's model/ or best/
        with_timeline = (upload / timeline.TIMELINE_DIR / timeline.CURVES_SVG).exists()
        card = model_card(metadata, repo_id, (folder / saved_model.GAN_KERAS).exists(), with_timeline)
        card.save(upload / "README.md")
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            if revision:
                api.create_branch(repo_id, branch=revision, exist_ok=True)
            return api.upload_folder(
                repo_id=repo_id,
                folder_path=upload,
                revision=revision,
                commit_message=commit_message
                or f"Upload {metadata.get('dataset', 'GAN')} generator ({metadata.get('epochs', '?')} epochs)",
            )
        except Exception as error:
            raise _explain(error, f"Push to {repo_id} failed", repo_id) from error


def push_command(model_dir, repo_id: str, private: bool = False, revision: str | None = None) -> str:
    """The shell command that retries a push."""
    flags = (" --private" if private else "") + (f" --revision {revision}" if revision else "")
    return f"python -m gan_core.hub push {model_dir} {repo_id}{flags}"


def pull(source: str, local_dir: str | os.PathLike | None = None) -> Path:
    """Download `owner/name[@revision]` into `local_dir` (or the cache); return the folder."""
    repo_id, revision = parse_source(source)
    try:
        return Path(snapshot_download(repo_id, revision=revision, local_dir=local_dir))
    except Exception as error:
        raise _explain(error, f"Could not download {source}", repo_id) from error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_core.hub", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    push_parser = commands.add_parser("push", help="publish a saved-model or run folder")
    push_parser.add_argument("model_dir", type=Path, help="saved-model folder, or a train.py run folder")
    push_parser.add_argument("repo_id", help="owner/name on the Hub")
    push_parser.add_argument("--private", action="store_true", help="create the repository as private")
    push_parser.add_argument("--revision", help="branch to push to (created if missing; default: main)")
    push_parser.add_argument("--message", help="commit message")
    pull_parser = commands.add_parser("pull", help="download a model from the Hub")
    pull_parser.add_argument("source", help="owner/name or owner/name@revision (hf:// optional)")
    pull_parser.add_argument("local_dir", nargs="?", type=Path, help="folder to download into (default: the cache)")
    args = parser.parse_args(argv)
    try:
        if args.command == "push":
            commit = push(args.model_dir, args.repo_id, private=args.private, revision=args.revision,
                          commit_message=args.message)  # fmt: skip
            print(f"Pushed {args.model_dir} to {repo_url(args.repo_id)} (commit {commit.oid})")
        else:
            print(pull(args.source, args.local_dir))
    except GanCoreError as error:
        print(f"gan_core.hub: error: {error}", file=sys.stderr)
        if args.command == "push":
            print(f"Retry with: {push_command(args.model_dir, args.repo_id, args.private, args.revision)}",
                  file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The fake Hub against the real huggingface_hub client and Keras' hf:// loader.

The client reads HF_ENDPOINT and HF_TOKEN when it is imported, and this process has imported it already (through
Keras), so each client runs in a subprocess; it prints one JSON line for the test to check.
"""

import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from hub_server import ALICE_TOKEN, BOB_TOKEN, GITATTRIBUTES, FakeHub
from hub_server import fake_hub as fake_hub  # the fixture; "as" marks it used, so test arguments do not trip F811

PRELUDE = '''
import json
import sys
from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download, snapshot_download

api = HfApi()


def error_of(call, *args, **kwargs):
    """What `call` raised: its class, the HTTP status behind it and its message."""
    try:
        call(*args, **kwargs)
    except Exception as error:
        response = getattr(error, "response", None)
        if response is None:
            response = getattr(error.__cause__, "response", None)
        return {"type": type(error).__name__, "status": getattr(response, "status_code", None), "message": str(error)}
    raise AssertionError(f"{call} did not raise")
'''


def run_script(
    hub: FakeHub, home: Path, script: str, *args: object, token: str | None = ALICE_TOKEN, offline: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {**hub.client_env(home, token, offline=offline), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-c", PRELUDE + textwrap.dedent(script), *map(str, args)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def run_client(hub: FakeHub, home: Path, script: str, *args: object, **options: Any) -> Any:
    return json.loads(run_script(hub, home, script, *args, **options).stdout.splitlines()[-1])


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def read_folder(folder: str | Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes() for path in Path(folder).rglob("*") if path.is_file()
    }


def kind(error: dict[str, Any]) -> tuple[str, int | None]:
    return error["type"], error["status"]


V1 = {"notes.txt": b"first version\n", "weights.h5": bytes(range(256)) * 8, "sub/deep.txt": b"deep\n"}
V2 = {"notes.txt": b"second version\n", "weights.h5": bytes(range(255, -1, -1)) * 8, "sub/deep.txt": b"deep\n"}


def test_upload_then_download_gives_identical_bytes(fake_hub, tmp_path):
    pushed = run_client(
        fake_hub,
        tmp_path / "publisher",
        """
        url = api.create_repo("alice/demo", exist_ok=True, private=False)
        again = api.create_repo("alice/demo", exist_ok=True)
        oid = api.upload_folder(repo_id="alice/demo", folder_path=sys.argv[1]).oid
        print(json.dumps({"urls": [url, again], "oid": oid}))
        """,
        write_folder(tmp_path / "v1", V1),
    )
    pulled = run_client(
        fake_hub,
        tmp_path / "user",
        """
        siblings = api.model_info("alice/demo", files_metadata=True).siblings
        lfs = [sibling.rfilename for sibling in siblings if sibling.lfs]
        print(json.dumps({"snapshot": snapshot_download("alice/demo"), "lfs": lfs}))
        """,
    )
    assert pushed["urls"] == [f"{fake_hub.endpoint}/alice/demo"] * 2
    assert read_folder(pulled["snapshot"]) == {".gitattributes": GITATTRIBUTES, **V1}
    assert Path(pulled["snapshot"]).name == pushed["oid"] == fake_hub.head("alice/demo")
    assert Path(pulled["snapshot"]).is_relative_to(tmp_path / "user")
    assert pulled["lfs"] == ["weights.h5"]
    actions = [action for action, _, _ in fake_hub.requests]
    assert actions.count("lfs_upload") == actions.count("lfs_download") == 1


def test_second_push_keeps_the_first_commit_resolvable(fake_hub, tmp_path):
    result = run_client(
        fake_hub,
        tmp_path / "home",
        """
        api.create_repo("alice/demo")
        first = api.upload_folder(repo_id="alice/demo", folder_path=sys.argv[1]).oid
        second = api.upload_folder(repo_id="alice/demo", folder_path=sys.argv[2]).oid
        unchanged = api.upload_folder(repo_id="alice/demo", folder_path=sys.argv[2]).oid
        api.create_tag("alice/demo", tag="v1", revision=first)
        print(json.dumps({
            "oids": [first, second, unchanged],
            "history": [commit.commit_id for commit in api.list_repo_commits("alice/demo")],
            "info": [api.model_info("alice/demo", revision=rev).sha for rev in (first, "v1", "main")],
            "by_sha": snapshot_download("alice/demo", revision=first),
            "by_tag": snapshot_download("alice/demo", revision="v1"),
            "main": snapshot_download("alice/demo"),
            "old_file": Path(hf_hub_download("alice/demo", "notes.txt", revision=first)).read_text(),
        }))
        """,
        write_folder(tmp_path / "v1", V1),
        write_folder(tmp_path / "v2", V2),
    )
    first, second, unchanged = result["oids"]
    assert first != second == unchanged  # nothing changed in the third push, so no commit was made
    assert result["history"][:2] == [second, first] and len(result["history"]) == 3
    assert result["info"] == [first, first, second]
    assert read_folder(result["by_sha"]) == read_folder(result["by_tag"]) == {".gitattributes": GITATTRIBUTES, **V1}
    assert read_folder(result["main"]) == {".gitattributes": GITATTRIBUTES, **V2}
    assert result["old_file"] == V1["notes.txt"].decode()


def test_upload_to_a_branch(fake_hub, tmp_path):
    result = run_client(
        fake_hub,
        tmp_path / "home",
        """
        api.create_repo("alice/demo")
        main = api.upload_folder(repo_id="alice/demo", folder_path=sys.argv[1]).oid
        missing = error_of(api.upload_folder, repo_id="alice/demo", folder_path=sys.argv[2], revision="exp/dev")
        api.create_branch("alice/demo", branch="exp/dev")
        api.create_branch("alice/demo", branch="exp/dev", exist_ok=True)
        dev = api.upload_folder(repo_id="alice/demo", folder_path=sys.argv[2], revision="exp/dev").oid
        print(json.dumps({
            "main": main,
            "dev": dev,
            "missing": missing,
            "branches": sorted(ref.name for ref in api.list_repo_refs("alice/demo").branches),
            "dev_history": [commit.commit_id for commit in api.list_repo_commits("alice/demo", revision="exp/dev")],
            "dev_snapshot": snapshot_download("alice/demo", revision="exp/dev"),
            "main_snapshot": snapshot_download("alice/demo"),
        }))
        """,
        write_folder(tmp_path / "v1", V1),
        write_folder(tmp_path / "v2", V2),
    )
    assert kind(result["missing"]) == ("RevisionNotFoundError", 404)
    assert result["branches"] == ["exp/dev", "main"]
    assert result["dev_history"][:2] == [result["dev"], result["main"]]
    assert fake_hub.head("alice/demo", "exp/dev") == result["dev"] and fake_hub.head("alice/demo") == result["main"]
    assert read_folder(result["dev_snapshot"]) == {".gitattributes": GITATTRIBUTES, **V2}
    assert read_folder(result["main_snapshot"]) == {".gitattributes": GITATTRIBUTES, **V1}


def test_tree_listing_is_paged(fake_hub, tmp_path):
    files = {f"file_{i}.txt": f"{i}\n".encode() for i in range(8)}
    files |= {f"nested/deeper/leaf_{i}.txt": f"leaf {i}\n".encode() for i in range(4)}
    result = run_client(
        fake_hub,
        tmp_path / "home",
        """
        api.create_repo("alice/many")
        api.upload_folder(repo_id="alice/many", folder_path=sys.argv[1])
        print(json.dumps({
            "recursive": [[e.path, type(e).__name__] for e in api.list_repo_tree("alice/many", recursive=True)],
            "top": [entry.path for entry in api.list_repo_tree("alice/many")],
            "deeper": [entry.path for entry in api.list_repo_tree("alice/many", path_in_repo="nested/deeper")],
            "missing": error_of(lambda: list(api.list_repo_tree("alice/many", path_in_repo="nowhere"))),
            "snapshot": snapshot_download("alice/many"),
        }))
        """,
        write_folder(tmp_path / "many", files),
    )
    folders = [[name, "RepoFolder"] for name in ("nested", "nested/deeper")]
    listed = sorted([[name, "RepoFile"] for name in [".gitattributes", *files]] + folders)
    assert sorted(result["recursive"]) == listed  # 15 entries: 3 pages of 5
    assert sorted(result["top"]) == sorted([".gitattributes", "nested", *(name for name in files if "/" not in name)])
    assert result["deeper"] == [f"nested/deeper/leaf_{i}.txt" for i in range(4)]
    assert kind(result["missing"]) == ("RemoteEntryNotFoundError", 404)
    assert read_folder(result["snapshot"]) == {".gitattributes": GITATTRIBUTES, **files}
    next_pages = [path for action, _, path in fake_hub.requests if action == "tree" and "cursor=" in path]
    assert len(next_pages) == 2 + 1 + 2  # recursive listing, top level, snapshot_download's own recursive listing


def test_bad_token_is_refused_and_never_printed(fake_hub, tmp_path):
    secret = "hf_not_a_real_token_5f3c9a"
    result = run_script(
        fake_hub,
        tmp_path / "home",
        """
        import traceback
        from huggingface_hub.errors import HfHubHTTPError

        for call in (
            lambda: api.create_repo("alice/demo", exist_ok=True),
            lambda: api.upload_folder(repo_id="alice/demo", folder_path=sys.argv[1]),
            lambda: snapshot_download("alice/demo"),
            api.whoami,
        ):
            try:
                call()
            except HfHubHTTPError as error:
                traceback.print_exc()
                print(type(error).__name__, error.response.status_code)
        """,
        write_folder(tmp_path / "v1", V1),
        token=secret,
    )
    assert result.stdout.splitlines() == ["HfHubHTTPError 401"] * 4
    assert secret not in result.stdout + result.stderr


def test_permissions(fake_hub, tmp_path):
    result = run_client(
        fake_hub,
        tmp_path / "home",
        """
        bob, anonymous = HfApi(token=sys.argv[2]), HfApi(token=False)
        api.create_repo("alice/open")
        api.create_repo("alice/secret", private=True)
        for repo_id in ("alice/open", "alice/secret"):
            api.upload_folder(repo_id=repo_id, folder_path=sys.argv[1])
        print(json.dumps({
            "whoami": [api.whoami()["name"], bob.whoami()["name"]],
            "bob_creates_for_alice": error_of(bob.create_repo, "alice/theirs"),
            "bob_pushes_to_alice": error_of(bob.upload_folder, repo_id="alice/open", folder_path=sys.argv[1]),
            "anonymous_pushes": error_of(anonymous.upload_folder, repo_id="alice/open", folder_path=sys.argv[1]),
            "bob_reads_private": error_of(bob.model_info, "alice/secret"),
            "anonymous_reads_private": error_of(snapshot_download, "alice/secret", token=False),
            "anonymous_reads_public": anonymous.model_info("alice/open").sha,
            "alice_reads_private": Path(hf_hub_download("alice/secret", "weights.h5")).read_bytes().hex(),
            "exists": error_of(api.create_repo, "alice/open"),
        }))
        """,
        write_folder(tmp_path / "v1", V1),
        BOB_TOKEN,
    )
    assert result["whoami"] == ["alice", "bob"]
    assert kind(result["bob_creates_for_alice"]) == ("HfHubHTTPError", 403)
    assert kind(result["bob_pushes_to_alice"]) == ("HfHubHTTPError", 403)
    assert kind(result["anonymous_pushes"]) == ("HfHubHTTPError", 401)
    assert kind(result["bob_reads_private"]) == ("RepositoryNotFoundError", 404)
    assert kind(result["anonymous_reads_private"]) == ("RepositoryNotFoundError", 401)
    assert result["anonymous_reads_public"] == fake_hub.head("alice/open")
    assert bytes.fromhex(result["alice_reads_private"]) == V1["weights.h5"]
    assert kind(result["exists"]) == ("HfHubHTTPError", 409)


def test_unknown_repo_revision_and_file(fake_hub, tmp_path):
    result = run_client(
        fake_hub,
        tmp_path / "home",
        """
        api.create_repo("alice/demo")
        api.upload_folder(repo_id="alice/demo", folder_path=sys.argv[1])
        print(json.dumps({
            "repo": error_of(snapshot_download, "alice/missing"),
            "repo_file": error_of(hf_hub_download, "alice/missing", "notes.txt"),
            "repo_info": error_of(api.model_info, "alice/missing"),
            "branch": error_of(snapshot_download, "alice/demo", revision="no-such-branch"),
            "sha": error_of(snapshot_download, "alice/demo", revision="0" * 40),
            "file_revision": error_of(hf_hub_download, "alice/demo", "notes.txt", revision="no-such-branch"),
            "file": error_of(hf_hub_download, "alice/demo", "missing.txt"),
        }))
        """,
        write_folder(tmp_path / "v1", V1),
    )
    for call in ("repo", "repo_file", "repo_info"):
        assert kind(result[call]) == ("RepositoryNotFoundError", 404), call
    for call in ("branch", "sha", "file_revision"):
        assert kind(result[call]) == ("RevisionNotFoundError", 404), call
    assert kind(result["file"]) == ("RemoteEntryNotFoundError", 404)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/api/repos/create", {"name": "bad--name"}, 400, None),
        ("POST", "/api/repos/create", {"name": "ok", "organization": "-alice"}, 400, None),
        ("GET", "/api/models/alice/bad..name", None, 400, None),
        ("GET", "/api/models/alice/missing", None, 404, "RepoNotFound"),
        ("POST", "/api/models/alice/missing/commit/main", None, 404, "RepoNotFound"),
    ],
)
def test_server_checks_repo_ids_itself(fake_hub, method, path, body, status, code):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {ALICE_TOKEN}", "Content-Type": "application/json"}
    request = urllib.request.Request(fake_hub.endpoint + path, data=data, headers=headers, method=method)
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == status
    assert error.value.headers.get("X-Error-Code") == code


def test_offline_mode_uses_the_cache_and_fails_clearly_without_it(fake_hub, tmp_path):
    home = tmp_path / "home"
    online = run_client(
        fake_hub,
        home,
        """
        api.create_repo("alice/demo")
        api.upload_folder(repo_id="alice/demo", folder_path=sys.argv[1])
        print(json.dumps(snapshot_download("alice/demo")))
        """,
        write_folder(tmp_path / "v1", V1),
    )
    requests_before = len(fake_hub.requests)
    offline = run_client(
        fake_hub,
        home,
        """
        print(json.dumps({
            "snapshot": snapshot_download("alice/demo"),
            "file": hf_hub_download("alice/demo", "weights.h5"),
            "uncached": error_of(snapshot_download, "alice/other"),
        }))
        """,
        offline=True,
    )
    assert len(fake_hub.requests) == requests_before
    assert offline["snapshot"] == online
    assert Path(offline["file"]).read_bytes() == V1["weights.h5"]
    assert offline["uncached"]["type"] == "LocalEntryNotFoundError"
    assert "HF_HUB_OFFLINE" in offline["uncached"]["message"]


def test_injected_failures_mid_upload(fake_hub, tmp_path):
    fake_hub.fail_next("lfs_upload", status=500)  # transient: the client retries LFS uploads after a second
    fake_hub.fail_next("commit", status=500)  # the client does not retry commits
    result = run_client(
        fake_hub,
        tmp_path / "home",
        """
        api.create_repo("alice/demo")
        before = api.model_info("alice/demo").sha
        failed = error_of(api.upload_folder, repo_id="alice/demo", folder_path=sys.argv[1])
        after_failure = api.model_info("alice/demo").sha
        oid = api.upload_folder(repo_id="alice/demo", folder_path=sys.argv[1]).oid
        print(json.dumps({"shas": [before, after_failure, oid], "failed": failed}))
        """,
        write_folder(tmp_path / "v1", V1),
    )
    before, after_failure, oid = result["shas"]
    assert kind(result["failed"]) == ("HfHubHTTPError", 500)
    assert after_failure == before != oid == fake_hub.head("alice/demo")
    assert fake_hub.files("alice/demo") == {".gitattributes": GITATTRIBUTES, **V1}
    uploads = [path for action, _, path in fake_hub.requests if action == "lfs_upload"]
    assert len(uploads) == 2  # the failed try and its retry; the second push found the object already stored

    fake_hub.fail_next("lfs_upload", status=403)
    result = run_client(
        fake_hub,
        tmp_path / "home",
        'print(json.dumps(error_of(api.upload_folder, repo_id="alice/demo", folder_path=sys.argv[1])))',
        write_folder(tmp_path / "v2", V2),
    )
    assert kind(result) == ("RuntimeError", 403)
    assert fake_hub.head("alice/demo") == oid


def test_keras_loads_a_model_from_the_hub(fake_hub, tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.save(str(tmp_path / "tiny"), zipped=False)
    inputs = np.arange(8, dtype="float32").reshape(2, 4)
    np.save(tmp_path / "inputs.npy", inputs)
    run_client(
        fake_hub,
        tmp_path / "publisher",
        """
        api.create_repo("alice/tiny")
        print(json.dumps(api.upload_folder(repo_id="alice/tiny", folder_path=sys.argv[1]).oid))
        """,
        tmp_path / "tiny",
    )
    outputs = run_client(
        fake_hub,
        tmp_path / "user",
        """
        import keras
        import numpy as np

        inputs = np.load(sys.argv[1])
        model = keras.saving.load_model("hf://alice/tiny")
        model.save("hf://alice/tiny-copy")  # Keras' own uploader: create_repo, README.md, upload_folder
        copy = keras.saving.load_model("hf://alice/tiny-copy")
        print(json.dumps([model.predict(inputs, verbose=0).tolist(), copy.predict(inputs, verbose=0).tolist()]))
        """,
        tmp_path / "inputs.npy",
    )
    expected = model.predict(inputs, verbose=0)
    for output in outputs:
        np.testing.assert_allclose(output, expected, rtol=1e-6)
    assert {"config.json", "metadata.json", "model.weights.h5", "README.md"} <= set(fake_hub.files("alice/tiny-copy"))

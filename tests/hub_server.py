"""A stand-in Hugging Face Hub for tests, so publishing and loading can be tested without network access.

`FakeHub` speaks the part of the Hub HTTP API that the real `huggingface_hub` client uses to create repos, commit
regular and LFS files, make branches and tags, list trees and commits, and download files — with the Hub's error
headers, so the client raises the same exception classes as against the real Hub. State lives in memory.

huggingface_hub reads its settings (HF_ENDPOINT, HF_TOKEN, HF_HOME, …) when it is imported, and the pytest process has
usually imported it already (Keras and Gradio do), so drive the client in a subprocess with `FakeHub.client_env(...)`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from functools import cached_property, partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest

ALICE_TOKEN = "hf_fake_alice_write_token"
BOB_TOKEN = "hf_fake_bob_write_token"

# Like the Hub's default .gitattributes, these binary types (and any big file) go through LFS.
LFS_SUFFIXES = (".h5", ".keras", ".png")
LFS_MIN_SIZE = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n" for suffix in LFS_SUFFIXES).encode()

_NAME = re.compile(r"\w(?:[\w.-]{0,94}\w)?", re.ASCII)  # one half of a repo id, as the Hub and the client check it
_SEG = r"[^/]+"
_REPO = rf"(?P<ns>{_SEG})/(?P<name>{_SEG})"
_OID = r"(?P<oid>[0-9a-f]{64})"
_ROUTES = [
    (action, method, re.compile(pattern))
    for action, method, pattern in [
        ("whoami", "GET", r"/api/whoami-v2"),
        ("create_repo", "POST", r"/api/repos/create"),
        ("validate_yaml", "POST", r"/api/validate-yaml"),
        ("repo_info", "GET", rf"/api/models/{_REPO}(?:/revision/(?P<rev>{_SEG}))?"),
        ("preupload", "POST", rf"/api/models/{_REPO}/preupload/(?P<rev>{_SEG})"),
        ("commit", "POST", rf"/api/models/{_REPO}/commit/(?P<rev>{_SEG})"),
        ("tree", "GET", rf"/api/models/{_REPO}/tree/(?P<rev>{_SEG})(?:/(?P<path>.+))?"),
        ("commits", "GET", rf"/api/models/{_REPO}/commits/(?P<rev>{_SEG})"),
        ("refs", "GET", rf"/api/models/{_REPO}/refs"),
        ("branch", "POST", rf"/api/models/{_REPO}/branch/(?P<rev>{_SEG})"),
        ("tag", "POST", rf"/api/models/{_REPO}/tag/(?P<rev>{_SEG})"),
        ("lfs_batch", "POST", rf"/{_REPO}\.git/info/lfs/objects/batch"),
        ("lfs_upload", "PUT", rf"/lfs/{_REPO}/{_OID}"),
        ("lfs_download", "GET", rf"/lfs/{_REPO}/{_OID}"),
        ("resolve", "GET", rf"/{_REPO}/resolve/(?P<rev>{_SEG})/(?P<path>.+)"),
    ]
]
ACTIONS = frozenset(action for action, _, _ in _ROUTES)


class HubError(Exception):
    """An error answer. `code` goes to the X-Error-Code header, which the client picks its exception class by."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}

    def response(self) -> Response:
        headers = {**self.headers, "X-Error-Message": self.message.encode("ascii", "replace").decode()}
        if self.code is not None:
            headers["X-Error-Code"] = self.code
        return _json({"error": self.message}, self.status, headers)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # still percent-encoded, so that a quoted "/" in a revision does not split it
    query: dict[str, str]
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredFile:
    """One file of a commit. LFS files keep their content here too; git itself only holds their pointer."""

    data: bytes
    lfs: bool

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.data)}\n".encode()

    @cached_property
    def blob_id(self) -> str:
        """The git blob oid: of the content for a regular file, of the pointer for an LFS file."""
        blob = self.pointer if self.lfs else self.data
        return hashlib.sha1(b"blob %d\0" % len(blob) + blob).hexdigest()

    @property
    def oid(self) -> str:
        """The oid preupload reports; the client skips uploading a file whose local oid is the same."""
        return self.sha256 if self.lfs else self.blob_id


@dataclass(frozen=True)
class Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    author: str
    date: str
    files: dict[str, StoredFile]


@dataclass
class Repo:
    repo_id: str
    owner: str
    private: bool
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    lfs_objects: dict[str, bytes] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit:
        """The commit a branch, a tag or a full commit sha names."""
        oid = self.branches.get(revision) or self.tags.get(revision) or revision
        if oid not in self.commits:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return self.commits[oid]

    def branch_head(self, branch: str) -> Commit:
        """Commits and uploads go to branches only, as on the Hub."""
        if branch not in self.branches:
            raise HubError(404, f"Invalid rev id: {branch} is not a branch", "RevisionNotFound")
        return self.commits[self.branches[branch]]

    def add_commit(self, branch: str, files: dict[str, StoredFile], title: str, message: str, author: str) -> Commit:
        parent = self.branches.get(branch)
        commit = Commit(secrets.token_hex(20), parent, title, message, author, _now(), files)
        self.commits[commit.oid] = commit
        self.branches[branch] = commit.oid
        return commit


class FakeHub:
    """The Hub API on one port and a stand-in LFS storage/CDN on another, both on 127.0.0.1.

    The storage port is a different origin, as the Hub's S3/CDN hosts are: the client then reads LFS file metadata
    from the redirect itself and sends no token there, so its URLs are signed instead. `tokens` maps each valid token
    to its user, who may write to their own namespace only. Listings are paged `page_size` entries at a time.
    """

    def __init__(self, tokens: Mapping[str, str], page_size: int = 5) -> None:
        self.tokens = dict(tokens)
        self.page_size = page_size
        self.requests: list[tuple[str, str, str]] = []  # (action, method, path?query) of every routed request
        self._repos: dict[str, Repo] = {}
        self._faults: defaultdict[str, list[int]] = defaultdict(list)
        self._lock = threading.Lock()
        self._secret = secrets.token_bytes(32)
        self._servers: list[ThreadingHTTPServer] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_port}"

    @property
    def storage_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._servers[1].server_port}"

    def start(self) -> FakeHub:
        handler = partial(_Handler, hub=self)
        self._servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for _ in range(2)]
        for server in self._servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def fail_next(self, action: str, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` requests of `action` (one of `ACTIONS`) with `status`, changing nothing."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}, expected one of {sorted(ACTIONS)}")
        with self._lock:
            self._faults[action].extend([status] * times)

    def head(self, repo_id: str, branch: str = "main") -> str:
        """The commit `branch` points at, read directly so that tests can check what a failed call left behind."""
        with self._lock:
            return self._repos[repo_id].branches[branch]

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        with self._lock:
            return {path: file.data for path, file in self._repos[repo_id].resolve(revision).files.items()}

    def client_env(self, hf_home: Path, token: str | None = ALICE_TOKEN, *, offline: bool = False) -> dict[str, str]:
        """Environment for a subprocess running the real client against this hub.

        Inherited HF_* settings are dropped so that a developer's own login, cache or offline flag cannot leak in.
        Xet is turned off: this hub speaks plain LFS.
        """
        env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGINGFACE_"))}
        env.update(
            HF_ENDPOINT=self.endpoint,
            HF_HOME=str(hf_home),
            HF_HUB_DISABLE_XET="1",
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_DISABLE_PROGRESS_BARS="1",
        )
        if token is not None:
            env["HF_TOKEN"] = token
        if offline:
            env["HF_HUB_OFFLINE"] = "1"
        return env

    def handle(self, request: Request) -> Response:
        route = _route(request)
        if route is None:
            return HubError(404, f"No route for {request.method} {request.path}").response()
        action, args = route
        with self._lock:
            query = f"?{urlencode(request.query)}" if request.query else ""
            self.requests.append((action, request.method, request.path + query))
            if self._faults[action]:
                return HubError(self._faults[action].pop(0), f"Injected failure of {action}").response()
            try:
                return getattr(self, f"_{action}")(request, **args)
            except HubError as error:
                return error.response()
            except (AttributeError, KeyError, TypeError, ValueError) as error:  # a body not shaped as the Hub expects
                return HubError(400, f"Malformed request: {error!r}").response()

    def _user(self, request: Request) -> str | None:
        """The caller, or None without a token. An unknown token is refused even for public reads, as on the Hub."""
        header = request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        user = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def _repo(self, request: Request, ns: str, name: str) -> Repo:
        """The repo if the caller may read it. As on the Hub, others' private repos look missing, and to anonymous
        callers a missing repo is a 401 (it might be private), still with the RepoNotFound code."""
        _check_repo_id(ns, name)
        user = self._user(request)
        repo = self._repos.get(f"{ns}/{name}")
        if repo is None or (repo.private and user != repo.owner):
            raise HubError(401 if user is None else 404, "Repository not found", "RepoNotFound")
        return repo

    def _writable_repo(self, request: Request, ns: str, name: str) -> tuple[Repo, str]:
        """The repo and the caller, who must own it."""
        user = self._user(request)
        if user is None:
            raise HubError(401, "You must be authenticated to write to a repo")
        repo = self._repo(request, ns, name)
        if user != repo.owner:
            raise HubError(403, f"You don't have the rights to write to {repo.repo_id}")
        return repo, user

    def _storage_url(self, method: str, repo_id: str, oid: str, size: int) -> str:
        """A pre-signed storage URL, like the Hub's S3 and CDN ones."""
        query = urlencode({"size": size, "sig": self._sign(method, repo_id, oid, size)})
        return f"{self.storage_endpoint}/lfs/{repo_id}/{oid}?{query}"

    def _sign(self, *parts: object) -> str:
        return hmac.new(self._secret, "\n".join(map(str, parts)).encode(), "sha256").hexdigest()

    def _signed(self, request: Request, method: str, ns: str, name: str, oid: str) -> tuple[Repo, int]:
        """The repo and object size a storage URL was signed for; storage requests carry no token."""
        size = int(request.query["size"])
        if not hmac.compare_digest(request.query.get("sig", ""), self._sign(method, f"{ns}/{name}", oid, size)):
            raise HubError(403, "Request signature does not match")
        repo = self._repos.get(f"{ns}/{name}")
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo, size

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        """One page of a listing, with a `Link: <…>; rel="next"` header while more remain, as the Hub pages."""
        start = int(request.query.get("cursor", "0"))
        end = start + self.page_size
        headers = {}
        if end < len(items):
            query = urlencode({**request.query, "cursor": end})
            headers["Link"] = f'<{self.endpoint}{request.path}?{query}>; rel="next"'
        return _json(items[start:end], headers=headers)

    def _whoami(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            raise HubError(401, "Invalid username or password.")
        token = {"displayName": "fake", "role": "write"}
        return _json({"type": "user", "id": user, "name": user, "orgs": [], "auth": {"accessToken": token}})

    def _create_repo(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            raise HubError(401, "You must be authenticated to create a repo")
        body = request.json()
        if body.get("type", "model") != "model":
            raise HubError(400, "This fake Hub hosts model repos only")
        ns, name = body.get("organization") or user, body["name"]
        _check_repo_id(ns, name)
        if ns != user:
            raise HubError(403, f"You don't have the rights to create a model under the namespace {ns}")
        repo_id = f"{ns}/{name}"
        if repo_id in self._repos:  # the client reads the url from this answer when it passes exist_ok=True
            error = "You already created this model repo"
            return _json({"error": error, "url": f"{self.endpoint}/{repo_id}"}, 409, {"X-Error-Message": error})
        private = body.get("visibility", "private" if body.get("private") else "public") == "private"
        repo = self._repos[repo_id] = Repo(repo_id, user, private, _now())
        repo.add_commit("main", {".gitattributes": StoredFile(GITATTRIBUTES, lfs=False)}, "initial commit", "", user)
        return _json({"url": f"{self.endpoint}/{repo_id}", "name": repo_id})

    def _validate_yaml(self, request: Request) -> Response:
        """The client sends README.md here before committing it; this checks only that its front matter is closed."""
        content = request.json()["content"]
        if content.startswith("---") and "\n---" not in content[3:]:
            return _json({"errors": [{"message": "The metadata block is not closed by '---'"}], "warnings": []}, 400)
        return _json({"errors": [], "warnings": []})

    def _repo_info(self, request: Request, ns: str, name: str, rev: str = "main") -> Response:
        repo = self._repo(request, ns, name)
        commit = repo.resolve(rev)
        blobs = request.query.get("blobs") == "true"
        siblings = [_sibling(path, file, blobs) for path, file in sorted(commit.files.items())]
        return _json(
            {
                "id": repo.repo_id,
                "author": repo.owner,
                "sha": commit.oid,
                "lastModified": commit.date,
                "createdAt": repo.created_at,
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "siblings": siblings,
            }
        )

    def _preupload(self, request: Request, ns: str, name: str, rev: str) -> Response:
        repo, _ = self._writable_repo(request, ns, name)
        head = repo.branch_head(rev)
        answers = []
        for entry in request.json()["files"]:
            path = entry["path"]
            answer = {"path": path, "uploadMode": "lfs" if _wants_lfs(path, entry["size"]) else "regular"}
            if path in head.files:
                answer["oid"] = head.files[path].oid
            answers.append({**answer, "shouldIgnore": False})
        return _json({"files": answers, "commitOid": head.oid})

    def _lfs_batch(self, request: Request, ns: str, name: str) -> Response:
        repo, _ = self._writable_repo(request, ns, name)
        body = request.json()
        if body.get("operation") != "upload":
            raise HubError(400, "This fake Hub serves LFS downloads through /resolve only")
        objects = []
        for entry in body["objects"]:
            oid, size = entry["oid"], entry["size"]
            answer: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            if not re.fullmatch(r"[0-9a-f]{64}", oid):
                answer["error"] = {"code": 422, "message": "oid must be a sha256 in hex"}
            elif oid not in repo.lfs_objects:
                answer["actions"] = {"upload": {"href": self._storage_url("PUT", repo.repo_id, oid, size)}}
            objects.append(answer)
        return _json(
            {"transfer": "basic", "objects": objects}, headers={"Content-Type": "application/vnd.git-lfs+json"}
        )

    def _lfs_upload(self, request: Request, ns: str, name: str, oid: str) -> Response:
        repo, size = self._signed(request, "PUT", ns, name, oid)
        if len(request.body) != size or hashlib.sha256(request.body).hexdigest() != oid:
            raise HubError(400, "Uploaded content does not match its sha256 and size")
        repo.lfs_objects[oid] = request.body
        return Response(200)

    def _lfs_download(self, request: Request, ns: str, name: str, oid: str) -> Response:
        repo, _ = self._signed(request, "GET", ns, name, oid)
        return Response(200, repo.lfs_objects[oid], {"Content-Type": "application/octet-stream"})

    def _commit(self, request: Request, ns: str, name: str, rev: str) -> Response:
        repo, user = self._writable_repo(request, ns, name)
        if request.query.get("create_pr"):
            raise HubError(400, "This fake Hub has no pull requests")
        head = repo.branch_head(rev)
        header, *operations = [json.loads(line) for line in request.body.splitlines() if line.strip()]
        if header["key"] != "header":
            raise HubError(400, "A commit must start with its header line")
        parent = header["value"].get("parentCommit")
        if parent is not None and not head.oid.startswith(parent):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(head.files)
        for operation in operations:
            _apply(repo, files, operation["key"], operation["value"])
        summary, description = header["value"]["summary"], header["value"].get("description", "")
        commit = repo.add_commit(rev, files, summary, description, user)
        return _json(
            {
                "success": True,
                "commitOid": commit.oid,
                "commitUrl": f"{self.endpoint}/{repo.repo_id}/commit/{commit.oid}",
                "commitMessage": summary,
                "hookOutput": "",
                "pullRequestUrl": None,
            }
        )

    def _tree(self, request: Request, ns: str, name: str, rev: str, path: str = "") -> Response:
        repo = self._repo(request, ns, name)
        commit = repo.resolve(rev)
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        recursive = request.query.get("recursive") == "true"
        entries: dict[str, dict[str, Any]] = {}
        for file_path, file in sorted(commit.files.items()):
            if not file_path.startswith(prefix):
                continue
            parts = file_path[len(prefix) :].split("/")
            for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
                folder = prefix + "/".join(parts[:depth])
                tree_oid = hashlib.sha1(f"{commit.oid}:{folder}".encode()).hexdigest()
                entries.setdefault(folder, {"type": "directory", "oid": tree_oid, "size": 0, "path": folder})
            if recursive or len(parts) == 1:
                entries[file_path] = _tree_file(file_path, file)
        if prefix and not entries:
            raise HubError(404, f"{path} is not a folder of {rev}", "EntryNotFound")
        return self._page(request, list(entries.values()))

    def _commits(self, request: Request, ns: str, name: str, rev: str) -> Response:
        repo = self._repo(request, ns, name)
        history = []
        commit: Commit | None = repo.resolve(rev)
        while commit is not None:
            history.append(
                {
                    "id": commit.oid,
                    "title": commit.title,
                    "message": commit.message,
                    "date": commit.date,
                    "authors": [{"user": commit.author}],
                }
            )
            commit = repo.commits.get(commit.parent or "")
        return self._page(request, history)

    def _refs(self, request: Request, ns: str, name: str) -> Response:
        repo = self._repo(request, ns, name)

        def refs(names: dict[str, str], kind: str) -> list[dict[str, str]]:
            return [{"name": ref, "ref": f"refs/{kind}/{ref}", "targetCommit": oid} for ref, oid in names.items()]

        branches, tags = refs(repo.branches, "heads"), refs(repo.tags, "tags")
        return _json({"branches": branches, "converts": [], "tags": tags, "pullRequests": []})

    def _branch(self, request: Request, ns: str, name: str, rev: str) -> Response:
        repo, _ = self._writable_repo(request, ns, name)
        if rev in repo.branches:
            raise HubError(409, f"Reference already exists: refs/heads/{rev}")
        repo.branches[rev] = repo.resolve(request.json().get("startingPoint", "main")).oid
        return _json({})

    def _tag(self, request: Request, ns: str, name: str, rev: str) -> Response:
        repo, _ = self._writable_repo(request, ns, name)
        tag = request.json()["tag"]
        if tag in repo.tags:
            raise HubError(409, f"Tag already exists: {tag}")
        repo.tags[tag] = repo.resolve(rev).oid
        return _json({})

    def _resolve(self, request: Request, ns: str, name: str, rev: str, path: str) -> Response:
        """A regular file is served here; an LFS file redirects to storage, its metadata in the X-Linked-* headers."""
        repo = self._repo(request, ns, name)
        commit = repo.resolve(rev)
        headers = {"X-Repo-Commit": commit.oid}
        file = commit.files.get(path)
        if file is None:
            raise HubError(404, f"{path} does not exist at {rev}", "EntryNotFound", headers)
        headers["ETag"] = f'"{file.blob_id}"'
        if not file.lfs:
            return Response(200, file.data, {**headers, "Content-Type": "application/octet-stream"})
        headers["Location"] = self._storage_url("GET", repo.repo_id, file.sha256, len(file.data))
        headers["X-Linked-Etag"] = f'"{file.sha256}"'
        headers["X-Linked-Size"] = str(len(file.data))
        return Response(302, b"", headers)


class _Handler(BaseHTTPRequestHandler):
    """Turns each HTTP request into a `Request` for the hub and writes its `Response` back."""

    protocol_version = "HTTP/1.1"

    def __init__(self, *args: Any, hub: FakeHub) -> None:
        self.hub = hub
        super().__init__(*args)

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        response = self.hub.handle(Request(self.command, url.path, query, self.headers, self._read_body()))
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_HEAD = do_POST = do_PUT = _serve

    def _read_body(self) -> bytes:
        """The client always sends a Content-Length (uploads are files or bytes), so chunked bodies are not read."""
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: `FakeHub.requests` records what was asked."""


def _route(request: Request) -> tuple[str, dict[str, str]] | None:
    """The action a request asks for and its URL parts, unquoted."""
    method = "GET" if request.method == "HEAD" else request.method
    for action, action_method, pattern in _ROUTES:
        match = pattern.fullmatch(request.path)
        if match and action_method == method:
            return action, {key: unquote(value) for key, value in match.groupdict().items() if value is not None}
    return None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})


def _check_repo_id(ns: str, name: str) -> None:
    for part in (ns, name):
        if not _NAME.fullmatch(part) or "--" in part or ".." in part:
            raise HubError(400, f"Invalid repo id: {ns}/{name}")


def _wants_lfs(path: str, size: int) -> bool:
    return size > 0 and (path.endswith(LFS_SUFFIXES) or size > LFS_MIN_SIZE)


def _sibling(path: str, file: StoredFile, blobs: bool) -> dict[str, Any]:
    """A file as repo info lists it; with `blobs`, with its size, git oid and LFS metadata."""
    if not blobs:
        return {"rfilename": path}
    lfs = {"sha256": file.sha256, "size": len(file.data), "pointerSize": len(file.pointer)} if file.lfs else None
    return {"rfilename": path, "size": len(file.data), "blobId": file.blob_id, "lfs": lfs}


def _tree_file(path: str, file: StoredFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "oid": file.blob_id, "size": len(file.data), "path": path}
    if file.lfs:
        entry["lfs"] = {"oid": file.sha256, "size": len(file.data), "pointerSize": len(file.pointer)}
    return entry


def _apply(repo: Repo, files: dict[str, StoredFile], key: str, value: dict[str, Any]) -> None:
    """Applies one commit operation line to `files`."""
    path = value["path"].rstrip("/")
    if not path or path.startswith("/") or ".." in path.split("/") or path.split("/")[0] == ".git":
        raise HubError(400, f"Invalid path in repo: {value['path']}")
    if key == "file":
        data = base64.b64decode(value["content"])
        if _wants_lfs(path, len(data)):
            raise HubError(400, f"Your push was rejected because {path} is a binary file: upload it with LFS")
        files[path] = StoredFile(data, lfs=False)
    elif key == "lfsFile":
        if value["oid"] not in repo.lfs_objects:
            raise HubError(400, f"The LFS object of {path} was never uploaded")
        files[path] = StoredFile(repo.lfs_objects[value["oid"]], lfs=True)
    elif key in ("deletedFile", "deletedFolder"):
        doomed = [name for name in files if (name.startswith(f"{path}/") if key == "deletedFolder" else name == path)]
        if not doomed:
            raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
        for name in doomed:
            del files[name]
    else:
        raise HubError(400, f"Unknown commit operation: {key}")


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    """A running hub, fresh for each test, where alice (ALICE_TOKEN) and bob (BOB_TOKEN) own their namespaces."""
    with FakeHub({ALICE_TOKEN: "alice", BOB_TOKEN: "bob"}) as hub:
        yield hub

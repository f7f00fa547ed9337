"""The app under load and at the edges of its resources: bench/load.py in a tiny mode, upload limits, shutdown."""

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from conftest import REPO, running_app

ENDPOINTS = ["/samples (page load)", "/render", "/render_latent", "/previews", "/classes", "/class_morph",
             "/samples", "/interpolate", "/interpolation_frame", "/arithmetic", "/open_link", "/random_seed",
             "/model_info"]  # fmt: skip


def test_the_load_bench_has_no_failures_and_leaves_nothing_behind(tiny_conditional_model_dir):
    """Clients at once (every endpoint called at least once), 1 MB values refused in a line of log each, then a
    burst past the queue's 64 places: every call answered or cleanly refused, the server still answering after,
    and once it is stopped, nothing it cached or wrote left behind."""
    command = [sys.executable, "bench/load.py", "--model", str(tiny_conditional_model_dir), "--clients", "4",
               "--calls", "12", "--burst", "80", "--refused", "20", "--call-timeout", "240"]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    output = result.stdout
    assert result.returncode == 0, output + result.stderr[-3000:]
    assert "\n0 failures" in output and "FAILED" not in output
    rows = {line.split("  ")[0].strip(): line.split() for line in output.splitlines() if line.startswith("/")}
    assert set(rows) == set(ENDPOINTS), output
    assert all(row[-4] == "0" for row in rows.values()), output  # the "failed" column
    burst = re.search(r"burst: 80 clients .*: (\d+) answered, (\d+) refused as the queue was full, 0 failed", output)
    assert burst and int(burst[1]) + int(burst[2]) == 80, output
    assert re.search(r"after the burst: /render answered in \d+ ms", output), output
    assert re.search(r"refused: 20 requests with a 1 MB value; .* log \+\d{1,3} bytes per request", output), output
    assert "after shutdown: Gradio cache 0 files, explorer folders 0" in output, output


def test_uploads_are_limited_in_size_and_removed_when_the_server_stops(tiny_model_dir, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    with running_app(str(tiny_model_dir), env={**os.environ, "GRADIO_TEMP_DIR": str(cache)}) as url:
        small, large = upload(url, b"{}" * 1000), upload(url, b"0" * (1024 * 1024 + 1))
        assert small[0] == 200, small
        kept = Path(json.loads(small[1])[0])
        assert kept.name == "latent.json" and kept.read_bytes() == b"{}" * 1000
    assert large == (413, "File size exceeded maximum allowed size of 1048576 bytes.")
    assert not [path for path in cache.rglob("*") if path.is_file() and path.stat().st_size > 1024 * 1024]
    assert not kept.exists()  # the server got a SIGTERM: Gradio deleted what it cached


def test_gradio_writes_a_shared_cache_file_beside_it_then_renames_it(tmp_path, monkeypatch):
    """Identical outputs of different calls (every page load draws the same /samples page) share one file in
    Gradio's cache, named by a hash of the bytes. A Gradio that copied onto that path in place rewrote a file that
    another client was downloading: 'Too little data for declared Content-Length' in the server's log, 'peer
    closed connection' for the client (gradio-app/gradio#8878). The pinned Gradio copies under a temporary name
    and renames the copy into place; this fails if an upgrade changes that."""
    from gradio import processing_utils

    copies, real_copy = [], processing_utils.shutil.copy2
    monkeypatch.setattr(
        processing_utils.shutil, "copy2", lambda src, dst: copies.append(Path(dst)) or real_copy(src, dst)
    )
    outputs = [tmp_path / str(call) / "seed-0-bag.png" for call in range(2)]
    for output in outputs:
        output.parent.mkdir()
        output.write_bytes(b"the same picture")
    cached = {Path(processing_utils.save_file_to_cache(output, str(tmp_path / "cache"))) for output in outputs}
    assert len(cached) == 1  # both calls' outputs are served from one file
    shared = cached.pop()
    assert shared.read_bytes() == b"the same picture" and shared.name == "seed-0-bag.png"
    assert len(copies) == 1 and copies[0] != shared and copies[0].parent == shared.parent


def upload(url: str, data: bytes) -> tuple[int, str]:
    """POST `data` as the file latent.json to Gradio's upload route: (HTTP status, body)."""
    boundary = "gan-explorer-test"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="latent.json"\r\n'
            f"Content-Type: application/json\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()  # fmt: skip
    request = urllib.request.Request(
        f"{url}gradio_api/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()

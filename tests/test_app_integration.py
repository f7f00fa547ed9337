"""The app as a user's code sees it: a server on 127.0.0.1, every named endpoint through gradio_client."""

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import running_app
from gradio_client import Client, handle_file
from PIL import Image

ENDPOINTS = {"/render", "/previews", "/classes", "/samples", "/class_morph", "/interpolate", "/interpolation_frame",
             "/arithmetic", "/render_latent", "/open_link", "/random_seed", "/model_info", "/invert", "/test_image",
             "/neighbours", "/timeline"}  # fmt: skip
ZEROS = [0.0] * 8


@pytest.fixture(scope="module")
def served(tiny_conditional_model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "app.log"
    with running_app(str(tiny_conditional_model_dir), log_path=log) as url:
        yield Client(url, verbose=False), log


@pytest.fixture(scope="module")
def client(served):
    return served[0]


def pixels(path):
    return np.asarray(Image.open(path))


@pytest.mark.backends  # the app on JAX too
def test_every_endpoint_is_named_and_works(client):
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ENDPOINTS
    image, caption, exported, query, latent_file = client.predict(
        7, 0.9, "Bag", "", 1.5, *ZEROS[1:], api_name="/render"
    )
    assert pixels(image).shape == (336, 336) and caption == "seed 7 · Bag · ψ 0.9 · d1 +1.5"
    assert image.endswith("seed-7-bag-psi0.9-d1+1.5.png") and query == "seed=7&class=Bag&psi=0.9&d1=1.5"
    assert latent_file.endswith("seed-7-bag-psi0.9-d1+1.5.json")
    assert json.loads(Path(latent_file).read_text()) == json.loads(exported)
    assert pixels(client.predict(exported, api_name="/render_latent")).tobytes() == pixels(image).tobytes()
    assert len(client.predict(7, 0.9, "Bag", "", 1.5, *ZEROS[1:], api_name="/previews")) == 8
    classes = client.predict(7, 0.9, "Bag", "", 1.5, *ZEROS[1:], api_name="/classes")
    assert [item["caption"] for item in classes] == ["Shirt", "Bag", "Boot"]
    samples = client.predict(3, 4, 1.0, "Boot", False, api_name="/samples")
    assert [item["caption"] for item in samples] == [f"seed {s} · Boot" for s in (3, 4, 5, 6)]
    assert Image.open(client.predict(exported, "Boot", 6, api_name="/class_morph")).n_frames == 6 + 4
    frames, gif = client.predict("1", exported, 12, "slerp", "Shirt", api_name="/interpolate")
    assert len(frames) == 8 and Image.open(gif).n_frames == 12 + 10
    frame, class_name = client.predict("1", exported, "slerp", "Shirt", 1.0, api_name="/interpolation_frame")
    assert json.loads(frame)["latent"] == json.loads(exported)["latent"] and class_name == "Bag"
    tiles, result = client.predict("1", "2", exported, None, api_name="/arithmetic")
    assert [tile["caption"] for tile in tiles] == ["A: seed 1", "B: seed 2", "C: own latent · Bag", "A − B + C"]
    assert np.linalg.norm(json.loads(result)["latent"]) == pytest.approx(4)
    view = client.predict("seed=7&class=Bag&d2=-1", api_name="/open_link")
    assert view == {"seed": 7, "psi": 1.0, "class": "Bag", "base": "", "strengths": [0.0, -1.0, *ZEROS[2:]]}
    seeds = [client.predict(api_name="/random_seed") for _ in range(3)]
    assert all(type(seed) is int and 0 <= seed <= 2**32 - 1 for seed in seeds) and len(set(seeds)) == 3, seeds
    comparison, inverted_caption, inverted = client.predict(handle_file(image), api_name="/invert")
    assert pixels(comparison).shape == (228, 680) and "mean" in inverted_caption
    assert json.loads(inverted)["class"] in ("Shirt", "Bag", "Boot") and len(json.loads(inverted)["latent"]) == 16
    info = client.predict(api_name="/model_info")
    assert info["latent_dim"] == 16 and info["warning"] is None and info["class_names"] == ["Shirt", "Bag", "Boot"]


def test_tools_this_model_cannot_serve_say_why(client):
    """The tiny model learned from no known data set and has no history: its look-inside endpoints explain."""
    latent_json = client.predict(7, 1.0, "Bag", "", *ZEROS, api_name="/render")[2]
    for args, api_name, message in [
        ((latent_json, 4), "/neighbours", "Nearest training images are not available: training images are searched"),
        ((0,), "/test_image", "Test images are not available"),
        ((1,), "/timeline", "No training timeline: model has no training history"),
    ]:
        with pytest.raises(Exception, match=message):
            client.predict(*args, api_name=api_name)


def test_a_missing_class_is_a_sensible_default_not_an_error(client):
    _, caption, exported, *_ = client.predict(4, 1.0, None, "", *ZEROS, api_name="/render")
    assert caption == "seed 4 · Bag" and json.loads(exported)["label"] == 1
    tiles, result = client.predict("1", "2", "3", None, api_name="/arithmetic")
    assert json.loads(result)["class"] == "Bag" and pixels(tiles[0]["image"]).shape == (112, 112)


@pytest.mark.parametrize(
    ("args", "api_name", "message"),
    [
        (("abc", 1.0, None, "", *ZEROS), "/render", "Seed must be a number, got 'abc'"),
        ((-1, 1.0, None, "", *ZEROS), "/render", "Seed must be in 0 … 4294967295, got -1"),
        ((10**400, 1.0, None, "", *ZEROS), "/render", "Seed must be in 0 … 4294967295"),
        ((0, 1.0, "Hat", "", *ZEROS), "/render", "Unknown class 'Hat'; choose one of: Shirt, Bag, Boot"),
        ((0, 1.0, None, "", 9, *ZEROS[1:]), "/render", "Direction 1 must be in -3 … 3, got 9"),
        ((0, 1000, 1.0, None, False), "/samples", "Number of images must be in 1 … 64, got 1000"),
        (("0", "1", 500, "slerp", None), "/interpolate", "Frames must be in 2 … 120, got 500"),
        (("0", "1", 5, {"mode": 1}, None), "/interpolate", "Interpolation must be one of slerp, lerp"),
        (("{bad json",), "/render_latent", "not valid latent JSON"),
        (('{"format": "gan_core.latent/1", "model": "other"}',), "/render_latent", "belongs to another model"),
        (("seed=1&d1=99",), "/open_link", "The link's d1 must be in -3 … 3, got 99"),
        (("0", "1", "slerp", None, 2.0), "/interpolation_frame", "t must be in 0 … 1, got 2"),
    ],
)
def test_bad_input_is_a_clear_error_and_the_server_keeps_serving(client, args, api_name, message):
    with pytest.raises(Exception, match=message.replace("(", r"\(")) as error:
        client.predict(*args, api_name=api_name)
    assert type(error.value).__name__ == "AppError"
    image, *_ = client.predict(1, 1.0, None, "", *ZEROS, api_name="/render")
    assert pixels(image).shape == (336, 336)


def test_the_server_log_is_quiet_one_line_per_refused_request(served):
    client, log = served
    with pytest.raises(Exception, match="Seed must be in"):
        client.predict(-7, 1.0, None, "", *ZEROS, api_name="/render")
    text = log.read_text()
    assert "app.py: refused render: Seed must be in 0 … 4294967295, got -7." in text.splitlines()
    for noise in ("Traceback", "cuda", "cuInit", "oneDNN", "absl"):
        assert noise not in text, f"{noise!r} in the server log:\n{text}"


def test_a_broken_model_source_falls_back_with_a_visible_warning(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "gan.json").write_text("{not json")
    with running_app(str(broken)) as url:
        info = Client(url, verbose=False).predict(api_name="/model_info")
        page = urllib.request.urlopen(url, timeout=10).read().decode()
    assert info["source"].startswith("bundled") and "gan.json is corrupt" in info["warning"]
    assert "Showing the bundled model instead" in page and "gan.json is corrupt" in page

"""The app as a user's code sees it: a server on 127.0.0.1, every named endpoint through gradio_client."""

import json
import urllib.request

import numpy as np
import pytest
from conftest import running_app
from gradio_client import Client
from PIL import Image

ENDPOINTS = {"/sample", "/random_seed", "/interpolate", "/steer", "/arithmetic", "/render_latent", "/model_info"}


@pytest.fixture(scope="module")
def client(tiny_model_dir):
    with running_app(str(tiny_model_dir)) as url:
        yield Client(url, verbose=False)


def pixels(path):
    return np.asarray(Image.open(path))


def test_every_endpoint_is_named_and_works(client):
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ENDPOINTS
    grid, exported = client.predict(7, 4, 0.9, None, 2, api_name="/sample")
    assert pixels(grid).shape[:2] == (4 + 112 + 14 + 4, 4 + 4 * 116)
    assert pixels(client.predict(exported, api_name="/render_latent")).shape == (112, 112)
    assert 0 <= client.predict(api_name="/random_seed") <= 2**32 - 1
    strip, gif = client.predict(0, 1, "", exported, 60, "slerp", None, api_name="/interpolate")
    assert Image.open(gif).n_frames == 60 and pixels(strip).shape[1] == 2 + 10 * 114
    image, steered = client.predict(3, "", None, 1, 0, 0, 0, 0, 0, 0, -1, api_name="/steer")
    assert json.loads(steered)["model"] == json.loads(exported)["model"]
    assert pixels(client.predict(steered, api_name="/render_latent")).tobytes() == pixels(image).tobytes()
    inputs, result, _ = client.predict(1, 2, 3, None, api_name="/arithmetic")
    assert pixels(result).shape == (112, 112) and pixels(inputs).shape[1] == 4 + 3 * 116
    info = client.predict(api_name="/model_info")
    assert info["latent_dim"] == 16 and info["warning"] is None


@pytest.mark.parametrize(
    ("args", "api_name", "message"),
    [
        (("abc", 4, 1.0, None, 1), "/sample", "Seed must be a number, got 'abc'"),
        (("nan", 4, 1.0, None, 1), "/sample", "Seed must be a finite number"),
        ((-1, 4, 1.0, None, 1), "/sample", "Seed must be in 0 … 4294967295, got -1"),
        ((0, 1000, 1.0, None, 1), "/sample", "Number of images must be in 1 … 64, got 1000"),
        ((0, 4, 1.0, "Bag", 1), "/sample", "This model is unconditional"),
        ((0, 1, "", "", 500, "slerp", None), "/interpolate", "Frames must be in 2 … 120, got 500"),
        ((0, "", None, 9, 0, 0, 0, 0, 0, 0, 0), "/steer", "Direction 1 must be in -5 … 5, got 9"),
        (("{bad json",), "/render_latent", "not valid latent JSON"),
        (('{"format": "gan_core.latent/1", "model": "other"}',), "/render_latent", "belongs to another model"),
    ],
)
def test_bad_input_is_a_clear_error_and_the_server_keeps_serving(client, args, api_name, message):
    with pytest.raises(Exception, match=message) as error:
        client.predict(*args, api_name=api_name)
    assert type(error.value).__name__ == "AppError"
    grid, _ = client.predict(1, 1, 1.0, None, 1, api_name="/sample")
    assert pixels(grid).shape[0] == 4 + 112 + 14 + 4


def test_a_broken_model_source_falls_back_with_a_visible_warning(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "gan.json").write_text("{not json")
    with running_app(str(broken)) as url:
        info = Client(url, verbose=False).predict(api_name="/model_info")
        page = urllib.request.urlopen(url, timeout=10).read().decode()
    assert info["source"].startswith("bundled") and "gan.json is corrupt" in info["warning"]
    assert "Showing the bundled model instead" in page and "gan.json is corrupt" in page

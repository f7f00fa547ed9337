"""Latency of every app endpoint, end to end through gradio_client, against Gradio's own floor.

    python bench/app_latency.py [--model pretrained] [--calls 100]

Starts the app (in this process, on 127.0.0.1) and, beside it, a "floor" app
whose endpoints return ready-made outputs of the same kind and size as the
app's, computing nothing: the difference is the handler's own cost. Prints,
per endpoint: end-to-end p50/p95, the floor's p50/p95, the handler time
measured inside the process, and (for image endpoints) the raw generator time
for the same batch. Targets (2-core CPU): handler ≤ 15 ms for one image,
≤ 60 ms for a 64-image grid, ≤ 400 ms for a 60-frame slerp GIF, ≤ 20 ms for a
direction-slider update; end-to-end p50 ≤ floor p50 + 2 × handler p50.
"""

import argparse
import functools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradio as gr
import numpy as np
from gradio_client import Client

import app
from gan_core import latent

ZEROS = [0.0] * app.NUM_DIRECTIONS


def timed(fn, record: list):
    """`fn`, appending its duration in ms to `record` on every call."""

    @functools.wraps(fn)
    def wrapper(*args):
        start = time.perf_counter()
        result = fn(*args)
        record.append(1000 * (time.perf_counter() - start))
        return result

    return wrapper


def floor_component(value):
    """A component of the same kind as the app's output `value`."""
    if isinstance(value, np.ndarray):
        return gr.Image(format="png")
    if isinstance(value, str) and value.endswith(".gif"):
        return gr.Image(type="filepath")
    return gr.Textbox() if isinstance(value, str) else gr.Number()


def build_floor(outputs_by_endpoint: dict) -> gr.Blocks:
    """One endpoint per case that returns that case's ready-made outputs and computes nothing."""
    with gr.Blocks() as floor:
        for endpoint, (outputs, input_count) in outputs_by_endpoint.items():
            components = [floor_component(value) for value in outputs]
            gr.Button().click(lambda *_, ready=outputs: ready if len(ready) > 1 else ready[0],
                              [gr.Textbox() for _ in range(input_count)], components, api_name=endpoint)  # fmt: skip
    return floor


def time_call(client, endpoint, arguments):
    start = time.perf_counter()
    client.predict(*arguments, api_name=endpoint)
    return 1000 * (time.perf_counter() - start)


def generator_time(explorer, batch, repeats=50):
    z = latent.latents_from_seeds(range(batch), explorer.generator.latent_dim)
    labels = None if not explorer.generator.num_classes else [0] * batch
    explorer.generator.generate(latents=z, labels=labels)
    start = time.perf_counter()
    for _ in range(repeats):
        explorer.generator.generate(latents=z, labels=labels)
    return 1000 * (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(app.BUNDLED_MODEL), help="model folder (default: the bundled one)")
    parser.add_argument("--calls", type=int, default=100, help="calls per endpoint")
    args = parser.parse_args()

    explorer = app.Explorer(app.hub.load(args.model), args.model)
    one_latent = explorer.sample(1, 1, 1.0, None)[1]
    cases = {  # name: (handler, API endpoint, arguments, batch the generator runs)
        "sample 1 image": ("sample", "/sample", (1, 1, 1.0, None, 1), 1),
        "sample 64-image grid": ("sample", "/sample", (1, 64, 1.0, None, 1), 64),
        "interpolate 60-frame slerp GIF": ("interpolate", "/interpolate", (1, 2, "", "", 60, "slerp", None), 60),
        "direction slider": ("steer", "/steer", (1, "", None, 1.5, *ZEROS[1:]), 1),
        "arithmetic": ("arithmetic", "/arithmetic", (1, 2, 3, None), 3),
        "render latent JSON": ("render_latent", "/render_latent", (one_latent,), 1),
        "random seed": ("random_seed", "/random_seed", (), 0),
    }
    ready = {}
    floor_files = Path(tempfile.mkdtemp(prefix="floor-"))  # the app deletes old GIFs; the floor keeps its own
    for index, (handler, _, arguments, _) in enumerate(cases.values()):
        outputs = getattr(explorer, handler)(*arguments)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        outputs = tuple(
            shutil.copy(o, floor_files) if isinstance(o, str) and o.endswith(".gif") else o for o in outputs
        )
        ready[f"floor_{index}"] = (outputs, len(arguments))
    floor = build_floor(ready)

    handler_times = {handler: [] for handler, *_ in cases.values()}
    for handler, record in handler_times.items():
        setattr(explorer, handler, timed(getattr(explorer, handler), record))
    demo = app.build_demo(explorer).queue(max_size=64, default_concurrency_limit=1)
    _, app_url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    _, floor_url, _ = floor.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    client, floor_client = Client(app_url, verbose=False), Client(floor_url, verbose=False)

    print(f"model {args.model}: {explorer.generator.image_shape}, latent {explorer.generator.latent_dim}; "
          f"{args.calls} calls per endpoint, {os.cpu_count()} CPUs; times in ms")  # fmt: skip
    print(f"{'endpoint':<32}{'p50':>7}{'p95':>7}{'floor50':>9}{'floor95':>9}{'handler':>9}{'gen':>7}{'budget':>8}")
    for index, (name, (handler, endpoint, arguments, batch)) in enumerate(cases.items()):
        handler_times[handler].clear()
        p50, p95 = np.percentile([time_call(client, endpoint, arguments) for _ in range(args.calls)], [50, 95])
        floor_ms = [time_call(floor_client, f"/floor_{index}", ["x"] * len(arguments)) for _ in range(args.calls)]
        f50, f95 = np.percentile(floor_ms, [50, 95])
        handler_p50 = np.percentile(handler_times[handler], 50)
        budget = f50 + 2 * handler_p50
        generator_ms = generator_time(explorer, batch) if batch else 0.0
        print(f"{name:<32}{p50:>7.1f}{p95:>7.1f}{f50:>9.1f}{f95:>9.1f}{handler_p50:>9.1f}{generator_ms:>7.1f}"
              f"{budget:>8.1f} {'ok' if p50 <= budget else 'OVER'}", flush=True)  # fmt: skip
    demo.close()
    floor.close()


if __name__ == "__main__":
    main()

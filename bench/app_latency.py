"""Latency of every app endpoint, end to end through gradio_client, against Gradio's own floor; and how
often the picture changes while a slider is dragged in a real browser.

    python bench/app_latency.py [--model pretrained] [--calls 100] [--drag-seconds 4] [--drags 3]

Starts the app (in this process, on 127.0.0.1) and, beside it, a "floor" app
whose endpoints return ready-made outputs of the same kind and size as the
app's, computing nothing: the difference is the handler's own cost. Prints,
per endpoint: end-to-end p50/p95, the floor's p50/p95, the handler time
measured inside the process, and the raw generator time for the same batch.
Targets (2-core CPU): handler ≤ 15 ms for the current picture (what a slider
drag calls), ≤ 60 ms for a 64-image grid, ≤ 400 ms for a 48-frame GIF;
end-to-end p50 ≤ floor p50 + 2 × handler p50.

Then Debian's chromium (headless, driven by Playwright) opens the page and
drags the first direction slider back and forth for --drag-seconds, --drags
times, counting the distinct pictures the page shows (polled every animation
frame): updates per second during a drag.
"""

import argparse
import functools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradio as gr
import numpy as np
from gradio_client import Client

import app
from explorer import ui
from explorer.handlers import Explorer
from gan_core import latent

CHROMIUM = "/usr/bin/chromium"


def timed(fn, record: list):
    """`fn`, appending its duration in ms to `record` on every call."""

    @functools.wraps(fn)
    def wrapper(*args):
        start = time.perf_counter()
        result = fn(*args)
        record.append(1000 * (time.perf_counter() - start))
        return result

    return wrapper


def api_outputs(value) -> tuple:
    """A handler's return value as the API's outputs: a tuple, or a list of pictures, is several outputs."""
    if isinstance(value, tuple) or (isinstance(value, list) and value and isinstance(value[0], str)):
        return tuple(value)
    return (value,)


def floor_component(value):
    """A component of the same kind as the app's output `value`."""
    if isinstance(value, list):
        return gr.Gallery()
    if isinstance(value, str) and value.endswith((".png", ".gif")):
        return gr.Image(type="filepath")
    if isinstance(value, str) and value.endswith(".json"):
        return gr.File()
    return gr.Textbox() if isinstance(value, str) else gr.Number()


def kept(value, folder: Path):
    """`value` with every file it names copied to `folder` (the app deletes old files; the floor keeps its own)."""
    if isinstance(value, list):
        return [kept(item, folder) for item in value]
    if isinstance(value, tuple):
        return tuple(kept(item, folder) for item in value)
    if isinstance(value, str) and value.endswith((".png", ".gif", ".json")):
        target = folder / str(len(list(folder.iterdir())))
        target.mkdir()
        return shutil.copy(value, target)
    return value


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
    labels = None if not explorer.conditional else [0] * batch
    explorer.generator.generate(latents=z, labels=labels)
    start = time.perf_counter()
    for _ in range(repeats):
        explorer.generator.generate(latents=z, labels=labels)
    return 1000 * (time.perf_counter() - start) / repeats


def drag_rate(url: str, seconds: float) -> tuple[int, float]:
    """(pictures shown, seconds) while the first direction slider is dragged back and forth in chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector("#class-grid img, #sample-grid img", timeout=60_000)
        page.get_by_role("tab", name="Directions").click()
        page.wait_for_timeout(1000)
        page.evaluate("""() => { window.seen = []; const poll = () => {
            const src = document.querySelector('#current img')?.src;
            if (src && src !== window.seen.at(-1)) window.seen.push(src);
            requestAnimationFrame(poll); }; poll(); }""")
        box = page.locator("#direction-1 input[type=range]").bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + 2, y)
        page.mouse.down()
        start, moves = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            phase = (moves % 60) / 30
            page.mouse.move(box["x"] + 2 + (box["width"] - 4) * (phase if phase <= 1 else 2 - phase), y)
            moves += 1
        elapsed = time.perf_counter() - start
        shown = page.evaluate("window.seen.length") - 1
        page.mouse.up()
        browser.close()
    return shown, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(app.BUNDLED_MODEL), help="model folder (default: the bundled one)")
    parser.add_argument("--calls", type=int, default=100, help="calls per endpoint")
    parser.add_argument("--drag-seconds", type=float, default=4.0, help="length of one slider drag (0: no browser)")
    parser.add_argument("--drags", type=int, default=3, help="slider drags to time")
    args = parser.parse_args()

    explorer = Explorer(app.hub.load(args.model), args.model)
    first_class = explorer.class_names[0] if explorer.conditional else None
    zeros = [0.0] * len(explorer.directions)
    view = (1, 1.0, first_class, "", 1.5, *zeros[1:])
    one_latent = explorer.render(*view)[2]
    cases = {  # name: (handler, API endpoint, arguments, batch the generator runs)
        "current picture (slider drag)": ("render", "/render", view, 1),
        "direction previews (8 × 7)": ("previews", "/previews", view, 8 * 7),
        "every class": ("classes", "/classes", view, len(explorer.class_names)),
        "samples, 16": ("samples", "/samples", (1, 16, 1.0, first_class, False), 16),
        "samples, 64": ("samples", "/samples", (1, 64, 1.0, first_class, False), 64),
        "class morph, 32-frame GIF": ("class_morph", "/class_morph", (one_latent, explorer.class_names[-1], 32), 32),
        "interpolate, 48-frame slerp GIF": ("interpolate", "/interpolate", ("1", "2", 48, "slerp", None), 48),
        "arithmetic": ("arithmetic", "/arithmetic", ("1", "2", "3, 4, 5", None), 4),
        "render latent JSON": ("render_latent", "/render_latent", (one_latent,), 1),
        "random seed": ("random_seed", "/random_seed", (), 0),
    }
    if not explorer.conditional:
        del cases["every class"], cases["class morph, 32-frame GIF"]
    floor_files = Path(tempfile.mkdtemp(prefix="floor-"))
    ready = {}
    for index, (handler, _, arguments, _) in enumerate(cases.values()):
        outputs = kept(api_outputs(getattr(explorer, handler)(*arguments)), floor_files)
        ready[f"floor_{index}"] = (outputs, len(arguments))
    floor = build_floor(ready)

    handler_times = {handler: [] for handler, *_ in cases.values()}
    for handler, record in handler_times.items():
        setattr(explorer, handler, timed(getattr(explorer, handler), record))
    demo = ui.build_demo(explorer).queue(max_size=app.QUEUE_SIZE, default_concurrency_limit=app.CONCURRENCY)
    _, app_url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, **ui.LAUNCH_OPTIONS)
    _, floor_url, _ = floor.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    client, floor_client = Client(app_url, verbose=False), Client(floor_url, verbose=False)

    print(f"model {args.model}: {explorer.generator.image_shape}, latent {explorer.generator.latent_dim}; "
          f"{args.calls} calls per endpoint, {os.cpu_count()} CPUs; times in ms")  # fmt: skip
    print(f"{'endpoint':<34}{'p50':>7}{'p95':>7}{'floor50':>9}{'floor95':>9}{'handler':>9}{'gen':>7}{'budget':>8}")
    for index, (name, (handler, endpoint, arguments, batch)) in enumerate(cases.items()):
        handler_times[handler].clear()
        p50, p95 = np.percentile([time_call(client, endpoint, arguments) for _ in range(args.calls)], [50, 95])
        floor_ms = [time_call(floor_client, f"/floor_{index}", ["x"] * len(arguments)) for _ in range(args.calls)]
        f50, f95 = np.percentile(floor_ms, [50, 95])
        handler_p50 = np.percentile(handler_times[handler], 50)
        budget = f50 + 2 * handler_p50
        generator_ms = generator_time(explorer, batch) if batch else 0.0
        print(f"{name:<34}{p50:>7.1f}{p95:>7.1f}{f50:>9.1f}{f95:>9.1f}{handler_p50:>9.1f}{generator_ms:>7.1f}"
              f"{budget:>8.1f} {'ok' if p50 <= budget else 'OVER'}", flush=True)  # fmt: skip
    floor.close()

    if args.drag_seconds > 0:
        rates = []
        for _ in range(args.drags):
            shown, seconds = drag_rate(app_url, args.drag_seconds)
            rates.append(shown / seconds)
            print(f"slider drag in chromium: {shown} pictures in {seconds:.1f} s = {shown / seconds:.1f}/s", flush=True)
        print(f"slider drag: median {np.median(rates):.1f} pictures/s over {args.drags} drags")
    demo.close()
    explorer.files.close()


if __name__ == "__main__":
    main()

"""Latent-space explorer for a gan_core generator: a Gradio app, also a Hugging Face Space.

    python app.py                        # the bundled model in pretrained/
    python app.py --model runs/my-run    # a saved-model or train.py run folder (or GAN_MODEL=...)
    python app.py --model hf://alice/fashion-gan[@revision]   # a model on the Hugging Face Hub

Every action is a named API endpoint (see the "Use via API" link, or
`gradio_client.Client(url).view_api()`). The page itself lives in `explorer/`.
"""

import argparse
import ctypes
import os
import signal
import sys
import threading
import time
from pathlib import Path

from explorer.handlers import Explorer
from explorer.inside import Inside
from explorer.ui import LAUNCH_OPTIONS, build_demo
from gan_core import hub

BUNDLED_MODEL = Path(__file__).resolve().parent / "pretrained"
QUEUE_SIZE = 64
CONCURRENCY = 2  # one generator call per CPU core
TRIM_SECONDS = 60


def load_explorer(source: str | None) -> Explorer:
    """An explorer over `source` (a folder or `hf://owner/name[@revision]`), or over the bundled
    model with a warning when `source` fails."""
    warning = None
    if source:
        try:
            return Explorer(hub.load(source), source)
        except Exception as error:  # noqa: BLE001 - whatever is wrong with a model, the page opens on the bundled one
            warning = f"Could not load the model {source!r}: {error} Showing the bundled model instead."
            print(f"app.py: warning: {warning}", file=sys.stderr)
    return Explorer(hub.load(BUNDLED_MODEL), "bundled: pretrained/", warning)


def return_freed_memory(every: float = TRIM_SECONDS) -> None:
    """Every `every` seconds, hand back to the system the memory glibc keeps free after large requests: without
    it, the server's resident memory grows with every large (even refused) request (bench/README.md)."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return

    def loop():
        while True:
            time.sleep(every)
            trim(0)

    threading.Thread(target=loop, name="malloc-trim", daemon=True).start()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model",
        default=os.environ.get("GAN_MODEL"),
        help="saved-model or run folder, or hf://owner/name[@revision] (default: $GAN_MODEL, else the bundled model)",
    )
    parser.add_argument("--host", help="address to listen on (default: 127.0.0.1; 0.0.0.0 on Hugging Face Spaces)")
    parser.add_argument("--port", type=int, help="port (default: 7860, or the next free one)")
    args = parser.parse_args(argv)
    on_spaces = "SPACE_ID" in os.environ
    explorer = load_explorer(args.model)
    inside = Inside(explorer)
    demo = build_demo(explorer, inside)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)

    def stop(*_):
        """Ctrl-C or SIGTERM (what `kill`, systemd and containers send): close the server, so that Gradio
        deletes the files it cached (`delete_cache`); the explorer's own folder goes in `finally` below."""
        if not demo.is_running:  # still starting
            raise KeyboardInterrupt
        demo.close()

    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, stop)
    return_freed_memory()
    # The first inversion traces a compiled step (tens of seconds on 2 cores): done before a visitor asks.
    threading.Thread(target=inside.warm_up, name="inversion-warm-up", daemon=True).start()
    try:
        demo.launch(
            server_name=args.host or ("0.0.0.0" if on_spaces else "127.0.0.1"),
            server_port=args.port or (7860 if on_spaces else None),
            show_error=True,
            **LAUNCH_OPTIONS,
        )
    finally:
        demo.close()
        explorer.files.close()


if __name__ == "__main__":
    main()

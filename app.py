"""Latent-space explorer for a gan_core generator: a Gradio app, also a Hugging Face Space.

    python app.py                        # the bundled model in pretrained/
    python app.py --model runs/my-run    # a saved-model or train.py run folder (or GAN_MODEL=...)
    python app.py --model hf://alice/fashion-gan[@revision]   # a model on the Hugging Face Hub

Every action is a named API endpoint (see the "Use via API" link, or
`gradio_client.Client(url).view_api()`). The page itself lives in `explorer/`.
"""

import argparse
import os
import sys
from pathlib import Path

from explorer.handlers import Explorer
from explorer.ui import LAUNCH_OPTIONS, build_demo
from gan_core import hub
from gan_core.saved_model import ModelFolderError

BUNDLED_MODEL = Path(__file__).resolve().parent / "pretrained"
QUEUE_SIZE = 64
CONCURRENCY = 2  # one generator call per CPU core


def load_explorer(source: str | None) -> Explorer:
    """An explorer over `source` (a folder or `hf://owner/name[@revision]`), or over the bundled
    model with a warning when `source` fails."""
    warning = None
    if source:
        try:
            return Explorer(hub.load(source), source)
        except (hub.HubError, ModelFolderError, OSError, ValueError) as error:
            warning = f"Could not load the model {source!r}: {error} Showing the bundled model instead."
            print(f"app.py: warning: {warning}", file=sys.stderr)
    return Explorer(hub.load(BUNDLED_MODEL), "bundled: pretrained/", warning)


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
    demo = build_demo(explorer)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    try:
        demo.launch(
            server_name=args.host or ("0.0.0.0" if on_spaces else "127.0.0.1"),
            server_port=args.port or (7860 if on_spaces else None),
            show_error=True,
            **LAUNCH_OPTIONS,
        )
    finally:
        explorer.files.close()


if __name__ == "__main__":
    main()

"""Latent-space explorer for a gan_core generator: a Gradio app, also a Hugging Face Space.

    python app.py                        # the bundled model in pretrained/
    python app.py --model runs/my-run    # a saved-model or train.py run folder (or GAN_MODEL=...)
    python app.py --model hf://alice/fashion-gan[@revision]   # a model on the Hugging Face Hub

Every action is a named API endpoint (see the "Use via API" link, or
`gradio_client.Client(url).view_api()`). Latents travel as JSON, so an image
found here can be shared exactly.
"""

import argparse
import json
import math
import os
import secrets
import sys
import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from gan_core import hub
from gan_core import latent as latents
from gan_core.samples import image_grid
from gan_core.saved_model import ModelFolderError, SavedGenerator

BUNDLED_MODEL = Path(__file__).resolve().parent / "pretrained"
LATENT_FORMAT = "gan_core.latent/1"
MAX_IMAGES = 64
FRAMES = (2, 120)
TRUNCATION = (0.0, 2.0)
DIRECTION_STRENGTH = (-5.0, 5.0)
NUM_DIRECTIONS = 8
TILE_PIXELS = 112  # tiles are upscaled (nearest neighbour) to about this size
CAPTION_PIXELS = 14
KEPT_GIFS = 32
MAX_LATENT_JSON = 100_000  # characters; a 512-d latent takes about 12,000


class Explorer:
    """The app's handlers over one generator. Every input is checked here, on the server:
    a bad value raises `gr.Error` with a message for the user, and nothing else changes."""

    def __init__(self, generator: SavedGenerator, source: str, warning: str | None = None):
        self.generator = generator
        self.source = source
        self.warning = warning
        self.hub_url = hub.repo_url(hub.parse_source(source)[0]) if source.startswith(hub.HF_PREFIX) else None
        self.scale = max(1, TILE_PIXELS // generator.image_shape[0])
        self.directions, self.eigenvalues = latents.sefa_directions(
            generator.first_layer_kernel(), generator.latent_dim
        )
        self.directions = self.directions[:NUM_DIRECTIONS]
        self.gif_dir = Path(tempfile.mkdtemp(prefix="gan-explorer-"))
        generator.warm_up()

    # ---- checking inputs -------------------------------------------------------------------

    @staticmethod
    def _number(value, name: str, low: float, high: float, integer: bool = False):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise gr.Error(f"{name} must be a number, got {value!r}.") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise gr.Error(f"{name} must be a finite number, got {value!r}.")
        if integer and value != int(value):
            raise gr.Error(f"{name} must be a whole number, got {value}.")
        if not low <= value <= high:
            low, high, value = (f"{v:.0f}" if integer else f"{v:g}" for v in (low, high, value))
            raise gr.Error(f"{name} must be in {low} … {high}, got {value}.")
        return int(value) if integer else float(value)

    def _seed(self, value, name: str = "Seed") -> int:
        return self._number(value, name, 0, latents.MAX_SEED, integer=True)

    def _label(self, class_name) -> int | None:
        """The label index for a class name, or None for an unconditional model."""
        if not self.generator.num_classes:
            if class_name not in (None, ""):
                raise gr.Error("This model is unconditional: it takes no class.")
            return None
        names = self.generator.class_names
        if class_name not in names:
            raise gr.Error(f"Unknown class {class_name!r}; choose one of: {', '.join(names)}.")
        return names.index(class_name)

    def _latent_or_seed(self, latent_json, seed, class_name, name: str) -> tuple[np.ndarray, int | None]:
        """A latent (and label) from a JSON export when one is given, else from a seed."""
        if latent_json not in (None, ""):
            return self.parse_latent(latent_json, name)
        return latents.latent_from_seed(self._seed(seed, f"{name} seed"), self.generator.latent_dim), self._label(
            class_name
        )

    # ---- latents as JSON -------------------------------------------------------------------

    def latent_json(self, z: np.ndarray, label: int | None) -> str:
        """The shareable form of a latent: floats written exactly, so importing gives the same image."""
        return json.dumps(
            {
                "format": LATENT_FORMAT,
                "model": self.generator.model_id,
                "latent_dim": self.generator.latent_dim,
                "label": label,
                "class": None if label is None else self.generator.class_names[label],
                "latent": [float(value) for value in z],
            }
        )

    def parse_latent(self, text, name: str = "Latent") -> tuple[np.ndarray, int | None]:
        if isinstance(text, str) and len(text) > MAX_LATENT_JSON:
            raise gr.Error(f"{name}: the latent JSON is too long ({len(text)} characters, at most {MAX_LATENT_JSON}).")
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as error:
            raise gr.Error(f"{name}: not valid latent JSON ({error}).") from None
        if not isinstance(data, dict) or data.get("format") != LATENT_FORMAT:
            raise gr.Error(f"{name}: not a latent exported by this app (format must be {LATENT_FORMAT!r}).")
        if data.get("model") != self.generator.model_id:
            raise gr.Error(
                f"{name} belongs to another model ({data.get('model')!r}); this app runs {self.generator.model_id!r}."
            )
        vector = data.get("latent")
        dim = self.generator.latent_dim
        if not isinstance(vector, list) or len(vector) != dim:
            raise gr.Error(f"{name}: the latent must be a list of {dim} numbers.")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vector):
            raise gr.Error(f"{name}: the latent must contain finite numbers only.")
        label = data.get("label")
        if self.generator.num_classes:
            if not isinstance(label, int) or not 0 <= label < self.generator.num_classes:
                raise gr.Error(f"{name}: label must be a class index in 0 … {self.generator.num_classes - 1}.")
        elif label is not None:
            raise gr.Error(f"{name}: this model is unconditional, the label must be null.")
        return np.asarray(vector, dtype="float32"), label

    # ---- pictures ----------------------------------------------------------------------------

    @staticmethod
    def _picture(image: np.ndarray) -> np.ndarray:
        """HW for grey, HWC for colour: the shapes image libraries take."""
        return image[..., 0] if image.shape[-1] == 1 else image

    def _render(self, z: np.ndarray, label: int | None) -> np.ndarray:
        images = self.generator.generate(latents=z, labels=None if label is None else [label] * len(z))
        return images.repeat(self.scale, axis=1).repeat(self.scale, axis=2)

    def _render_one(self, z: np.ndarray, label: int | None) -> np.ndarray:
        """The picture of one latent."""
        return self._picture(self._render(z[None], label)[0])

    @staticmethod
    def _captioned_grid(tiles: np.ndarray, captions: list[str], columns: int) -> np.ndarray:
        """Tiles in a grid with a caption under each (e.g. its seed)."""
        n, height, width, channels = tiles.shape
        padded = np.full((n, height + CAPTION_PIXELS, width, channels), 255, dtype="uint8")
        padded[:, :height] = tiles
        grid = Image.fromarray(Explorer._picture(image_grid(padded, columns=columns, padding=4)))
        draw = ImageDraw.Draw(grid)
        for i, caption in enumerate(captions):
            left = 4 + (i % columns) * (width + 4)
            top = 4 + (i // columns) * (height + CAPTION_PIXELS + 4) + height + 1
            draw.text((left + 2, top), caption, fill=0)
        return np.asarray(grid)

    # ---- handlers (one per API endpoint) -----------------------------------------------------

    def sample(self, seed, count, truncation, class_name, tile=1):
        """A grid of `count` images for seeds seed, seed+1, …; and the latent of tile `tile` as JSON."""
        seed = self._seed(seed)
        count = self._number(count, "Number of images", 1, MAX_IMAGES, integer=True)
        psi = self._number(truncation, "Truncation ψ", *TRUNCATION)
        tile = self._number(tile, "Tile to export", 1, count, integer=True)
        label = self._label(class_name)
        seeds = [(seed + i) % (latents.MAX_SEED + 1) for i in range(count)]
        z = latents.truncate(latents.latents_from_seeds(seeds, self.generator.latent_dim), psi)
        tiles = self._render(z, label)
        grid = self._captioned_grid(tiles, [f"seed {s}" for s in seeds], columns=min(count, 8))
        return grid, self.latent_json(z[tile - 1], label)

    def render_latent(self, latent_json):
        """The image of an exported latent: the same bytes as where it was exported."""
        z, label = self.parse_latent(latent_json)
        return self._render_one(z, label)

    def interpolate(self, seed_a, seed_b, latent_a, latent_b, frames, mode, class_name):
        """A frame strip and an animated GIF from A to B (each a seed, or a latent JSON if given)."""
        frames = self._number(frames, "Frames", *FRAMES, integer=True)
        if mode not in latents.INTERPOLATIONS:
            raise gr.Error(f"Interpolation must be one of {', '.join(latents.INTERPOLATIONS)}, got {mode!r}.")
        start, label_a = self._latent_or_seed(latent_a, seed_a, class_name, "A")
        end, label_b = self._latent_or_seed(latent_b, seed_b, class_name, "B")
        if label_a != label_b:
            raise gr.Error("A and B must have the same class to interpolate between them.")
        tiles = self._render(latents.interpolate(start, end, frames, mode), label_a)
        strip = self._picture(image_grid(tiles, columns=min(frames, 10), padding=2))
        return strip, self._write_gif(tiles)

    def steer(self, seed, latent_json, class_name, *strengths):
        """The base latent moved along the SeFa directions by the given strengths."""
        if len(strengths) != len(self.directions):
            raise gr.Error(f"Give {len(self.directions)} direction strengths, got {len(strengths)}.")
        z, label = self._latent_or_seed(latent_json, seed, class_name, "Base")
        for i, strength in enumerate(strengths):
            z = z + self._number(strength, f"Direction {i + 1}", *DIRECTION_STRENGTH) * self.directions[i]
        return self._render_one(z, label), self.latent_json(z, label)

    def arithmetic(self, seed_a, seed_b, seed_c, class_name):
        """z_A − z_B + z_C, with the three inputs beside the result."""
        z_a, z_b, z_c = (
            self._seed(seed, f"Seed {name}") for seed, name in ((seed_a, "A"), (seed_b, "B"), (seed_c, "C"))
        )
        label = self._label(class_name)
        inputs = latents.latents_from_seeds([z_a, z_b, z_c], self.generator.latent_dim)
        result = inputs[0] - inputs[1] + inputs[2]
        strip = self._captioned_grid(self._render(inputs, label), ["A", "B", "C"], columns=3)
        return strip, self._render_one(result, label), self.latent_json(result, label)

    @staticmethod
    def random_seed() -> int:
        return secrets.randbelow(latents.MAX_SEED + 1)

    def model_info(self) -> dict:
        return {"source": self.source, "hub_url": self.hub_url, "model_id": self.generator.model_id,
                "warning": self.warning, **self.generator.metadata}  # fmt: skip

    def _write_gif(self, tiles: np.ndarray) -> str:
        frames = [Image.fromarray(self._picture(tile)) for tile in tiles]
        with tempfile.NamedTemporaryFile(dir=self.gif_dir, suffix=".gif", delete=False) as file:
            frames[0].save(file, format="GIF", save_all=True, append_images=frames[1:], duration=40, loop=0)
        for old in sorted(self.gif_dir.glob("*.gif"), key=lambda path: path.stat().st_mtime)[:-KEPT_GIFS]:
            old.unlink(missing_ok=True)
        return file.name

    def about_markdown(self) -> str:
        meta = self.generator.metadata
        height, width, channels = self.generator.image_shape
        training = meta.get("training", {})
        lines = [
            f"**Model** `{self.source}` (id `{self.generator.model_id}`)"
            + (f" · [on the Hugging Face Hub]({self.hub_url})" if self.hub_url else ""),
            f"**Data set** {meta.get('dataset', 'unknown')}: {height}×{width}, {'grey' if channels == 1 else 'RGB'}",
            f"**Latent** {self.generator.latent_dim} dimensions, "
            + (
                f"conditional on {self.generator.num_classes} classes"
                if self.generator.num_classes
                else "unconditional"
            ),
            f"**Training** {meta.get('epochs', '?')} epochs, {training.get('images_seen', '?')} images seen, "
            f"{training.get('train_seconds', '?')} s; final {training.get('final', {})}",
            f"**Recipe** `{json.dumps(meta.get('recipe', {}))}`",
            self._quality_line(meta.get("quality")),
            "**Directions** SeFa eigenvalues: "
            + ", ".join(f"{value:.3g}" for value in self.eigenvalues[:NUM_DIRECTIONS]),
        ]
        return "\n\n".join(lines)

    @staticmethod
    def _quality_line(quality: dict | None) -> str:
        if not quality:
            return "**Quality** not measured (`python -m gan_core.evaluate MODEL --write` adds it)"
        shown = ("fd", "precision", "recall", "class_match", "real_vs_real_fd")
        return f"**Quality** on {quality.get('n', '?')} samples: " + ", ".join(
            f"{name} {quality[name]}" for name in shown if name in quality
        )


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


def build_demo(explorer: Explorer) -> gr.Blocks:
    gen = explorer.generator
    conditional = bool(gen.num_classes)
    classes = gen.class_names if conditional else []
    default_class = classes[0] if conditional else None

    def class_picker():
        return gr.Dropdown(classes, value=default_class, label="Class", visible=conditional)

    def latent_box(label):
        return gr.Textbox(label=label, lines=2, max_lines=4, placeholder="paste a latent JSON here (optional)")

    with gr.Blocks(title="GAN latent explorer") as demo:
        gr.Markdown(f"# GAN latent explorer\n{gen.metadata.get('dataset', '')} generator · `{explorer.source}`")
        gr.Markdown(f"⚠️ **{explorer.warning}**", visible=explorer.warning is not None, elem_id="model-warning")

        with gr.Tab("Sample"):
            with gr.Row():
                seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=latents.MAX_SEED, elem_id="seed")
                random_button = gr.Button("Random seed", scale=0)
                count = gr.Slider(1, MAX_IMAGES, 16, step=1, label="Images")
                psi = gr.Slider(*TRUNCATION, 1.0, step=0.05, label="Truncation ψ")
                sample_class = class_picker()
            generate = gr.Button("Generate", variant="primary", elem_id="generate")
            grid = gr.Image(label="Samples (download: PNG)", format="png", buttons=["download"], elem_id="grid")
            with gr.Row():
                tile = gr.Number(1, label="Tile to export", precision=0, minimum=1, maximum=MAX_IMAGES)
                sample_latent = gr.Textbox(label="Latent of that tile (JSON)", lines=2, max_lines=4, buttons=["copy"])
            with gr.Row():
                to_steer = gr.Button("Steer it in Directions")
                to_a = gr.Button("Use as A in Interpolate")
                to_b = gr.Button("Use as B in Interpolate")

        with gr.Tab("Interpolate"):
            with gr.Row():
                seed_a = gr.Number(0, label="Seed A", precision=0, minimum=0, maximum=latents.MAX_SEED)
                seed_b = gr.Number(1, label="Seed B", precision=0, minimum=0, maximum=latents.MAX_SEED)
                frames = gr.Slider(*FRAMES, 30, step=1, label="Frames")
                mode = gr.Radio(list(latents.INTERPOLATIONS), value="slerp", label="Path")
                interpolate_class = class_picker()
            with gr.Row():
                latent_a, latent_b = (
                    latent_box("Latent A (overrides seed A)"),
                    latent_box("Latent B (overrides seed B)"),
                )
            interpolate_button = gr.Button("Interpolate", variant="primary")
            with gr.Row():
                strip = gr.Image(label="Frames", format="png", buttons=["download"])
                gif = gr.Image(label="Animation", type="filepath", buttons=["download"])

        with gr.Tab("Directions"):
            gr.Markdown("Closed-form semantic directions (SeFa): the latent directions that change the image most.")
            with gr.Row():
                steer_seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=latents.MAX_SEED)
                steer_class = class_picker()
                reset = gr.Button("Reset sliders", scale=0)
            steer_base = latent_box("Base latent (overrides the seed)")
            with gr.Row():
                with gr.Column():
                    sliders = [
                        gr.Slider(
                            *DIRECTION_STRENGTH, 0.0, step=0.1, label=f"Direction {i + 1}", elem_id=f"direction-{i + 1}"
                        )
                        for i in range(len(explorer.directions))
                    ]
                with gr.Column():
                    steered = gr.Image(label="Steered", format="png", buttons=["download"], elem_id="steered")
                    steered_latent = gr.Textbox(label="Steered latent (JSON)", lines=2, max_lines=4, buttons=["copy"])

        with gr.Tab("Arithmetic"):
            with gr.Row():
                arith_seeds = [
                    gr.Number(value, label=f"Seed {name}", precision=0, minimum=0, maximum=latents.MAX_SEED)
                    for value, name in ((0, "A"), (1, "B"), (2, "C"))
                ]
                arith_class = class_picker()
            arith_button = gr.Button("A − B + C", variant="primary")
            with gr.Row():
                arith_inputs = gr.Image(label="A, B, C", format="png")
                arith_result = gr.Image(label="A − B + C", format="png", buttons=["download"])
            arith_latent = gr.Textbox(label="Result latent (JSON)", lines=2, max_lines=4, buttons=["copy"])

        with gr.Tab("Import"):
            import_box = latent_box("Latent JSON")
            import_button = gr.Button("Show", variant="primary")
            imported = gr.Image(label="Image", format="png", buttons=["download"])

        with gr.Tab("About"):
            gr.Markdown(explorer.about_markdown())
            samples = gen.path / "samples.png"
            gr.Image(str(samples) if samples.exists() else None, label="Samples from training", format="png")
            info = gr.JSON(label="gan.json", value=None, visible=False)

        def action(triggers, fn, inputs, outputs, api_name):
            # preprocess=False: handlers get raw values and check them themselves, alike for the UI and the API.
            return gr.on(triggers, fn, inputs, outputs, api_name=api_name, preprocess=False)

        action(
            [generate.click], explorer.sample, [seed, count, psi, sample_class, tile], [grid, sample_latent], "sample"
        )
        action([random_button.click], explorer.random_seed, None, seed, "random_seed")
        interpolate_inputs = [seed_a, seed_b, latent_a, latent_b, frames, mode, interpolate_class]
        action([interpolate_button.click], explorer.interpolate, interpolate_inputs, [strip, gif], "interpolate")
        steer_inputs = [steer_seed, steer_base, steer_class, *sliders]
        action([slider.release for slider in sliders], explorer.steer, steer_inputs, [steered, steered_latent], "steer")
        reset.click(lambda: [0.0] * len(sliders), None, sliders, api_name=False).then(
            explorer.steer, steer_inputs, [steered, steered_latent], api_name=False
        )
        arithmetic_outputs = [arith_inputs, arith_result, arith_latent]
        action([arith_button.click], explorer.arithmetic, [*arith_seeds, arith_class], arithmetic_outputs, "arithmetic")
        action([import_button.click], explorer.render_latent, import_box, imported, "render_latent")
        demo.load(explorer.model_info, None, info, api_name="model_info")
        # Something to look at straight away: the first grid and the unsteered Directions image.
        gr.on([demo.load], explorer.sample, [seed, count, psi, sample_class, tile], [grid, sample_latent],
              api_name=False, preprocess=False)  # fmt: skip
        gr.on([demo.load], explorer.steer, steer_inputs, [steered, steered_latent], api_name=False, preprocess=False)

        to_steer.click(lambda text: text, sample_latent, steer_base, api_name=False)
        to_a.click(lambda text: text, sample_latent, latent_a, api_name=False)
        to_b.click(lambda text: text, sample_latent, latent_b, api_name=False)
    return demo


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
    demo = build_demo(load_explorer(args.model))
    demo.queue(max_size=64, default_concurrency_limit=1)
    demo.launch(
        server_name=args.host or ("0.0.0.0" if on_spaces else "127.0.0.1"),
        server_port=args.port or (7860 if on_spaces else None),
        show_error=True,
    )


if __name__ == "__main__":
    main()

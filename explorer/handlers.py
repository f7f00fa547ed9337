"""The explorer's actions over one generator, with no UI in them.

Each action checks every input on the server and raises ValueError with a
message for the user; the UI turns those into `gr.Error` in one place
(`explorer.ui`). Pictures come back as named files (`explorer.pictures`).
"""

import dataclasses
import re
import secrets

import numpy as np

from explorer import pictures
from explorer.checks import choice, flag, number, shown, text
from explorer.view import View, parse_query
from gan_core import hub
from gan_core import latent as latents
from gan_core.saved_model import SavedGenerator

PSI_RANGE = (0.0, 2.0)
MAX_IMAGES = 64
FRAMES = (2, 120)
INTERPOLATION_TILES = 8  # frames shown (and clickable) beside the animation
NUM_DIRECTIONS = 8
DEFAULT_LIMIT = 3.0  # a slider's bound when the model's gan.json has no measured limits
PREVIEW_STEPS = 7  # frames in a direction's preview strip
MAX_OPERAND_SEEDS = 64
MAX_QUERY_CHARS = 20_000  # a share link's query; one with a 512-d latent (z=…) takes about 2,800


def shown_frames(frames: int) -> np.ndarray:
    """Which of `frames` interpolation frames are shown as tiles: INTERPOLATION_TILES, evenly spaced, ends included."""
    return np.linspace(0, frames - 1, min(frames, INTERPOLATION_TILES)).round().astype(int)


class Explorer:
    """The actions of the app over one generator (`source` says where it came from)."""

    def __init__(self, generator: SavedGenerator, source: str, warning: str | None = None):
        self.generator = generator
        self.source = source
        self.warning = warning
        self.hub_url = hub.repo_url(hub.parse_source(source)[0]) if source.startswith(hub.HF_PREFIX) else None
        num_classes = generator.num_classes or 0
        names = generator.class_names or [f"class {i}" for i in range(num_classes)]
        self.class_names = list(names) if num_classes else []
        directions, eigenvalues = latents.sefa_directions(generator.first_layer_kernel(), generator.latent_dim)
        self.directions, self.eigenvalues = directions[:NUM_DIRECTIONS], eigenvalues[:NUM_DIRECTIONS]
        self.limits, self.limits_measured = self._measured_limits(generator.metadata.get("directions"))
        self.files = pictures.FileWriter()
        generator.warm_up()

    def _measured_limits(self, entry) -> tuple[list[tuple[float, float]], bool]:
        """The sliders' bounds: measured ones from gan.json (`python -m gan_core.evaluate --directions`),
        else ±DEFAULT_LIMIT."""
        default = [(-DEFAULT_LIMIT, DEFAULT_LIMIT)] * len(self.directions)
        limits = entry.get("limits") if isinstance(entry, dict) else None
        try:
            measured = [(float(low), float(high)) for low, high in limits[: len(self.directions)]]
        except (TypeError, ValueError):
            return default, False
        if len(measured) != len(default) or not all(-100 <= low < 0 < high <= 100 for low, high in measured):
            return default, False
        return measured, True

    @property
    def conditional(self) -> bool:
        return bool(self.class_names)

    # ---- checking inputs ---------------------------------------------------------------------

    @staticmethod
    def _seed(value, name: str = "Seed") -> int:
        return number(value, name, 0, latents.MAX_SEED, integer=True)

    def _label(self, class_name, seed: int = 0) -> int | None:
        """The class index for a name; without one, a conditional model draws seed i in class i mod classes."""
        if not self.conditional:
            if class_name not in (None, ""):
                raise ValueError("This model is unconditional: it takes no class.")
            return None
        if class_name in (None, ""):
            return int(latents.labels_for_seeds([seed], len(self.class_names))[0])
        if not isinstance(class_name, str) or class_name not in self.class_names:
            raise ValueError(f"Unknown class {shown(class_name)}; choose one of: {', '.join(self.class_names)}.")
        return self.class_names.index(class_name)

    def _strengths(self, strengths) -> tuple[float, ...]:
        if len(strengths) != len(self.directions):
            raise ValueError(f"Give {len(self.directions)} direction strengths, got {len(strengths)}.")
        return tuple(
            number(s, f"Direction {i + 1}", *limit)
            for i, (s, limit) in enumerate(zip(strengths, self.limits, strict=True))
        )

    def latent(self, text, name: str = "Latent") -> tuple[np.ndarray, int | None]:
        gen = self.generator
        return latents.latent_from_json(text, gen.model_id, gen.latent_dim, gen.num_classes, name)

    def view(self, seed, psi, class_name, base, *strengths) -> View:
        """The view the UI's controls describe; `base` (a latent JSON, optional) replaces the seed's latent."""
        seed = self._seed(seed)
        psi = number(psi, "Truncation ψ", *PSI_RANGE)
        start, start_label = (None, None) if base in (None, "") else self.latent(base, "Base latent")
        use_start_label = class_name in (None, "") and start_label is not None
        label = start_label if use_start_label else self._label(class_name, seed)
        return View(seed, psi, label, start, self._strengths(strengths))

    def _operand(self, spec, class_name, name: str) -> tuple[np.ndarray, int | None, str]:
        """A latent, its class and a short name from a seed (`7`), seeds to average (`3, 8, 12`: their
        mean latent, put back on the shell) or a latent JSON."""
        expected = f"{name} must be a seed, seeds to average (3, 8, 12) or a latent JSON"
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec = str(self._seed(spec, f"{name}'s seed"))
        if not isinstance(spec, str):
            raise ValueError(f"{expected}, got {shown(spec)}.")
        text(spec, name, latents.MAX_LATENT_JSON)
        if not spec.strip():
            raise ValueError(f"{name} is empty: give a seed, seeds to average (3, 8, 12) or a latent JSON.")
        if spec.lstrip().startswith("{"):
            z, label = self.latent(spec, name)
            return z, label, View(0, 1.0, label, z).caption(self.class_names)
        tokens = re.split(r"[\s,]+", spec.strip())
        if not all(token.isdigit() for token in tokens):
            raise ValueError(f"{expected}, got {shown(spec)}.")
        if len(tokens) > MAX_OPERAND_SEEDS:
            raise ValueError(f"{name}: average at most {MAX_OPERAND_SEEDS} seeds, got {len(tokens)}.")
        seeds = [self._seed(token, f"{name}'s seed") for token in tokens]
        dim = self.generator.latent_dim
        z = (
            latents.latent_from_seed(seeds[0], dim)
            if len(seeds) == 1
            else latents.to_shell(latents.mean_latent(seeds, dim))
        )
        short = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean of {len(seeds)} seeds"
        return z, self._label(class_name, seeds[0]), short

    # ---- pictures --------------------------------------------------------------------------------

    def images(self, z: np.ndarray, labels=None) -> np.ndarray:
        """uint8 NHWC images of latents `z`; `labels` one class for all, a class each, or class-mixing weights.
        A latent far off the shell (finite, but entries near float32's limit) can overflow inside the network:
        its picture is then flat, without a warning in the log for each such request."""
        with np.errstate(invalid="ignore", over="ignore"):
            return self.generator.generate(latents=z, labels=labels)

    @staticmethod
    def _path(start: np.ndarray, end: np.ndarray, t: np.ndarray, mode: str) -> np.ndarray:
        """The latents t of the way from A to B by `mode`: slerp needs both ends off zero (a latent of all
        zeros has no direction to follow on the sphere), and every point must stay within float32."""
        if mode == "slerp":
            for z, name in ((start, "A"), (end, "B")):
                if not np.any(z):
                    raise ValueError(f"{name} is all zeros: slerp has no direction to follow from it; choose lerp.")
        with np.errstate(over="ignore", invalid="ignore"):
            path = latents.INTERPOLATIONS[mode](start, end, t)
        if not np.all(np.isfinite(path)):
            raise ValueError("The path from A to B leaves float32's range; use latents of a typical size.")
        return path

    def _picture(self, z: np.ndarray, label: int | None, stem: str) -> str:
        """The file of one latent's picture at the current image's size."""
        return self.files.png(pictures.upscale(self.images(z[None], label), pictures.CURRENT_PIXELS)[0], stem)

    def _mix(self, start: int | None, end: int | None, t: np.ndarray):
        """Class-mixing weights t of the way from class `start` to `end` (None for an unconditional model)."""
        if start is None:
            return None
        eye = np.eye(len(self.class_names), dtype="float32")
        return (1 - t)[:, None] * eye[start] + t[:, None] * eye[end]

    def latent_controls(self, latent_json) -> list:
        """The control values that show a latent JSON exactly: it as the base, ψ 1, every slider at 0."""
        z, label = self.latent(latent_json)
        return self.view_controls(View(0, 1.0, label, z, (0.0,) * len(self.directions)))

    @staticmethod
    def read_latent_file(path) -> str:
        """The text of an uploaded latent file, read no further than a latent JSON can be long."""
        try:
            with open(path, encoding="utf-8") as file:
                return file.read(latents.MAX_LATENT_JSON + 1)
        except (OSError, UnicodeDecodeError, TypeError) as error:  # TypeError: not a path at all
            raise ValueError(f"Cannot read the uploaded file as text: {shown(str(error))}") from None

    def latent_json(self, z: np.ndarray, label: int | None) -> str:
        return latents.latent_to_json(z, label, self.generator.model_id, self.class_names)

    def view_controls(self, view: View) -> list:
        """The UI's control values that show `view`: seed, ψ, class name, base latent JSON (or ""), strengths."""
        base = "" if view.base is None else self.latent_json(view.base, view.label)
        name = None if view.label is None else self.class_names[view.label]
        return [view.seed, view.psi, name, base, *view.strengths]

    # ---- actions (one per API endpoint) -----------------------------------------------------------

    def render(self, seed, psi, class_name, base, *strengths):
        """The current image; its caption, its latent as JSON, the query of a link that reopens it, and the
        latent as a file to download."""
        view = self.view(seed, psi, class_name, base, *strengths)
        z = view.latent(self.directions)
        stem, exported = view.stem(self.class_names), self.latent_json(z, view.label)
        return (self._picture(z, view.label, stem), view.caption(self.class_names), exported,
                view.query(self.class_names), self.files.json(exported, stem))  # fmt: skip

    def previews(self, seed, psi, class_name, base, *strengths) -> list[str]:
        """For each direction, the current image at PREVIEW_STEPS slider positions from its low to its high end."""
        view = self.view(seed, psi, class_name, base, *strengths)
        z = view.latent(self.directions)
        batch = []
        for direction, strength, (low, high) in zip(self.directions, view.strengths, self.limits, strict=True):
            batch += [z + (s - strength) * direction for s in np.linspace(low, high, PREVIEW_STEPS)]
        images = self.images(np.stack(batch), view.label)
        images = images.reshape(len(self.directions), PREVIEW_STEPS, *images.shape[1:])
        stem = view.stem(self.class_names)
        return self.files.pngs(
            [pictures.strip(row) for row in images], [f"{stem}-d{i + 1}" for i in range(len(images))]
        )

    def classes(self, seed, psi, class_name, base, *strengths) -> list[tuple[str, str]]:
        """The current latent in every class (a gallery: file, class name)."""
        if not self.conditional:
            return []
        view = self.view(seed, psi, class_name, base, *strengths)
        z = view.latent(self.directions)
        count = len(self.class_names)
        tiles = pictures.upscale(self.images(np.repeat(z[None], count, axis=0), np.arange(count)), pictures.TILE_PIXELS)
        stems = [dataclasses.replace(view, label=label).stem(self.class_names) for label in range(count)]
        return list(zip(self.files.pngs(tiles, stems), self.class_names, strict=True))

    def samples(self, start, count, psi, class_name, every_class=False) -> list[tuple[str, str]]:
        """Images of seeds start, start+1, … (a gallery: file, caption) in `class_name`. With `every_class`
        (or no class), a conditional model draws seed i in class i mod classes: the grid shows every class."""
        psi = number(psi, "Truncation ψ", *PSI_RANGE)
        views = [View(seed, psi, label) for seed, label in self._sample_seeds(start, count, class_name, every_class)]
        z = latents.truncate(latents.latents_from_seeds([view.seed for view in views], self.generator.latent_dim), psi)
        labels = None if views[0].label is None else np.asarray([view.label for view in views])
        tiles = pictures.upscale(self.images(z, labels), pictures.TILE_PIXELS)
        paths = self.files.pngs(tiles, [view.stem(self.class_names) for view in views])
        return list(zip(paths, [view.caption(self.class_names) for view in views], strict=True))

    def sample_pick(self, start, count, class_name, every_class, index) -> tuple[int, str | None]:
        """The seed and class of tile `index` of the `samples` page drawn with these arguments."""
        seeds = self._sample_seeds(start, count, class_name, every_class)
        seed, label = seeds[number(index, "Tile", 0, len(seeds) - 1, integer=True)]
        return seed, None if label is None else self.class_names[label]

    def _sample_seeds(self, start, count, class_name, every_class) -> list[tuple[int, int | None]]:
        flag(every_class, "Every class")
        start = self._seed(start, "First seed")
        count = number(count, "Number of images", 1, MAX_IMAGES, integer=True)
        seeds = [(start + i) % (latents.MAX_SEED + 1) for i in range(count)]
        return [(seed, self._label(None if every_class else class_name, seed)) for seed in seeds]

    def class_morph(self, latent_json, to_class, frames) -> str:
        """An animation of one latent morphing from its class into `to_class`: z stays, the label
        embedding is interpolated."""
        if not self.conditional:
            raise ValueError("This model is unconditional: it has no classes to morph between.")
        z, label = self.latent(latent_json, "Current latent")
        if to_class in (None, ""):
            raise ValueError("Choose a class to morph into.")
        target = self._label(to_class)
        frames = number(frames, "Frames", *FRAMES, integer=True)
        images = self.images(np.repeat(z[None], frames, axis=0), self._mix(label, target, np.linspace(0, 1, frames)))
        stem = f"{View(0, 1.0, label, z).stem(self.class_names)}-to-{pictures.slug(self.class_names[target])}"
        return self.files.gif(pictures.upscale(images, pictures.TILE_PIXELS * 2), stem)

    def interpolate(self, a, b, frames, mode, class_name):
        """From A to B (each a seed, seeds to average, or a latent JSON): INTERPOLATION_TILES frames to
        click on (a gallery) and an animation of `frames` frames. Between two classes the class morphs too."""
        frames = number(frames, "Frames", *FRAMES, integer=True)
        mode = choice(mode, "Interpolation", list(latents.INTERPOLATIONS))
        (start, label_a, name_a), (end, label_b, name_b) = (
            self._operand(a, class_name, "A"),
            self._operand(b, class_name, "B"),
        )
        t = np.linspace(0.0, 1.0, frames)
        images = self.images(self._path(start, end, t, mode), self._mix(label_a, label_b, t))
        stem = pictures.slug(name_a, "to", name_b, mode)
        picks = shown_frames(frames)
        tiles = pictures.upscale(images[picks], pictures.TILE_PIXELS)
        paths = self.files.pngs(tiles, [f"{stem}-{i}" for i in picks])
        return list(zip(paths, [f"t = {t[i]:.2f}" for i in picks], strict=True)), self.files.gif(
            pictures.upscale(images, pictures.TILE_PIXELS * 2), stem
        )

    def interpolation_frame(self, a, b, mode, class_name, t):
        """The latent (JSON) and class of the frame t ∈ [0, 1] of the way from A to B; its class is the
        nearer end's."""
        t = number(t, "t", 0.0, 1.0)
        mode = choice(mode, "Interpolation", list(latents.INTERPOLATIONS))
        (start, label_a, _), (end, label_b, _) = self._operand(a, class_name, "A"), self._operand(b, class_name, "B")
        z = self._path(start, end, np.asarray([t]), mode)[0]
        label = label_a if t < 0.5 else label_b
        return self.latent_json(z, label), None if label is None else self.class_names[label]

    def interpolation_tile(self, a, b, frames, mode, class_name, index):
        """The latent (JSON) and class of tile `index` of the `interpolate` gallery drawn with these arguments."""
        frames = number(frames, "Frames", *FRAMES, integer=True)
        tiles = shown_frames(frames)
        index = number(index, "Tile", 0, len(tiles) - 1, integer=True)
        return self.interpolation_frame(a, b, mode, class_name, float(np.linspace(0.0, 1.0, frames)[tiles[index]]))

    def arithmetic(self, a, b, c, class_name):
        """A − B + C, put back on the shell where Gaussian latents live, drawn in A's class: the operands and
        the result (a gallery: file, caption), and the result's latent as JSON."""
        operands = [self._operand(spec, class_name, name) for spec, name in ((a, "A"), (b, "B"), (c, "C"))]
        (z_a, label_a, _), (z_b, _, _), (z_c, _, _) = operands
        result = latents.to_shell(z_a.astype("float64") - z_b + z_c)  # float64: no overflow near float32's limit
        labels = [label for _, label, _ in operands] + [label_a]
        images = self.images(np.stack([z_a, z_b, z_c, result]), None if label_a is None else np.asarray(labels))
        tiles = pictures.upscale(images, pictures.TILE_PIXELS)
        captions = [f"{name}: {short}" for name, (_, _, short) in zip("ABC", operands, strict=True)] + ["A − B + C"]
        stem = pictures.slug(*(short for _, _, short in operands))
        paths = self.files.pngs(tiles, [f"{stem}-{i}" for i in range(len(tiles))])
        return list(zip(paths, captions, strict=True)), self.latent_json(result, label_a)

    def render_latent(self, latent_json) -> str:
        """The image of an exported latent: the same pixels as where it was exported."""
        z, label = self.latent(latent_json)
        return self._picture(z, label, View(0, 1.0, label, z).stem(self.class_names))

    def open_link(self, query) -> View:
        """The view a share link's query opens (see `explorer.view`)."""
        if not isinstance(query, (str, dict)):
            raise ValueError(f"A link query must be text, got {type(query).__name__}.")
        if isinstance(query, str):
            text(query, "A link query", MAX_QUERY_CHARS)
        return parse_query(query, self.generator.latent_dim, self.class_names, self.limits, PSI_RANGE)

    @staticmethod
    def random_seed() -> int:
        return secrets.randbelow(latents.MAX_SEED + 1)

    def model_info(self) -> dict:
        return {"source": self.source, "hub_url": self.hub_url, "model_id": self.generator.model_id,
                "warning": self.warning, "direction_limits": self.limits, **self.generator.metadata}  # fmt: skip

    def about_markdown(self) -> str:
        meta = self.generator.metadata
        height, width, channels = self.generator.image_shape
        training = meta.get("training", {})
        lines = [
            f"**Model** `{self.source}` (id `{self.generator.model_id}`)"
            + (f" · [on the Hugging Face Hub]({self.hub_url})" if self.hub_url else ""),
            f"**Data set** {meta.get('dataset', 'unknown')}: {height}×{width}, {'grey' if channels == 1 else 'RGB'}",
            f"**Latent** {self.generator.latent_dim} dimensions, "
            + (f"conditional on {len(self.class_names)} classes" if self.conditional else "unconditional"),
            f"**Training** {meta.get('epochs', '?')} epochs, {training.get('images_seen', '?')} images seen, "
            f"{training.get('train_seconds', '?')} s; final {training.get('final', {})}",
            f"**Recipe** `{meta.get('recipe', {})}`",
            _quality_line(meta.get("quality")),
            "**Directions** SeFa eigenvalues "
            + ", ".join(f"{value:.3g}" for value in self.eigenvalues)
            + "; slider limits "
            + (
                "measured (`python -m gan_core.evaluate MODEL --directions --write`)"
                if self.limits_measured
                else f"±{DEFAULT_LIMIT:g}, not measured for this model"
            ),
        ]
        return "\n\n".join(lines)


def _quality_line(quality: dict | None) -> str:
    if not quality:
        return "**Quality** not measured (`python -m gan_core.evaluate MODEL --write` adds it)"
    shown_scores = ("fd", "precision", "recall", "class_match", "real_vs_real_fd")
    return f"**Quality** on {quality.get('n', '?')} samples: " + ", ".join(
        f"{name} {quality[name]}" for name in shown_scores if name in quality
    )

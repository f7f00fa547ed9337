"""The explorer's tools that look inside the model: invert a picture, find the nearest training images,
replay the training. No UI in them; each raises ValueError with a message for the user.

What each tool needs may be missing: the training data (a Space without it, a folder model), a
history (a model saved without one). Then `unavailable` says why, and the tool is shown disabled
with that reason; everything else works.
"""

import threading

import numpy as np
import pandas as pd
from PIL import Image

from explorer import pictures
from explorer.checks import number
from explorer.handlers import Explorer
from gan_core import memorisation, metrics, timeline
from gan_core.data import FASHION_MNIST_CLASSES, load_idx_dataset
from gan_core.errors import DataError, ImageError
from gan_core.inversion import Inverter

NEIGHBOURS = (1, 16)
DEFAULT_NEIGHBOURS = 8
FASHION_MNIST = "fashion-mnist"
PLOTTED = {"d_loss": "losses", "g_loss": "losses", "d_real": "D's output", "d_fake": "D's output", "fd": "FD"}


class Inside:
    """Inversion, nearest training images and the training timeline over one explorer's generator."""

    def __init__(self, explorer: Explorer):
        self.explorer = explorer
        generator = explorer.generator
        self._lock = threading.Lock()
        self._inverter = None
        self._index = None
        self._test = None
        self._classifier = None
        self._features = None
        learned_from = generator.metadata.get("dataset") or "other data"
        self.data_reason = None
        if learned_from != FASHION_MNIST:
            self.data_reason = f"training images are searched in Fashion-MNIST; this model learned from {learned_from}"
        try:
            self.timeline = timeline.read(_timeline_folder(generator.path))
            self.timeline_reason = None
        except timeline.TimelineMissing as error:
            self.timeline, self.timeline_reason = None, str(error)

    # ---- lazily built, once, whichever request comes first -------------------------------------------------

    @property
    def inverter(self) -> Inverter:
        with self._lock:
            if self._inverter is None:
                self._inverter = Inverter(self.explorer.generator, classifier=self._shipped_classifier())
            return self._inverter

    def training_index(self) -> memorisation.TrainingIndex:
        """The training set's index; ValueError with the reason where the data cannot be found."""
        if self.data_reason:
            raise ValueError(f"Nearest training images are not available: {self.data_reason}.")
        with self._lock:
            if self._index is None:
                try:
                    self._index = memorisation.TrainingIndex.load(FASHION_MNIST)
                except DataError as error:
                    self.data_reason = f"the training images cannot be found here ({error})"
                    raise ValueError(f"Nearest training images are not available: {self.data_reason}.") from None
            return self._index

    def _shipped_classifier(self):
        """Loaded once for both the inverter and the neighbour search; the caller holds the lock."""
        if self._classifier is None:
            self._classifier = metrics.load_classifier()
        return self._classifier

    def features(self, images):
        with self._lock:
            if self._features is None:
                self._features = metrics.feature_extractor(self._shipped_classifier())
        return self._features(images)

    def test_images(self):
        with self._lock:
            if self._test is None:
                try:
                    self._test = load_idx_dataset(FASHION_MNIST, split="test", allow_download=False)
                except DataError as error:
                    raise ValueError(f"The test images cannot be found here: {error}") from None
            return self._test

    def warm_up(self) -> None:
        """Build the inverter and trace its step (tens of seconds on 2 cores) before the first visitor asks."""
        generator = self.explorer.generator
        labels = None if not generator.num_classes else [0]
        self.inverter(generator.generate([0], labels=labels)[0])

    # ---- actions ----------------------------------------------------------------------------------------------

    def invert(self, picture, progress=None):
        """A picture (a file, an array, a drawing) → the side-by-side comparison (a file), a caption, and the
        latent JSON of the reconstruction, which the page then makes current."""
        if picture is None:
            raise ValueError("Upload a picture, draw one, or pick a test image first.")
        try:
            found = self.inverter(picture, progress=progress)
        except ImageError as error:
            raise ValueError(str(error)) from None
        error_map = np.abs(found.image.astype("int16") - found.target.astype("int16")).astype("uint8")
        panels = pictures.upscale(np.stack([found.target, found.image, error_map]), pictures.TILE_PIXELS * 2)
        explorer = self.explorer
        name = "" if found.label is None else f", in class {explorer.class_names[found.label]}"
        stem = pictures.slug("inverted", None if found.label is None else explorer.class_names[found.label])
        caption = (f"Your picture as the model sees it · its closest picture{name} · the difference "
                   f"(mean {found.error:.1f} of 255 per pixel)")  # fmt: skip
        return explorer.files.png(pictures.strip(panels, pictures.TILE_PIXELS * 2), stem), caption, \
            explorer.latent_json(found.latent, found.label)  # fmt: skip

    def test_image(self, index) -> str:
        """Test image number `index` as a file, to invert."""
        if self.data_reason:
            raise ValueError(f"Test images are not available: {self.data_reason}.")
        test = self.test_images()
        index = number(index, "Test image", 0, len(test.images) - 1, integer=True)
        return self.explorer.files.png(test.images[index], f"test-{index}")

    def neighbours(self, latent_json, k=DEFAULT_NEIGHBOURS) -> list[tuple[str, str]]:
        """The current image and its `k` nearest training images (a gallery: file, caption with the distance)."""
        k = number(k, "Neighbours", *NEIGHBOURS, integer=True)
        explorer = self.explorer
        z, label = explorer.latent(latent_json, "Current latent")
        index = self.training_index()
        image = explorer.images(z[None], None if label is None else [label])
        features = self.features(image)
        found = index.nearest(features, k)
        indices, distances = found.indices[0], found.distances[0]
        tiles = pictures.upscale(np.concatenate([image, index.images[indices]]), pictures.TILE_PIXELS)
        # A tile's caption has room for a few words: the distance; the class and the index name the file.
        captions = ["the current image"] + [f"distance {distance:.2f}" for distance in distances]
        stems = ["current"] + [f"training-{i}-{pictures.slug(FASHION_MNIST_CLASSES[index.labels[i]])}" for i in indices]
        return list(zip(explorer.files.pngs(tiles, stems), captions, strict=True))

    def timeline_grid(self, epoch) -> tuple[str, str]:
        """The sample grid drawn after `epoch` (the nearest epoch that has one), and its caption."""
        if self.timeline is None:
            raise ValueError(f"No training timeline: {self.timeline_reason}")
        epochs = sorted(self.timeline.grids)
        if not epochs:
            raise ValueError("This history has no sample grids.")
        epoch = number(epoch, "Epoch", 1, max(self.timeline.epochs), integer=True)
        shown_epoch = min(epochs, key=lambda e: (abs(e - epoch), e))
        row = next(row for row in self.timeline.rows if int(row["epoch"]) == shown_epoch)
        grid = np.asarray(Image.open(self.timeline.grids[shown_epoch]).convert("L"))[..., None]
        path = self.explorer.files.png(pictures.upscale(grid[None], 560)[0], f"epoch-{shown_epoch}")
        fd = f", FD {row['fd']:.1f}" if np.isfinite(row.get("fd", np.nan)) else ""
        return path, f"After epoch {shown_epoch} of {max(self.timeline.epochs)}: d_loss {row['d_loss']:.3f}, " \
            f"g_loss {row['g_loss']:.3f}{fd}"  # fmt: skip

    def timeline_animation(self) -> str:
        """Every epoch's grid as a GIF."""
        if self.timeline is None:
            raise ValueError(f"No training timeline: {self.timeline_reason}")
        return str(timeline.animation(self.timeline, self.explorer.files.new_path("training.gif")))

    def timeline_curves(self):
        """The history in long form for Gradio's line plots: epoch, value, series, panel."""
        if self.timeline is None:
            return pd.DataFrame({"epoch": [], "value": [], "series": [], "panel": []})
        rows = [
            {"epoch": epoch, "value": value, "series": name, "panel": panel}
            for name, panel in PLOTTED.items()
            for epoch, value in self.timeline.series(name)
        ]
        return pd.DataFrame(rows)


def _timeline_folder(model_path):
    """Where a model's history is: its own folder, or the run folder around a run's model/ or best/."""
    folder = model_path
    if not (folder / timeline.HISTORY_CSV).exists() and (folder.parent / timeline.HISTORY_CSV).exists():
        return folder.parent
    return folder

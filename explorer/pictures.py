"""Pictures the explorer shows: sizes, nearest-neighbour upscaling, strips, and named files.

Every picture leaves the server as a file with a name that says what it is
(`seed-42-sneaker.png`), so a download keeps that name. Each file is written
once into its own folder: two requests never write the same path.
"""

import itertools
import json
import re
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from gan_core.samples import image_grid

CURRENT_PIXELS = 320  # the current image is upscaled to at least this size
TILE_PIXELS = 112  # grid tiles
STRIP_PIXELS = 56  # frames of a direction's preview strip
GIF_FRAME_MS = 60
# The newest calls' files stay; Gradio has long copied the older ones into its cache (at most 40 handlers run at
# once, each writing at most two folders). The largest call's files are 1.7 MB (a 120-frame GIF): ≤ 220 MB here.
KEPT_FILES = 128
PNG_COMPRESSION = 1  # pictures of 28×28 pixels enlarged compress well even at the fastest level


def upscale(images: np.ndarray, pixels: int) -> np.ndarray:
    """NHWC uint8 images enlarged by the whole factor that makes them at least `pixels` wide, without blur."""
    factor = max(1, -(-pixels // images.shape[2]))
    return images.repeat(factor, axis=1).repeat(factor, axis=2)


def strip(images: np.ndarray, pixels: int = STRIP_PIXELS) -> np.ndarray:
    """Images side by side, each upscaled to about `pixels`, as one HWC picture."""
    return image_grid(upscale(images, pixels), columns=len(images), padding=2)


def slug(*parts) -> str:
    """A file name stem from words: `slug("seed", 42, "T-shirt/top")` → "seed-42-t-shirt-top"."""
    text = "-".join(str(part) for part in parts if part not in (None, ""))
    return re.sub(r"[^a-z0-9+.-]+", "-", text.lower()).strip("-.") or "image"


class FileWriter:
    """Writes pictures and latents as files under a private temporary folder, which is removed with it."""

    def __init__(self, kept: int = KEPT_FILES):
        self.root = Path(tempfile.mkdtemp(prefix="gan-explorer-"))
        self.kept = kept
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def _folder(self) -> Path:
        """A new folder for one call's files; the oldest folder beyond `kept` goes."""
        with self._lock:
            index = next(self._counter)
            stale = self.root / str(index - self.kept)
        shutil.rmtree(stale, ignore_errors=True)
        folder = self.root / str(index)
        folder.mkdir()
        return folder

    def new_path(self, name: str) -> Path:
        """A path for a file called `name` in a new folder of its own, for a file written elsewhere."""
        return self._folder() / name

    def png(self, image: np.ndarray, stem: str) -> str:
        return self.pngs([image], [stem])[0]

    def pngs(self, images, stems: list[str]) -> list[str]:
        """Several pictures (with distinct `stems`) in one new folder."""
        folder = self._folder()
        paths = [folder / f"{stem}.png" for stem in stems]
        for image, path in zip(images, paths, strict=True):
            _pil(image).save(path, compress_level=PNG_COMPRESSION)
        return [str(path) for path in paths]

    def gif(self, frames: np.ndarray, stem: str) -> str:
        """An animation that plays forwards then backwards, forever."""
        pictures = [_pil(frame) for frame in frames]
        loop = pictures + pictures[-2:0:-1]
        path = self.new_path(f"{stem}.gif")
        loop[0].save(path, save_all=True, append_images=loop[1:], duration=GIF_FRAME_MS, loop=0)
        return str(path)

    def json(self, text: str, stem: str) -> str:
        path = self.new_path(f"{stem}.json")
        path.write_text(json.dumps(json.loads(text), indent=1) + "\n")
        return str(path)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _pil(image: np.ndarray) -> Image.Image:
    """HWC uint8 → a PIL image (grey for one channel)."""
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)

"""A picture from a user (an upload, a drawing, an array) → the model's pixels.

The conversion follows how the model's training data was made: grey through the same
luma weights as `tf.image.rgb_to_grayscale`; for the IDX data sets (Fashion-MNIST, MNIST,
whose images were fitted whole into the square and negated to light-on-dark) the picture is
fitted whole, padded with its own background; for an image folder it is centre-cropped,
as `keras.utils.image_dataset_from_directory(crop_to_aspect_ratio=True)` does. A grey
picture whose background is light where the model's is dark (a drawing, a product photo)
is negated. Everything that cannot be a still picture is refused with an `ImageError`
before it is decoded, so a hostile upload costs neither time nor memory.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gan_core.data import IDX_DATASETS
from gan_core.errors import ImageError

MAX_PIXELS = 4096 * 4096  # larger pictures are refused before decoding (a 16-megapixel photo is fine)
MIN_SIDE = 8  # pixels; a smaller picture carries nothing to match
FORMATS = "PNG, JPEG, GIF, WebP or BMP"


def read_image(source) -> Image.Image:
    """A still picture from a path, bytes, a PIL image or a uint8 array (H×W, H×W×1, 3 or 4), checked."""
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, Image.Image):
        return _checked(source, "The picture")
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError("The file is empty: upload a picture.", value=source)
        return _opened(io.BytesIO(source), "The file")
    path = Path(source)
    if not path.is_file() or path.stat().st_size == 0:
        raise ImageError(f"{path.name} is empty or missing: upload a picture.", value=path)
    return _opened(path, path.name)


def _opened(file, name: str) -> Image.Image:
    try:
        image = Image.open(file)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as error:
        if isinstance(error, Image.DecompressionBombError):
            raise ImageError(f"{name} is larger than {MAX_PIXELS:,} pixels: scale it down.", value=name) from error
        raise ImageError(f"{name} is not a picture: upload a {FORMATS} file.", value=name) from error
    return _checked(image, name)


def _checked(image: Image.Image, name: str) -> Image.Image:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} has {width}×{height} = {width * height:,} pixels, more than {MAX_PIXELS:,}: scale it down.",
            value=(width, height),
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            f"{name} is {width}×{height} pixels: it needs at least {MIN_SIDE}×{MIN_SIDE}.", value=(width, height)
        )
    if getattr(image, "n_frames", 1) > 1:
        raise ImageError(f"{name} is animated ({image.n_frames} frames): upload a still picture.", value=image.n_frames)
    try:
        image.load()
    except (OSError, ValueError) as error:
        raise ImageError(f"{name} is damaged and cannot be read: {error}.", value=name) from error
    return image


def _from_array(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8:
        raise ImageError(f"A picture array must hold uint8 pixels, got {array.dtype}.", value=array.dtype)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ImageError(f"A picture array must be H×W, H×W×1, H×W×3 or H×W×4, got {array.shape}.", value=array.shape)
    return _checked(Image.fromarray(array), "The picture")


def to_model_pixels(image: Image.Image, image_shape, dataset: str | None, dark_background: bool | None) -> np.ndarray:
    """`image` as a uint8 H×W×C array of the model's size and channels (see the module docstring).

    `dark_background` says whether the model draws light on dark (None: do not negate).
    """
    size, _, channels = image_shape
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent parts (an empty drawing canvas) are paper: white.
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    image = image.convert("L" if channels == 1 else "RGB")
    if channels == 1 and dark_background is not None and (_border_level(image) > 127) == dark_background:
        image = ImageOps.invert(image)
    if np.ptp(np.asarray(image)) == 0:
        raise ImageError("The picture is blank (a single colour): draw or upload something to match.", value=None)
    if dataset in IDX_DATASETS:
        fitted = ImageOps.pad(image, (size, size), Image.Resampling.BILINEAR, color=_border_colour(image))
    else:
        fitted = ImageOps.fit(image, (size, size), Image.Resampling.BILINEAR)
    pixels = np.asarray(fitted, dtype="uint8")
    return pixels[..., None] if channels == 1 else pixels


def _ring(pixels: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels of an H×W[×C] picture: where its background shows."""
    return np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])


def _border_level(image: Image.Image) -> float:
    """The median grey of the outermost ring of pixels: the picture's background."""
    return float(np.median(_ring(np.asarray(image))))


def _border_colour(image: Image.Image):
    border = _ring(np.asarray(image))
    return int(np.median(border)) if border.ndim == 1 else tuple(int(v) for v in np.median(border, axis=0))


def has_dark_background(images: np.ndarray) -> bool:
    """Whether a model's samples (uint8 N×H×W×C) are light on a dark background, judged by their borders."""
    return float(np.median(np.concatenate([_ring(image) for image in images]))) < 128

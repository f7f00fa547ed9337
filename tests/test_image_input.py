"""A user's picture → the model's pixels: converted like the training data, and every unusable input refused
with its own message before it costs time or memory."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from gan_core import image_input
from gan_core.errors import ImageError
from gan_core.image_input import has_dark_background, read_image, to_model_pixels

FASHION = ((28, 28, 1), "fashion-mnist")


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


def header_only_png(width: int, height: int) -> bytes:
    """A grey PNG that claims `width` × `height` pixels in a few bytes: its pixel data stops after one row."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    stream = zlib.compressobj()
    one_row = stream.compress(bytes(width + 1)) + stream.flush(zlib.Z_SYNC_FLUSH)  # the stream goes on: truncated
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", one_row)


def test_a_dark_garment_on_white_becomes_light_on_dark_fitted_whole_like_fashion_mnist():
    photo = Image.new("RGB", (200, 100), "white")
    photo.paste((40, 40, 40), (80, 10, 120, 90))  # a dark, tall shape in a wide white photo
    pixels = to_model_pixels(read_image(png_bytes(photo)), *FASHION, dark_background=True)
    assert pixels.shape == (28, 28, 1) and pixels.dtype == np.uint8
    assert pixels[0, 0, 0] == 0  # the white paper became the black background
    column = pixels[:, 14, 0]
    # fitted whole: the 80-pixel-tall shape spans 80/200 of the square, centred; nothing was cropped away
    assert column[9:19].min() >= 200 and column[:5].max() == 0 and column[23:].max() == 0


def test_a_picture_for_a_folder_model_is_centre_cropped_in_colour_and_never_negated():
    photo = np.zeros((60, 120, 3), dtype="uint8")
    photo[:, :30] = (255, 0, 0)  # a red left quarter, cropped away by a centre square crop
    photo[:, 30:90] = (0, 0, 255)
    pixels = to_model_pixels(read_image(photo), (16, 16, 3), "faces", dark_background=True)
    assert pixels.shape == (16, 16, 3)
    assert pixels[:, 1:-1, 0].max() == 0 and pixels[:, 1:-1, 2].min() == 255  # the edges blend in a little


def test_a_transparent_drawing_counts_as_white_paper():
    drawing = np.zeros((100, 100, 4), dtype="uint8")  # transparent canvas
    drawing[30:70, 45:55] = (0, 0, 0, 255)  # a black stroke
    pixels = to_model_pixels(read_image(drawing), *FASHION, dark_background=True)[..., 0]
    assert pixels[0, 0] == 0 and pixels[14, 14] == 255  # negated: a white stroke on black


def test_grey_uses_the_same_luma_weights_as_tensorflow():
    import tensorflow as tf

    photo = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype="uint8")
    ours = np.asarray(read_image(photo).convert("L"), dtype="int16")
    theirs = np.rint(tf.image.rgb_to_grayscale(photo.astype("float32")).numpy()[..., 0]).astype("int16")
    assert np.abs(ours - theirs).max() <= 1


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"", "The file is empty"),
        (b"%PDF-1.4 not a picture", "The file is not a picture: upload a PNG, JPEG, GIF, WebP or BMP file."),
        (png_bytes(Image.new("L", (1, 1))), "The file is 1×1 pixels: it needs at least 8×8."),
        (header_only_png(10_000, 5_000), "The file has 10000×5000 = 50,000,000 pixels, more than 16,777,216"),
        (header_only_png(40, 40), "The file is damaged and cannot be read"),
        (np.zeros((28, 28), dtype="float32"), "A picture array must hold uint8 pixels, got float32."),
        (np.zeros((28, 28, 2), dtype="uint8"), "A picture array must be H×W, H×W×1, H×W×3 or H×W×4, got (28, 28, 2)."),
    ],
    ids=["empty", "not-an-image", "1x1", "50-megapixels", "truncated", "float-array", "two-channels"],
)
def test_unusable_pictures_are_refused_with_their_reason(source, message):
    with pytest.raises(ImageError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        read_image(source)


def test_an_animated_gif_is_refused_but_a_one_frame_gif_is_fine():
    frames = [Image.new("L", (20, 20), shade) for shade in (0, 128, 255)]
    animated = png_bytes(frames[0], format="GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageError, match=r"^The file is animated \(3 frames\): upload a still picture\."):
        read_image(animated)
    assert read_image(png_bytes(frames[1], format="GIF")).size == (20, 20)


def test_a_blank_picture_is_refused_after_conversion():
    with pytest.raises(ImageError, match="blank"):
        to_model_pixels(read_image(np.full((40, 40), 255, dtype="uint8")), *FASHION, dark_background=True)


def test_a_missing_or_empty_file_is_named(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    for name in ("empty.png", "missing.png"):
        with pytest.raises(ImageError, match=f"^{name} is empty or missing"):
            read_image(tmp_path / name)


def test_the_pixel_limit_is_checked_before_decoding():
    assert image_input.MAX_PIXELS < 50_000_000  # the 50-megapixel PNG is over it
    big = header_only_png(4096, 4096)  # exactly the limit: accepted by the size check, then found truncated
    with pytest.raises(ImageError, match="damaged"):
        read_image(big)


def test_dark_background_is_read_from_the_borders_of_samples():
    samples = np.zeros((4, 28, 28, 1), dtype="uint8")
    samples[:, 8:20, 8:20] = 255
    assert has_dark_background(samples) and not has_dark_background(255 - samples)

"""Decode an uploaded image file safely: every size checked before any pixel is decoded.

Pillow opens a file lazily: `Image.open` reads the header (size, mode, frames, tiles)
and decodes nothing. The checks below run on that header, for every format we accept,
so a small file that would decode to gigabytes (an "image bomb") is refused at the
cost of reading its header. Pillow's own bomb check is set to the same limit, because
a few formats allocate while opening (a GIF's first-frame disposal, a WebP's canvas).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from mnist_core.errors import MnistCoreError

MAX_FILE_BYTES = 5 * 1024 * 1024
# A 24-megapixel phone photo still reads; a bomb of 16,000 px a side (256 Mpx) does not.
MAX_PIXELS = 25_000_000
MIN_SIDE_PX = 8
_OVER_LIMIT = f"more than the {MAX_PIXELS / 1e6:.0f}-megapixel limit"
# The formats read; Pillow tries no other decoder (no EPS, PSD, ICO ...). The uploader
# takes any file and names one that is none of these.
FORMATS = ("PNG", "JPEG", "BMP", "WEBP", "GIF", "TIFF")
# Large photos are decoded at a reduced scale (JPEG's DCT scaling) or reduced right
# after decoding, to no less than this longer side: the reader works at 512 px.
DECODE_LONGEST_PX = 2048

# Modes as Pillow opens them, and the one each becomes: grayscale, RGB or RGBA.
_TARGET_MODE = {
    "1": "L", "L": "L", "LA": "RGBA", "La": "RGBA", "P": "RGB", "PA": "RGBA",
    "RGB": "RGB", "RGBX": "RGB", "RGBA": "RGBA", "RGBa": "RGBA",
    "CMYK": "RGB", "YCbCr": "RGB",
    "I;16": "L", "I;16L": "L", "I;16B": "L", "I;16N": "L", "I": "L",
}
# TIFF tags whose values size the buffers libtiff allocates for one tile.
_TIFF_TILE_WIDTH, _TIFF_TILE_LENGTH = 322, 323

# Pillow's own check refuses above twice its limit (and only warns above it): set so
# that what Pillow allocates while opening stays within ours. `_check_header` applies
# the exact limit, so the warning says nothing new.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageReadError(MnistCoreError, ValueError):
    """The bytes are not an image this app can read, or too large to accept."""


def read_image(data: bytes) -> np.ndarray:
    """Decode an uploaded PNG, JPEG, BMP, WebP, GIF or TIFF to uint8 `(H, W)`, RGB or RGBA.

    The file's size, the image's pixel count, tile size and pixel mode are all checked
    before the pixels are decoded; an animated image gives its first frame; a photo's
    EXIF orientation is applied; 16-bit samples are scaled to 8 bits.
    """
    if len(data) == 0:
        raise ImageReadError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImageReadError(
            f"the file is {len(data) / 2**20:.1f} MB; the limit is "
            f"{MAX_FILE_BYTES / 2**20:.0f} MB"
        )
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise ImageReadError(f"the image is too large: {_OVER_LIMIT}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageReadError(
            "the file is not a readable image (PNG, JPEG, BMP, WebP, GIF or TIFF)"
        ) from err
    with image:
        _check_header(image)
        try:
            return _decode(image)
        except ImageReadError:
            raise
        except Image.DecompressionBombError:
            raise ImageReadError(f"the image is too large: {_OVER_LIMIT}") from None
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            raise ImageReadError("the file is damaged: its pixels cannot be read") from err


def _check_header(image: Image.Image) -> None:
    """Refuse, from the header alone, an image too large, too small or of an odd kind."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageReadError(f"the image is {width}x{height} px, {_OVER_LIMIT}")
    if width < MIN_SIDE_PX or height < MIN_SIDE_PX:
        raise ImageReadError(f"the image is only {width}x{height} px")
    if image.mode not in _TARGET_MODE:
        raise ImageReadError(f"images with {image.mode} pixels are not supported")
    if image.format == "TIFF":
        tags = image.tag_v2
        tile = tags.get(_TIFF_TILE_WIDTH, 0), tags.get(_TIFF_TILE_LENGTH, 0)
        if tile[0] * tile[1] > MAX_PIXELS:
            raise ImageReadError(f"the image's tiles are {tile[0]}x{tile[1]} px, {_OVER_LIMIT}")
    for _, extent, _, _ in image.tile:
        x0, y0, x1, y1 = extent
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            raise ImageReadError("the image's data lies outside its frame")


def _decode(image: Image.Image) -> np.ndarray:
    """The first frame's pixels, at most about `DECODE_LONGEST_PX` on the longer side."""
    longest = max(image.size)
    if image.format == "JPEG" and longest > DECODE_LONGEST_PX:
        scale = longest / DECODE_LONGEST_PX
        image.draft(image.mode, (round(image.width / scale), round(image.height / scale)))
    image.load()
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I"):
        image = Image.fromarray(_scale_to_8_bits(np.asarray(image)))
    target = _TARGET_MODE[image.mode]
    if image.mode == "P" and "transparency" in image.info:
        target = "RGBA"
    if image.mode != target:
        image = image.convert(target)
    factor = max(image.size) // DECODE_LONGEST_PX
    if factor >= 2:
        image = image.reduce(factor)
    return np.asarray(image, dtype=np.uint8).copy()


def _scale_to_8_bits(samples: np.ndarray) -> np.ndarray:
    """16-bit (or wider integer) grayscale as uint8, 0-65535 mapped onto 0-255."""
    samples = samples.astype(np.int64)
    top = int(samples.max()) if samples.size else 0
    if samples.min() < 0 or top > 65535:
        raise ImageReadError("images with 32-bit samples are not supported")
    return (samples // 257).astype(np.uint8)

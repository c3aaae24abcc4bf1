"""Decode an uploaded image file safely: size limits and clear errors for odd files."""

from __future__ import annotations

import cv2
import numpy as np

from mnist_core.errors import MnistCoreError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 25_000_000


class ImageReadError(MnistCoreError, ValueError):
    """The bytes are not an image this app can read, or too large to accept."""


def read_image(data: bytes) -> np.ndarray:
    """Decode PNG/JPEG/BMP/WebP bytes to uint8 grayscale `(H, W)`, RGB or RGBA.

    Refuses files over `MAX_FILE_BYTES` and images over `MAX_PIXELS` before decoding
    the pixels, so an odd upload cannot exhaust memory.
    """
    if len(data) == 0:
        raise ImageReadError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImageReadError(
            f"the file is {len(data) / 2**20:.1f} MB; the limit is "
            f"{MAX_FILE_BYTES / 2**20:.0f} MB"
        )
    buffer = np.frombuffer(data, dtype=np.uint8)
    # Read only the header first to check the size before decoding the pixels.
    header_ok, width, height = _image_size(buffer)
    if header_ok and width * height > MAX_PIXELS:
        raise ImageReadError(f"the image is {width}x{height} px; too large to read")
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageReadError("the file is not a readable image (PNG, JPEG, BMP or WebP)")
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageReadError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise ImageReadError(f"the image is only {image.shape[1]}x{image.shape[0]} px")
    return image


def _image_size(buffer: np.ndarray) -> tuple[bool, int, int]:
    """Width and height from a PNG or JPEG header without decoding, if recognisable."""
    data = buffer.tobytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return True, int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xC0, 0xC1, 0xC2):
                height = int.from_bytes(data[i + 5 : i + 7], "big")
                width = int.from_bytes(data[i + 7 : i + 9], "big")
                return True, width, height
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return False, 0, 0

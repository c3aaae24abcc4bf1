"""Uploads are decoded safely: bombs refused from their header, odd kinds read right."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from mnist_core.reading.images import MAX_PIXELS, ImageReadError, read_image
from tests import bombs
from tests.conftest import ROOT

# Each bomb is read in a fresh process that reports the time and the growth of its
# peak resident memory, so one bomb's cost cannot hide behind another's.
_MEASURE = textwrap.dedent("""
    import json, resource, sys, time
    from mnist_core.reading.images import ImageReadError, read_image
    data = open(sys.argv[1], "rb").read()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        image = read_image(data)
        outcome = f"decoded {image.shape}"
    except ImageReadError as err:
        outcome = f"refused: {err}"
    seconds = time.perf_counter() - start
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"outcome": outcome, "seconds": seconds, "grown_mb": grown_mb}))
""")


def _read_in_fresh_process(path) -> dict:
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", sorted(bombs.BOMBS))
def test_an_image_bomb_is_refused_before_its_pixels_are_decoded(kind, tmp_path):
    data = bombs.BOMBS[kind]()
    assert len(data) < 5 * 2**20  # small enough to be uploaded
    # A wrong extension changes nothing: the content decides (a TIFF named .png).
    path = tmp_path / f"bomb-{kind}.png"
    path.write_bytes(data)
    measured = _read_in_fresh_process(path)
    assert measured["outcome"].startswith("refused: "), measured
    assert "25-megapixel limit" in measured["outcome"]
    assert measured["seconds"] <= 0.5, measured
    assert measured["grown_mb"] <= 100, measured


def test_the_bomb_writers_make_real_images_that_a_decoder_reads():
    """At a small size the same writers give ordinary files (so the bombs are genuine)."""
    small = {
        "png": bombs.png_bomb(37, 21), "jpeg": bombs.jpeg_bomb(40, 24),
        "jpeg-fill-byte": bombs.jpeg_bomb(37, 21, fill_byte=True),
        "bmp-rle": bombs.bmp_rle_bomb(600, 21), "webp": bombs.webp_bomb(37, 21),
        "gif": bombs.gif_bomb(3000, 3000),  # long enough to fill the LZW table and clear
        "tiff": bombs.tiff_bomb(37, 21), "tiff-tiles": bombs.tiff_bomb(37, 21, tile=64),
    }
    assert set(small) == set(bombs.BOMBS)
    for kind, data in small.items():
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image.convert("L"))
        assert pixels.shape == {"jpeg": (24, 40), "bmp-rle": (21, 600),
                                "gif": (3000, 3000)}.get(kind, (21, 37)), kind
        assert len(np.unique(pixels)) == 1, kind


def test_an_image_just_over_the_pixel_limit_is_refused_and_one_under_is_read():
    side = int(MAX_PIXELS**0.5)
    with pytest.raises(ImageReadError, match="25-megapixel limit"):
        read_image(bombs.png_bomb(side + 1, side + 1))
    # Read, then reduced by a whole factor towards `DECODE_LONGEST_PX`.
    assert read_image(bombs.png_bomb(side - 1, side - 1)).shape == (2500, 2500)


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _gradient(width=64, height=48) -> np.ndarray:
    x = np.linspace(0, 1, width)[None, :]
    y = np.linspace(0, 1, height)[:, None]
    return np.stack([x * np.ones_like(y), y * np.ones_like(x), (x + y) / 2], axis=2)


def test_a_16_bit_grayscale_png_is_scaled_to_8_bits():
    samples = (np.linspace(0, 65535, 64 * 40).reshape(40, 64)).astype(np.uint16)
    image = Image.fromarray(samples)
    assert image.mode.startswith("I;16")
    read = read_image(_encode(image, "PNG"))
    assert read.dtype == np.uint8 and read.shape == (40, 64)
    np.testing.assert_array_equal(read, (samples // 257).astype(np.uint8))


def test_a_cmyk_jpeg_reads_as_the_rgb_it_shows():
    rgb = (_gradient() * 255).astype(np.uint8)
    data = _encode(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    read = read_image(data)
    assert read.shape == rgb.shape
    assert np.abs(read.astype(int) - rgb).mean() < 4


def test_palette_images_read_as_rgb_or_rgba_when_a_colour_is_transparent():
    rgb = (_gradient() * 255).astype(np.uint8)
    palette = Image.fromarray(rgb).quantize(16)
    expected = np.asarray(palette.convert("RGB"))
    np.testing.assert_array_equal(read_image(_encode(palette, "PNG")), expected)
    palette.info["transparency"] = 0
    read = read_image(_encode(palette, "PNG", transparency=0))
    assert read.shape == (*rgb.shape[:2], 4)
    index = np.asarray(palette)
    assert (read[index == 0, 3] == 0).all() and (read[index != 0, 3] == 255).all()


def test_an_animated_gif_gives_its_first_frame():
    first = np.full((40, 40), 255, np.uint8)
    first[10:30, 18:22] = 0  # a 1
    second = np.full((40, 40), 255, np.uint8)
    second[5:35, 5:35] = 0
    frames = [Image.fromarray(first).convert("P"), Image.fromarray(second).convert("P")]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    read = read_image(data)
    gray = read if read.ndim == 2 else read[:, :, :3].mean(axis=2)
    np.testing.assert_array_equal(gray, first)


def test_grayscale_with_alpha_keeps_its_transparency():
    gray = np.full((32, 32), 30, np.uint8)
    alpha = np.zeros((32, 32), np.uint8)
    alpha[8:24, 14:18] = 255
    data = _encode(Image.merge("LA", [Image.fromarray(gray), Image.fromarray(alpha)]), "PNG")
    read = read_image(data)
    assert read.shape == (32, 32, 4)
    np.testing.assert_array_equal(read[:, :, 3], alpha)
    assert (read[:, :, :3] == 30).all()


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation():
    upright = np.full((60, 40), 255, np.uint8)
    upright[5:25, :] = 0  # dark at the top when upright
    stored = np.rot90(upright, k=1)  # stored turned a quarter left, as a phone might
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    data = _encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())
    read = read_image(data)
    assert read.shape == upright.shape
    assert read[5:25].mean() < 30 and read[30:].mean() > 225


def test_a_large_photo_is_decoded_reduced_but_never_below_the_readers_size():
    rgb = (np.kron(_gradient(50, 40), np.ones((100, 100, 1))) * 255).astype(np.uint8)
    assert rgb.shape == (4000, 5000, 3)
    for fmt in ("JPEG", "PNG"):
        read = read_image(_encode(Image.fromarray(rgb), fmt))
        assert 1024 <= max(read.shape[:2]) <= 2600, (fmt, read.shape)
        assert read.shape[0] / read.shape[1] == pytest.approx(0.8, abs=0.01)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"GIF89a not really", "not a readable image"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n", "not a readable image"),  # a kind we never open
    (bombs.png_bomb(5, 40), "only 5x40 px"),
])
def test_odd_files_get_a_clear_message(data, message):
    with pytest.raises(ImageReadError, match=message):
        read_image(data)


def test_a_truncated_file_says_it_is_damaged():
    rgb = (_gradient(200, 200) * 255).astype(np.uint8)
    data = _encode(Image.fromarray(rgb), "PNG")
    with pytest.raises(ImageReadError, match="damaged"):
        read_image(data[: len(data) // 2])


def test_a_float_tiff_is_refused_by_its_pixel_kind():
    data = _encode(Image.fromarray(np.ones((20, 20), np.float32)), "TIFF")
    with pytest.raises(ImageReadError, match="F pixels are not supported"):
        read_image(data)

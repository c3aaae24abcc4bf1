"""Image bombs: small, well-formed files that decode to a huge blank image.

Each writer builds its file by hand, streaming the compression, so a 16,000 px square
costs the test a few hundred kilobytes, not the gigabyte a decoder would spend on it.
The same writers at a small size make ordinary images, which is how their output is
checked against a real decoder.
"""

from __future__ import annotations

import struct
import zlib

_ZERO_BLOCK = bytes(1 << 20)


def _deflate_zeros(count: int, row: int | None = None) -> bytes:
    """A zlib stream of `count` zero bytes (PNG rows: a 0 filter byte, then `row` zeros)."""
    packer = zlib.compressobj(9)
    out = []
    if row is None:
        while count > 0:
            out.append(packer.compress(_ZERO_BLOCK[: min(count, len(_ZERO_BLOCK))]))
            count -= len(_ZERO_BLOCK)
    else:
        rows_per_chunk = max(1, len(_ZERO_BLOCK) // (row + 1))
        chunk = bytes((row + 1) * rows_per_chunk)
        rows = count
        while rows > 0:
            take = min(rows, rows_per_chunk)
            out.append(packer.compress(chunk[: take * (row + 1)]))
            rows -= take
    out.append(packer.flush())
    return b"".join(out)


def png_bomb(width: int, height: int) -> bytes:
    """An 8-bit grayscale PNG, all black."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", _deflate_zeros(height, row=width)) + chunk(b"IEND", b""))


def jpeg_bomb(width: int, height: int, fill_byte: bool = False) -> bytes:
    """A baseline grayscale JPEG, all mid-grey; `fill_byte` pads its frame marker.

    Both Huffman tables hold one 1-bit code (DC difference 0, end of block), so each
    8x8 block costs two bits. JPEG allows any number of 0xFF fill bytes before a
    marker: a parser that skips them wrongly misses the frame's size.
    """
    blocks = -(-width // 8) * -(-height // 8)
    marker = b"\xff\xff\xc0" if fill_byte else b"\xff\xc0"
    quant = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes([1] * 64)
    frame = marker + struct.pack(">HBHHBBBB", 11, 8, height, width, 1, 1, 0x11, 0)
    one_code = bytes([1] + [0] * 15)  # one code of length 1
    huffman = (b"\xff\xc4" + struct.pack(">H", 2 + 2 * 17 + 2)
               + b"\x00" + one_code + b"\x00" + b"\x10" + one_code + b"\x00")
    scan = b"\xff\xda" + struct.pack(">HBBBBBB", 8, 1, 1, 0x00, 0, 63, 0)
    entropy = bytes(blocks // 4) + (bytes([0xFF >> (2 * (blocks % 4))]) if blocks % 4 else b"")
    return b"\xff\xd8" + quant + frame + huffman + scan + entropy + b"\xff\xd9"


def bmp_rle_bomb(width: int, height: int) -> bytes:
    """An 8-bit run-length-encoded (RLE8) BMP, every row runs of palette colour 0."""
    row = b"\xff\x00" * (width // 255) + (bytes([width % 255, 0]) if width % 255 else b"")
    pixels = (row + b"\x00\x00") * height + b"\x00\x01"
    palette = bytes(4 * 256)
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels),
                       2835, 2835, 256, 0)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return header + info + palette + pixels


def webp_bomb(width: int, height: int) -> bytes:
    """A lossless WebP, all transparent black: every prefix code has one symbol, so the
    pixels take no bits at all (WebP's limit is 16,384 px a side)."""
    bits: list[int] = []

    def put(value: int, count: int) -> None:
        bits.extend((value >> i) & 1 for i in range(count))

    put(0x2F, 8)
    put(width - 1, 14)
    put(height - 1, 14)
    put(0, 1)  # no alpha
    put(0, 3)  # version
    put(0, 1)  # no transform
    put(0, 1)  # no colour cache
    put(0, 1)  # no meta prefix codes
    for _ in range(5):  # green, red, blue, alpha, distance: a simple code of symbol 0
        put(1, 1)
        put(0, 1)
        put(0, 1)
        put(0, 1)
    data = bytes(sum(bit << i for i, bit in enumerate(bits[j:j + 8]))
                 for j in range(0, len(bits), 8))
    data += bytes(16 - len(data))  # a decoder ignores what follows; some want 32 bytes in all
    chunk = b"VP8L" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def gif_bomb(width: int, height: int) -> bytes:
    """A GIF89a of one frame, palette colour 0 throughout, LZW-coded as a GIF encoder
    would: strings of 0s one longer each time, a clear code when the table is full."""
    min_code_size = 2
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    codes: list[tuple[int, int]] = []  # (code, width in bits)

    remaining = width * height
    while remaining > 0:
        codes.append((clear, 12 if codes else min_code_size + 1))
        emitted, longest = 0, 1
        while remaining > 0 and end + 1 + emitted < 4096:
            length = min(longest, remaining)
            code = 0 if length == 1 else end + 1 + (length - 2)
            decoder_next = end + 1 + max(emitted - 1, 0)
            codes.append((code, min(12, max(min_code_size + 1, decoder_next.bit_length()))))
            remaining -= length
            emitted += 1
            longest += 1
    decoder_next = end + 1 + max(emitted - 1, 0)
    codes.append((end, min(12, max(min_code_size + 1, decoder_next.bit_length()))))

    accumulator, filled, stream = 0, 0, bytearray()
    for code, size in codes:
        accumulator |= code << filled
        filled += size
        while filled >= 8:
            stream.append(accumulator & 0xFF)
            accumulator >>= 8
            filled -= 8
    if filled:
        stream.append(accumulator & 0xFF)
    blocks = b"".join(bytes([len(stream[i:i + 255])]) + bytes(stream[i:i + 255])
                      for i in range(0, len(stream), 255))
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # a 2-colour global table
    image = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return (b"GIF89a" + screen + b"\x00\x00\x00\xff\xff\xff" + image
            + bytes([min_code_size]) + blocks + b"\x00;")


def tiff_bomb(width: int, height: int, tile: int | None = None) -> bytes:
    """A deflate-compressed 8-bit grayscale TIFF, all black: one strip or, with `tile`,
    one tile `tile` px square (a tile may be far larger than the image it covers)."""
    area = tile * tile if tile else width * height
    data = _deflate_zeros(area)
    offset_of_data = 8
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 8), (262, 3, 1)]
    if tile:
        entries += [(277, 3, 1), (322, 4, tile), (323, 4, tile),
                    (324, 4, offset_of_data), (325, 4, len(data))]
    else:
        entries += [(273, 4, offset_of_data), (277, 3, 1), (278, 4, height),
                    (279, 4, len(data))]
    ifd_offset = offset_of_data + len(data) + (len(data) % 2)
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        packed = struct.pack("<H", value) + b"\x00\x00" if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    ifd += struct.pack("<I", 0)
    return (b"II*\x00" + struct.pack("<I", ifd_offset) + data
            + b"\x00" * (len(data) % 2) + ifd)


BOMBS = {
    "png": lambda: png_bomb(20_000, 20_000),
    "jpeg": lambda: jpeg_bomb(16_000, 16_000),
    "jpeg-fill-byte": lambda: jpeg_bomb(16_000, 16_000, fill_byte=True),
    "bmp-rle": lambda: bmp_rle_bomb(16_000, 16_000),
    "webp": lambda: webp_bomb(16_383, 16_383),
    "gif": lambda: gif_bomb(16_000, 16_000),
    "tiff": lambda: tiff_bomb(16_000, 16_000),
    "tiff-tiles": lambda: tiff_bomb(64, 64, tile=16_384),
}

"""Decompress Unix `compress` (`.Z`, LZW) data, which the Python standard library cannot.

UCI still serves the original pendigits trajectories as `pendigits-orig.tra.Z`. This is
the decoder of ncompress 4.2 (`compress -d`), with its quirks kept, since files made by
it depend on them: codes are packed least significant bit first, start 9 bits wide and
grow to at most 16; in "block mode" code 256 clears the table; and whenever the width
changes or the table is cleared, the rest of the current group of 8 codes is skipped.
"""

from __future__ import annotations

MAGIC = b"\x1f\x9d"
_INIT_BITS = 9
_CLEAR = 256  # in block mode: forget the table, go back to 9-bit codes
_BLOCK_MODE = 0x80  # header flag: code 256 is _CLEAR


def unlzw(data: bytes) -> bytes:
    """Return the bytes that `compress` turned into `data` (header included).

    Raises `ValueError` for a missing magic number, an unsupported header, or a code the
    table cannot hold yet (a corrupt or truncated stream).
    """
    if len(data) < 3 or data[:2] != MAGIC:
        raise ValueError("not compress (.Z) data: the magic number 1f 9d is missing")
    flags = data[2]
    max_bits = flags & 0x1F
    block_mode = bool(flags & _BLOCK_MODE)
    if flags & 0x60 or not _INIT_BITS <= max_bits <= 16:
        raise ValueError(f"unsupported compress header flags 0x{flags:02x}")
    max_max_code = 1 << max_bits
    body = data[3:] + b"\0\0"  # each code reads 3 bytes from its first
    end = (len(data) - 3) * 8  # bits of input

    table = [bytes([c]) for c in range(256)]
    if block_mode:
        table.append(b"")  # 256 is _CLEAR, never looked up
    out = bytearray()
    n_bits = _INIT_BITS
    max_code = (1 << n_bits) - 1
    mask = max_code
    pos = start = 0  # bit position, and where the current code width began
    previous: bytes | None = None

    def skip_group() -> int:
        """Where the next group of 8 codes starts (groups count from `start`)."""
        group = n_bits * 8
        return start + -(-(pos - start) // group) * group

    while end - pos >= n_bits:
        if len(table) > max_code:  # the table outgrew this width: one bit more
            pos = start = skip_group()
            n_bits += 1
            max_code = max_max_code if n_bits == max_bits else (1 << n_bits) - 1
            mask = (1 << n_bits) - 1
            continue
        i = pos >> 3
        code = ((body[i] | body[i + 1] << 8 | body[i + 2] << 16) >> (pos & 7)) & mask
        pos += n_bits
        if previous is None:  # the first code is a literal byte
            if code >= 256:
                raise ValueError(f"corrupt compress data: first code {code} is not a byte")
            previous = table[code]
            out += previous
            continue
        if code == _CLEAR and block_mode:
            del table[256:]
            # ncompress adds one throwaway entry (256) after a clear; keep the count right
            pos = start = skip_group()
            n_bits = _INIT_BITS
            max_code = mask = (1 << n_bits) - 1
            continue
        if code < len(table):
            entry = table[code]
        elif code == len(table):  # the code being defined right now: KwKwK
            entry = previous + previous[:1]
        else:
            raise ValueError(
                f"corrupt compress data: code {code} at bit {pos - n_bits} is not in the "
                f"table yet ({len(table)} entries)"
            )
        out += entry
        if len(table) < max_max_code:
            table.append(previous + entry[:1])
        previous = entry
    return bytes(out)

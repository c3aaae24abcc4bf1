"""What the web server does once, as `streamlit run app.py` starts it (`app.py` calls
these): tell malloc to keep the visitors' threads in a few arenas, and warm the Draw
page's reading in the background.

Kept apart from `ui`, whose imports would hold up the server's start: it imports no
page helper, so the warming is handed in (`app.py`'s).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

# glibc gives each thread that allocates at once its own malloc arena (up to 8 per core)
# and keeps what it frees there: with every visitor's script run on its own thread, the
# server's memory grew with the visitors drawing at once, not with what they hold.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


def limit_malloc_arenas() -> bool:
    """Have glibc's malloc share at most `MALLOC_ARENAS` arenas among the server's
    threads, as `MALLOC_ARENA_MAX` would; True if it took. Elsewhere than glibc (macOS,
    musl) nothing changes."""
    try:
        return bool(_libc().mallopt(_M_ARENA_MAX, MALLOC_ARENAS))
    except (OSError, AttributeError):
        return False


def return_freed_memory() -> bool:
    """Hand what malloc holds freed back to the system (glibc's `malloc_trim`), after a
    large read whose buffers would otherwise stay with the process; True if it did."""
    try:
        return bool(_libc().malloc_trim(0))
    except (OSError, AttributeError):
        return False


def _libc():
    """The C library, for malloc's knobs (`OSError` where there is none to load)."""
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def warm_in_background(warm: Callable[[], object]) -> threading.Thread:
    """Run `warm` (`app.py`'s: import the pages' modules and open the default model,
    `ui.warm_start`) on a thread while the server starts, so the first visitor's first
    drawing waits for neither."""
    thread = threading.Thread(target=warm, name="warm-start", daemon=True)
    thread.start()
    return thread

"""numba set-up shared by every kernel of :mod:`vae_np.fast`.

Rules every kernel here follows, and why:

* ``cache=True``: compiled once, then loaded from disk in later processes.
* ``error_model="numpy"``: numba's default ("python") puts a zero check before every ``/``,
  which stops the loop from being vectorised.
* No blanket ``fastmath``: it would let LLVM assume there are no NaNs or infs, and the
  non-finite checks of training rely on them propagating.
* Scalars are passed already cast to the arrays' dtype: a float64 literal inside a float32 loop
  promotes the whole loop to float64.
* No module globals inside a kernel: numba freezes their values into the cache.
"""
from __future__ import annotations

import os
import tempfile

import numba

__all__ = ["njit", "JIT_DISABLED"]

#: True under ``NUMBA_DISABLE_JIT=1``: the kernels then run as plain (slow) Python loops.
JIT_DISABLED = bool(numba.config.DISABLE_JIT)

_OPTIONS = dict(cache=True, nogil=True, error_model="numpy")


def njit(func=None, **extra):
    """``numba.njit`` with this package's options (``@njit`` or ``@njit(fastmath={...})``)."""
    if func is None:
        return lambda f: numba.njit(**_OPTIONS, **extra)(f)
    return numba.njit(**_OPTIONS, **extra)(func)


def _ensure_cache_dir() -> None:
    """Point numba's cache at a writable folder when the package folder is read-only.

    numba writes its cache next to the source (``vae_np/fast/__pycache__``). In a read-only
    install it falls back to a folder under HOME, which may be unwritable too; compiling a cached
    kernel would then fail. A folder in the temp directory makes that impossible.
    ``NUMBA_CACHE_DIR`` set by the user always wins.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    pycache = os.path.join(here, "__pycache__")
    if not os.access(pycache if os.path.isdir(pycache) else here, os.W_OK):
        path = os.path.join(tempfile.gettempdir(), f"vae_np-numba-cache-{os.getuid()}")
        os.makedirs(path, exist_ok=True)
        numba.config.CACHE_DIR = path


_ensure_cache_dir()

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
* A hot kernel starts with ``wide_vectors()``: on a CPU with AVX-512, LLVM then vectorises its
  loops with 512-bit registers instead of its default 256 (below).

The on-disk cache can never stop ``import vae_np`` or a training step:

* ``NUMBA_CACHE_DIR`` set to a folder that cannot be written: a warning says so, and the cache
  goes to a folder in the temp directory instead (as it does when the package's own folder is
  read-only and ``NUMBA_CACHE_DIR`` is not set).
* No writable folder at all: the kernels are compiled in every process, without a cache (a few
  seconds at the first step), with a warning saying what to set.
* A cache file that cannot be read (truncated, corrupted, written by another numba): a warning
  names it, it is removed, and the kernel is compiled again and re-cached.
"""
from __future__ import annotations

import os
import tempfile
import warnings

import numba
from numba.extending import intrinsic

__all__ = ["njit", "wide_vectors", "JIT_DISABLED", "NumbaCacheWarning"]

#: True under ``NUMBA_DISABLE_JIT=1``: the kernels then run as plain (slow) Python loops.
JIT_DISABLED = bool(numba.config.DISABLE_JIT)

_OPTIONS = dict(cache=True, nogil=True, error_model="numpy")


class NumbaCacheWarning(RuntimeWarning):
    """numba's on-disk cache of vae_np's kernels was unusable; vae_np worked around it."""


try:                                         # numba's cache class (internal: guarded)
    from numba.core.caching import FunctionCache as _FunctionCache
except ImportError:                          # pragma: no cover - another numba layout
    _FunctionCache = None


def _warn(message):
    warnings.warn(f"vae_np: {message}", NumbaCacheWarning, stacklevel=3)


if _FunctionCache is not None:
    class _RobustCache(_FunctionCache):
        """numba's per-kernel cache, where an unreadable or unwritable file means "compile"."""

        @property
        def _kernel(self):
            f = getattr(self, "_py_func", None)
            return f"{f.__module__}.{f.__qualname__}" if f is not None else self._name

        def load_overload(self, sig, target_context):
            try:
                return super().load_overload(sig, target_context)
            except Exception as e:               # unpickling garbage raises anything
                index = getattr(getattr(self, "_cache_file", None), "_index_path", None)
                try:
                    if index:
                        os.remove(index)         # so that the fresh compilation can be saved
                except OSError:
                    pass
                _warn(f"numba's cache of the kernel {self._kernel} could not be read "
                      f"({type(e).__name__}: {e}); it was removed and the kernel is compiled "
                      f"again. If this warning comes back, delete the folder {self.cache_path}.")
                return None

        def save_overload(self, sig, data):
            try:
                super().save_overload(sig, data)
            except Exception as e:
                _warn(f"numba's cache of the kernel {self._kernel} could not be written to "
                      f"{self.cache_path} ({type(e).__name__}: {e}); it is compiled again in "
                      "every process. Set NUMBA_CACHE_DIR to a folder you can write to.")


def _make_robust(dispatcher):
    cache = getattr(dispatcher, "_cache", None)
    if _FunctionCache is not None and type(cache) is _FunctionCache:
        cache.__class__ = _RobustCache           # the same object, with the guarded methods
    return dispatcher


def _compile(func, extra):
    options = dict(_OPTIONS, **extra)
    if not _state["cache"]:
        options["cache"] = False
    try:
        return _make_robust(numba.njit(**options)(func))
    except RuntimeError as e:                    # "cannot cache function ...: no locator"
        if "cannot cache" not in str(e):
            raise
        _state["cache"] = False
        _warn(f"numba found no folder to cache compiled kernels in ({e}); vae_np compiles them "
              "in every process instead. Set NUMBA_CACHE_DIR to a folder you can write to.")
        return numba.njit(**dict(options, cache=False))(func)


def njit(func=None, **extra):
    """``numba.njit`` with this package's options (``@njit`` or ``@njit(fastmath={...})``)."""
    if func is None:
        return lambda f: _compile(f, extra)
    return _compile(func, extra)


# ---------------------------------------------------------------- 512-bit vectors
# LLVM tunes its code for AVX-512 CPUs to prefer 256-bit vectors (on the first such CPUs a
# 512-bit instruction lowered the clock of the whole core). Numba's own tests lift this with
# NUMBA_CPU_FEATURES="-prefer-256-bit", which is process-wide and would change how a user's own
# numba code is compiled. The same effect for one function is LLVM's function attribute
# "prefer-vector-width"="512", which ``wide_vectors()`` adds to the function it is called from
# (an intrinsic is lowered inline, into its caller). On a CPU without AVX-512 it changes
# nothing: LLVM never picks vectors wider than the CPU's registers. Without reassociation (these
# kernels allow at most fastmath "contract") every lane computes what the scalar loop would, in
# the same order; only how many lanes run at once, and which elements fall to the scalar
# remainder loop, differ. So the numbers stay the same as long as LLVM fuses multiply-adds alike
# in both loops, which the tests and a 1,550-step training run found (bit for bit); a loop that
# calls a math function (np.exp) is left without it, since with Intel's SVML the vector and the
# scalar loop would call different implementations. The measurements are in benchmarks/README.md.
_WIDE = '"prefer-vector-width"="512"'


def _add_wide_attribute(function):
    """Add the attribute to an llvmlite IR function; False if this llvmlite cannot."""
    attributes = function.attributes
    try:
        # llvmlite's FunctionAttributes accepts only the attributes it knows by name, but it is
        # a set whose items are written into the IR as they are: a key="value" string
        # attribute can be added through set.add.
        set.add(attributes, _WIDE)
        return True
    except TypeError:                        # pragma: no cover - another llvmlite layout
        return False


@intrinsic
def _wide_vectors_intrinsic(typingctx):
    def codegen(context, builder, signature, args):
        _add_wide_attribute(builder.function)
        return context.get_dummy_value()
    return numba.types.none(), codegen


def _no_op():
    return None


#: Call first in a kernel: its loops may use 512-bit vectors (a no-op without the JIT).
wide_vectors = _no_op if JIT_DISABLED else _wide_vectors_intrinsic


def _writable(path):
    """Whether ``path`` is (or can be made) a folder in which files can be created."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        return True
    except OSError:
        return False


def _ensure_cache_dir() -> None:
    """Point numba's cache at a writable folder when the configured one is not writable.

    numba writes its cache next to the source (``vae_np/fast/__pycache__``), or into
    ``NUMBA_CACHE_DIR`` when that is set. A ``NUMBA_CACHE_DIR`` that cannot be written is
    replaced (with a warning) by a folder in the temp directory, and so is a read-only package
    folder; with no writable folder at all the kernels are compiled without a cache.
    """
    user = os.environ.get("NUMBA_CACHE_DIR")
    if user:
        if _writable(user):
            return
        reason = f"NUMBA_CACHE_DIR={user} is not a folder that can be written"
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        pycache = os.path.join(here, "__pycache__")
        if os.access(pycache if os.path.isdir(pycache) else here, os.W_OK):
            return
        reason = None
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = os.path.join(tempfile.gettempdir(), f"vae_np-numba-cache-{uid}")
    if _writable(path):
        numba.config.CACHE_DIR = path
        if reason:
            _warn(f"{reason}; the compiled kernels are cached in {path} instead. Set "
                  "NUMBA_CACHE_DIR to a folder you can write to (or unset it).")
    else:
        _state["cache"] = False
        _warn(f"{reason or 'the package folder is read-only'} and {path} cannot be written "
              "either; the kernels are compiled in every process, without a cache. Set "
              "NUMBA_CACHE_DIR to a folder you can write to.")


_state = {"cache": True}
_ensure_cache_dir()

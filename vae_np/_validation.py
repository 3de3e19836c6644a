"""Argument checks shared by the public API (the one home of every check).

Each error names the argument, says what it must be and what was given, in scikit-learn's style::

    The 'reg_covar' parameter of GaussianMixture must be a float in the range [0.0, inf).
    Got '1e-6' (a str).

Scalars, options, sequences, generators and paths raise :class:`InvalidParameterError`, a
subclass of both ``ValueError`` and ``TypeError`` (like scikit-learn's), so either ``except``
clause catches it. Data arrays (:func:`check_array`, :func:`check_real`) raise ``ValueError``.
Nothing is clipped or truncated: a width of 8.7 is an error, not 8 (NumPy integers are ints).
"""
from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

__all__ = ["InvalidParameterError", "describe", "invalid", "check_int", "check_positive_int",
           "check_float", "check_positive_float", "check_seed", "check_bool", "check_option",
           "check_sizes", "check_rng", "check_path", "check_callable", "check_float_dtype",
           "check_instance", "check_text", "check_axes", "check_array", "check_real",
           "check_images", "check_curves", "check_kernel_array"]


class InvalidParameterError(ValueError, TypeError):
    """An argument of the wrong type or outside its allowed range (a ``ValueError`` and a
    ``TypeError``)."""


def describe(value):
    """``'1e-6' (a str)``: a short repr of ``value`` and the name of its type."""
    if value is None:
        return "None"
    text = " ".join(repr(value).split())
    if len(text) > 70:
        text = text[:67] + "..."
    kind = type(value)
    module = kind.__module__.split(".")[0]
    tname = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    return f"{text} ({'an' if tname[0] in 'aeiou' else 'a'} {tname})"


def _param(name, owner):
    return f"The {name!r} parameter of {owner}" if owner else f"The {name!r} parameter"


def invalid(name, owner, expected, value, hint=""):
    """The :class:`InvalidParameterError` for argument ``name`` of ``owner``: "The 'name'
    parameter of owner must be <expected>. Got <value> (a type). <hint>"."""
    return InvalidParameterError(f"{_param(name, owner)} must be {expected}. "
                                 f"Got {describe(value)}." + (f" {hint}" if hint else ""))


def _interval(low, high, low_open, high_open, fmt):
    lo = "-inf" if low is None else fmt(low)
    hi = "inf" if high is None else fmt(high)
    return (f"{'(' if low_open or low is None else '['}{lo}, "
            f"{hi}{')' if high_open or high is None else ']'}")


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def check_int(value, name, owner=None, low=None, high=None, hint=""):
    """Return ``value`` as an int; raise unless it is an integer (Python or NumPy, not a bool,
    not a float) in ``[low, high]`` (``None``: unbounded). ``hint`` ends the message."""
    ok = not _is_bool(value) and isinstance(value, numbers.Integral)
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        if not ok and isinstance(value, numbers.Real) and not _is_bool(value) \
                and float(value).is_integer():
            hint = f"Write it as an int ({int(value)}), not a float. {hint}".strip()
        raise invalid(name, owner, f"an int in the range {_interval(low, high, False, False, str)}",
                      value, hint)
    return int(value)


def check_positive_int(value, name, owner=None):
    """Return ``value`` as an int; raise unless it is an integer >= 1."""
    return check_int(value, name, owner, low=1)


def check_float(value, name, owner=None, low=None, high=None, low_open=False, high_open=False,
                allow_inf=False, hint=""):
    """Return ``value`` as a float; raise unless it is a real number (not a bool, not a str, not
    NaN, finite unless ``allow_inf``) in the interval given by ``low``, ``high`` and whether each
    end is open."""
    ok = not _is_bool(value) and isinstance(value, numbers.Real)
    v = float(value) if ok else math.nan
    bad = math.isnan(v) or (math.isinf(v) and not allow_inf)
    bad = bad or (low is not None and (v < low or (low_open and v == low)))
    bad = bad or (high is not None and (v > high or (high_open and v == high)))
    if bad:
        if allow_inf:
            low_open, high_open = low_open and low is not None, high_open and high is not None
            lo, hi = (-math.inf if low is None else low), (math.inf if high is None else high)
        else:
            lo, hi = low, high
        raise invalid(name, owner, "a float in the range "
                      + _interval(lo, hi, low_open, high_open, lambda x: repr(float(x))), value,
                      hint)
    return v


def check_positive_float(value, name, owner=None):
    """Return ``value`` as a float; raise unless it is a finite real number > 0."""
    return check_float(value, name, owner, low=0.0, low_open=True)


def check_seed(value, name="seed", owner=None):
    """Return a seed as a Python int (so it can be stored in JSON); raise unless it is an
    integer >= 0."""
    return check_int(value, name, owner, low=0)


def check_bool(value, name, owner=None):
    """Return ``value`` as a bool; raise unless it is ``True`` or ``False`` (or a NumPy bool)."""
    if not _is_bool(value):
        raise invalid(name, owner, "a bool (True or False)", value)
    return bool(value)


def check_option(value, name, options, owner=None):
    """Return ``value``; raise unless it is one of the strings (or ``None``) in ``options``."""
    strings = [o for o in options if o is not None]
    if (value is None and None in options) or (isinstance(value, str) and value in strings):
        return value
    expected = "a str among {" + ", ".join(map(repr, strings)) + "}"
    expected += " or None" if None in options else ""
    hint = ""
    if isinstance(value, str) and value.lower() in strings:
        hint = f"Names are lower-case: {value.lower()!r}."
    raise invalid(name, owner, expected, value, hint)


def check_sizes(sizes, name, owner=None, min_len=0):
    """Return layer widths as a tuple of ints; raise unless ``sizes`` is a list, tuple or 1-D
    array of at least ``min_len`` integers >= 1."""
    expected = f"a list of {f'at least {min_len} ' if min_len else ''}ints, each in the range " \
               "[1, inf)"
    if isinstance(sizes, (str, bytes, Mapping, set, frozenset, numbers.Number)) \
            or not isinstance(sizes, Iterable) or (isinstance(sizes, np.ndarray) and sizes.ndim != 1):
        hint = f"For one layer write [{sizes!r}]." if isinstance(sizes, numbers.Number) else ""
        raise invalid(name, owner, expected, sizes, hint)
    items = list(sizes)
    if len(items) < min_len:
        raise invalid(name, owner, expected, sizes)
    for i, h in enumerate(items):
        if _is_bool(h) or not isinstance(h, numbers.Integral) or h < 1:
            raise InvalidParameterError(
                f"{_param(name, owner)} must be {expected}. Got {describe(sizes)}, whose entry "
                f"{i} is {describe(h)}.")
    return tuple(int(h) for h in items)


def check_rng(rng, name="rng", owner=None):
    """Return ``rng``; raise unless it is a ``numpy.random.Generator`` (vae_np never draws from
    NumPy's global state)."""
    if not isinstance(rng, np.random.Generator):
        hint = "Pass rng=np.random.default_rng(seed)"
        if isinstance(rng, np.random.RandomState):
            hint += " (the legacy RandomState is not accepted)"
        raise invalid(name, owner, "a numpy.random.Generator", rng, hint + ".")
    return rng


def check_path(path, name="path", owner=None):
    """Return ``path`` as a ``Path``; raise unless it is a str or an ``os.PathLike``."""
    if not isinstance(path, (str, os.PathLike)):
        raise invalid(name, owner, "a str or an os.PathLike (e.g. pathlib.Path)", path)
    return Path(path)


def check_callable(f, name, owner=None):
    """Return ``f``; raise unless it is callable."""
    if not callable(f):
        raise invalid(name, owner, "a callable (a function)", f)
    return f


def check_float_dtype(dtype, name="dtype", owner=None):
    """Return ``np.dtype(dtype)``; raise unless it is float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        dt = None
    if dt not in (np.float32, np.float64):
        raise invalid(name, owner, "np.float32 or np.float64", dtype)
    return dt


def check_instance(obj, classes, name, owner=None, what=None):
    """Return ``obj``; raise unless it is an instance of ``classes`` (a class or a tuple);
    ``what`` describes them in the message (default: their names)."""
    if isinstance(obj, type) or not isinstance(obj, classes):
        classes = classes if isinstance(classes, tuple) else (classes,)
        what = what or " or ".join(f"a {c.__name__}" for c in classes)
        hint = "Pass an instance, not the class." if isinstance(obj, type) else ""
        raise invalid(name, owner, what, obj, hint)
    return obj


def check_text(value, name, owner=None):
    """Return ``value``; raise unless it is a str or None (a title, a label)."""
    if value is not None and not isinstance(value, str):
        raise invalid(name, owner, "a str or None", value)
    return value


def check_axes(ax, figsize, owner):
    """A new matplotlib ``Axes`` of ``figsize`` when ``ax`` is None, else ``ax`` once checked."""
    if ax is None:
        import matplotlib.pyplot as plt
        return plt.subplots(figsize=figsize)[1]
    from matplotlib.axes import Axes
    return check_instance(ax, Axes, "ax", owner, "a matplotlib Axes or None")


def _as_numeric_array(X, name):
    try:
        X = np.asarray(X)
    except (ValueError, TypeError):
        raise ValueError(f"{name} could not be made into a NumPy array of numbers (rows of "
                         "different lengths, or numbers mixed with other objects); pass a NumPy "
                         "array or a list of equal-length rows of numbers") from None
    if np.iscomplexobj(X):
        raise ValueError(f"{name} has complex values (dtype {X.dtype}), but vae_np works with real "
                         f"numbers and would silently drop the imaginary part; pass {name}.real "
                         f"if it is zero, or np.abs({name})")
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"{name} must be a numeric array, got dtype {X.dtype}")
    return X


def check_array(X, name="X", ndim=2, n_features=None, dtype=None, unit_interval=False):
    """Validate a data array and return it as a C-contiguous array of ``dtype``.

    Parameters
    ----------
    X : array_like
        The data.
    name : str
        Name used in error messages.
    ndim : int or None
        Required number of dimensions (None: any number >= 1).
    n_features : int, optional
        Required size of the last axis.
    dtype : numpy dtype, optional
        Convert to this dtype (a copy only when needed).
    unit_interval : bool
        Require every value in [0, 1] (Bernoulli likelihood).

    Raises
    ------
    ValueError
        Not convertible to a real numeric array (ragged lists, strings, complex numbers), wrong
        number of dimensions, wrong feature count, an empty array, NaN or inf values, or values
        outside [0, 1] when ``unit_interval`` is set. Nothing is clipped.
    """
    X = _as_numeric_array(X, name)
    if (ndim is not None and X.ndim != ndim) or X.ndim == 0:
        hint = " (use X.reshape(len(X), -1) to flatten images)" if ndim == 2 and X.ndim > 2 else ""
        raise ValueError(f"{name} must be {ndim or 'at least 1'}-D, got shape {X.shape}{hint}")
    if X.shape[0] == 0 or X.size == 0:
        raise ValueError(f"{name} is empty (shape {X.shape})")
    if n_features is not None and X.shape[-1] != n_features:
        raise ValueError(f"{name} must have {n_features} features per row, got shape {X.shape}")
    if dtype is not None:
        X = np.ascontiguousarray(X, dtype=dtype)
    if np.issubdtype(X.dtype, np.floating) and not _all_finite_by_blocks(X):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
                         "clean or impute the data first")
    if unit_interval:
        lo, hi = X.min(), X.max()
        if lo < 0 or hi > 1:
            raise ValueError(
                f"{name} has values in [{lo:g}, {hi:g}] but a Bernoulli likelihood needs [0, 1]; "
                "scale the data (e.g. X / 255) or use likelihood='gaussian'")
    return X


def _all_finite_by_blocks(X, block=1 << 20):
    """``np.isfinite(X).all()`` a block of rows at a time: the boolean temporary of a whole
    data set would be a quarter of a float32 copy of it."""
    rows = max(1, block // max(1, X[0].size)) if X.ndim > 1 else block
    return all(np.isfinite(X[i:i + rows]).all() for i in range(0, len(X), rows))


def check_real(a, name, finite=True):
    """Return ``a`` (a number or an array of any shape, empty allowed) as a float64 array;
    raise ``ValueError`` if it is not real numeric data (complex, strings, ragged lists) or,
    with ``finite``, if it holds NaN or inf."""
    a = _as_numeric_array(a, name).astype(np.float64, copy=False)
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def check_kernel_array(a, name, owner, shape=None, dtype=None, writeable=False):
    """Return ``a``; raise unless it is a C-contiguous float32/float64 ndarray of ``shape``
    (``None`` entries match any size) and ``dtype``, writeable if asked. Only attributes are
    read (no pass over the data): cheap enough for a kernel's public wrapper on every step."""
    if not isinstance(a, np.ndarray):
        raise invalid(name, owner, "a NumPy array", a)
    if a.dtype not in (np.float32, np.float64) or (dtype is not None and a.dtype != dtype):
        want = f"of dtype {np.dtype(dtype)}" if dtype is not None else "of dtype float32 or float64"
        raise InvalidParameterError(f"{_param(name, owner)} must be an array {want}, got dtype "
                                    f"{a.dtype}")
    if shape is not None and (a.ndim != len(shape) or any(
            s is not None and s != t for s, t in zip(shape, a.shape))):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) \
               + ("," if len(shape) == 1 else "") + ")"
        raise InvalidParameterError(f"{_param(name, owner)} must have shape {want}, got shape "
                                    f"{a.shape}")
    if not a.flags.c_contiguous:
        raise InvalidParameterError(f"{_param(name, owner)} must be C-contiguous; pass "
                                    f"np.ascontiguousarray({name})")
    if writeable and not a.flags.writeable:
        raise InvalidParameterError(f"{_param(name, owner)} is written in place but is read-only; "
                                    "pass a writeable array (e.g. a copy)")
    return a


def check_images(images, shape, owner, name="images"):
    """``images`` of shape (n, h*w) or (n, h, w) as floats of shape (n, h, w); with flat images
    the width must match ``shape = (h, w)`` (what each image is reshaped to)."""
    sizes = check_sizes(shape, "shape", owner, min_len=2)
    if len(sizes) != 2:
        raise invalid("shape", owner, "a pair (h, w) of ints >= 1", shape)
    h, w = sizes
    X = check_array(images, name, ndim=None).astype(float)
    if X.ndim not in (2, 3):
        raise ValueError(f"{owner}: {name} must have shape (n, h*w) or (n, h, w), got {X.shape}"
                         + (f"; for one image write {name}[None]" if X.ndim == 1 else ""))
    if X.ndim == 2 and X.shape[1] != h * w:
        side = math.isqrt(X.shape[1])
        hint = f"; pass shape=({side}, {side})" if side * side == X.shape[1] else ""
        raise ValueError(f"{owner}: {name} have {X.shape[1]} pixels each, but shape=({h}, {w}) "
                         f"needs {h * w}{hint}")
    return X.reshape(len(X), h, w) if X.ndim == 2 else X


def check_curves(x, curves, owner, x_name="x", name="curves"):
    """``x`` of shape (m,) and a non-empty dict of label -> y values of shape (m,), as floats."""
    x = check_real(x, x_name, finite=False)
    if x.ndim != 1 or not len(x):
        raise ValueError(f"{owner}: {x_name} must be a non-empty 1-D array, got shape {x.shape}")
    if not isinstance(curves, Mapping) or not curves:
        raise invalid(name, owner, "a non-empty dict of label -> y values", curves)
    ys = {}
    for label, y in curves.items():
        ys[label] = check_real(y, f"{name}[{label!r}]", finite=False)
        if ys[label].shape != x.shape:
            raise ValueError(f"{owner}: {name}[{label!r}] has shape {ys[label].shape} but {x_name} "
                             f"has {x.shape}; give one y value per x")
    return x, ys

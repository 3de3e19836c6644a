"""Input checks shared by the public API. Each error says what was wrong and how to fix it."""
from __future__ import annotations

import numbers

import numpy as np


def check_positive_int(value, name):
    """Raise unless ``value`` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_positive_float(value, name):
    """Raise unless ``value`` is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_array(X, name="X", ndim=2, n_features=None, dtype=None, unit_interval=False):
    """Validate a data array and return it as a C-contiguous array of ``dtype``.

    Parameters
    ----------
    X : array_like
        The data.
    name : str
        Name used in error messages.
    ndim : int
        Required number of dimensions.
    n_features : int, optional
        Required size of the last axis.
    dtype : numpy dtype, optional
        Convert to this dtype (a copy only when needed).
    unit_interval : bool
        Require every value in [0, 1] (Bernoulli likelihood).

    Raises
    ------
    ValueError
        Wrong number of dimensions, wrong feature count, an empty array, NaN or inf values,
        or values outside [0, 1] when ``unit_interval`` is set. Nothing is clipped.
    """
    X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"{name} must be a numeric array, got dtype {X.dtype}")
    if X.ndim != ndim:
        hint = " (use X.reshape(len(X), -1) to flatten images)" if ndim == 2 and X.ndim > 2 else ""
        raise ValueError(f"{name} must be {ndim}-D, got shape {X.shape}{hint}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape})")
    if n_features is not None and X.shape[-1] != n_features:
        raise ValueError(f"{name} must have {n_features} features per row, got shape {X.shape}")
    if dtype is not None:
        X = np.ascontiguousarray(X, dtype=dtype)
    if np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
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


def check_rng(rng, name="rng"):
    """Raise unless ``rng`` is a ``numpy.random.Generator`` (the library never seeds globally)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator, got {type(rng).__name__}; "
                        "pass rng=np.random.default_rng(seed)")
    return rng


def check_sizes(sizes, name):
    """Validate a sequence of layer widths (each an integer >= 1) and return it as a tuple."""
    if isinstance(sizes, (numbers.Number, str)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"{name} must be a sequence of ints, e.g. [{sizes!r}], got {sizes!r}")
    return tuple(check_positive_int(h, "each hidden size") for h in sizes)

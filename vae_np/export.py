"""A model's decoder as plain data: ``export_decoder`` / ``load_decoder_export``.

The export is a JSON-able dict (or a ``.json`` file) that another program — the book's latent
explorer, which decodes in the browser in plain JavaScript — can run without ``vae_np``:

.. code-block:: text

    {"format": "vae_np-decoder", "version": 1,
     "latent_dim": 2, "output_dim": 784, "likelihood": "bernoulli", "output": "sigmoid",
     "dtype": "float32", "byteorder": "little",
     "layers": [{"in": 2,   "out": 128, "activation": "relu",     "W": "<base64>", "b": "<base64>"},
                {"in": 128, "out": 784, "activation": "identity", "W": "<base64>", "b": "<base64>"}]}

Each layer computes ``Y = act(X @ W + b)`` with ``W`` of shape ``(in, out)`` stored row-major
(``W[i, j]`` is float number ``i * out + j``) and ``b`` of shape ``(out,)``, both as the base64
text of their little-endian float32 bytes, so the text is a deterministic function of the
weights. ``output`` says what turns the last layer's result into ``decode``'s: ``"sigmoid"``
(Bernoulli pixel probabilities) or ``"identity"`` (Gaussian means). A float64 model is rounded
to float32.

:func:`load_decoder_export` reads an export back and checks it; :meth:`ExportedDecoder.decode`
computes exactly what ``model.decode`` computes (the same float32 arithmetic, with the activations
and the sigmoid of :mod:`vae_np.nn`). Files are written atomically (a temporary file in the same
folder, renamed over the target), so an interrupted write never leaves a partial file.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path

import numpy as np

from ._tempfiles import write_atomically
from ._validation import check_array
from .nn.layers import ACTIVATION_NAMES, ACTIVATIONS, Linear
from .nn.losses import sigmoid

__all__ = ["export_decoder", "load_decoder_export", "ExportedDecoder", "ExportError",
           "array_to_base64", "array_from_base64", "FORMAT", "VERSION"]

FORMAT = "vae_np-decoder"
VERSION = 1
OUTPUTS = {"bernoulli": "sigmoid", "gaussian": "identity"}
_FLOAT32 = np.dtype("<f4")


class ExportError(ValueError):
    """The data is not a valid vae_np decoder export (the message says what and where)."""


def array_to_base64(a):
    """The base64 text of an array's little-endian float32 bytes (row-major).

    Parameters
    ----------
    a : array_like of any shape
        Finite numbers; float64 values are rounded to float32.

    Returns
    -------
    str
        ASCII text of ``4 * a.size`` bytes, the same for the same float32 values.
    """
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all():
        raise ValueError(f"a must be an array of finite numbers, got dtype {a.dtype}"
                         + (" with NaN or inf values" if np.issubdtype(a.dtype, np.number) else ""))
    return base64.b64encode(np.ascontiguousarray(a, dtype=_FLOAT32).tobytes()).decode("ascii")


def array_from_base64(text, shape, name="text"):
    """Inverse of :func:`array_to_base64`.

    Parameters
    ----------
    text : str
        Base64 of little-endian float32 bytes.
    shape : tuple of int
        Shape of the array; the text must hold exactly ``prod(shape)`` floats.
    name : str
        What to call ``text`` in error messages (e.g. ``"layers[0].W"``).

    Returns
    -------
    ndarray of ``shape``, float32 (native byte order, a new array)
    """
    if not isinstance(text, str):
        raise ExportError(f"{name} must be base64 text, got {type(text).__name__}")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise ExportError(f"{name} is not valid base64: {e}") from e
    n = int(np.prod(shape))
    if len(raw) != 4 * n:
        raise ExportError(f"{name} holds {len(raw)} bytes, but shape {tuple(shape)} needs "
                          f"4 * {n} = {4 * n} (float32)")
    return np.frombuffer(raw, dtype=_FLOAT32).astype(np.float32).reshape(shape)


# ------------------------------------------------------------------------------------- export
def _decoder_layers(model):
    """[(W, b, activation)] of a model's decoder MLP, checked."""
    decoder = getattr(model, "decoder", None)
    layers = getattr(decoder, "layers", None)
    if layers is None or getattr(model, "likelihood", None) not in OUTPUTS:
        raise TypeError(f"model must be a vae_np VAE or Autoencoder (with a decoder MLP and a "
                        f"likelihood), got {type(model).__name__}")
    out = []
    for layer in layers:
        if isinstance(layer, Linear):
            out.append([layer.params["W"], layer.params["b"], "identity"])
        elif out and getattr(layer, "name", None) in ACTIVATIONS and out[-1][2] == "identity" \
                and isinstance(layer, ACTIVATIONS[layer.name]):
            out[-1][2] = layer.name
        else:
            raise TypeError(f"model's decoder has a layer vae_np cannot export: {layer!r}")
    if not out:
        raise TypeError("model's decoder has no Linear layer")
    for i, (W, b, _) in enumerate(out):
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError(f"model's decoder layer {i} has NaN or inf weights; "
                             "a diverged model cannot be exported")
    return out


def export_decoder(model, path=None):
    """The decoder of ``model`` as a JSON-able dict, optionally also written to ``path``.

    Parameters
    ----------
    model : vae_np.VAE or vae_np.Autoencoder
        Its decoder maps codes of shape (n, latent_dim) to outputs of shape (n, input_dim).
    path : str or os.PathLike, optional
        If given, the dict is also written there as JSON (UTF-8), atomically: to a temporary file
        in the same folder, then renamed over ``path``.

    Returns
    -------
    dict
        The export described in the module docstring; ``json.dumps`` gives the file's text.

    Raises
    ------
    TypeError
        ``model`` is not a vae_np model, or ``path`` is not a path.
    ValueError
        The decoder has NaN or inf weights.
    FileNotFoundError
        ``path``'s folder does not exist.
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str, an os.PathLike or None, got {type(path).__name__}")
    layers = _decoder_layers(model)
    data = {"format": FORMAT, "version": VERSION,
            "latent_dim": int(layers[0][0].shape[0]), "output_dim": int(layers[-1][0].shape[1]),
            "likelihood": model.likelihood, "output": OUTPUTS[model.likelihood],
            "dtype": "float32", "byteorder": "little",
            "layers": [{"in": int(W.shape[0]), "out": int(W.shape[1]), "activation": act,
                        "W": array_to_base64(W), "b": array_to_base64(b)}
                       for W, b, act in layers]}
    if path is not None:
        _write_atomically(Path(path), json.dumps(data))
    return data


def _write_atomically(path, text):
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"path {str(path)!r}: the folder {str(folder)!r} does not exist")
    write_atomically(path, lambda f: f.write(text), binary=False)


# ------------------------------------------------------------------------------------- load
class ExportedDecoder:
    """A decoder read back from an export: float32 layers and the output function.

    Attributes
    ----------
    layers : list of (W, b, activation)
        ``W`` float32 of shape (d_in, d_out), ``b`` float32 of shape (d_out,), an activation name
        of :data:`vae_np.nn.layers.ACTIVATION_NAMES`.
    latent_dim, output_dim : int
    likelihood : {"bernoulli", "gaussian"}
    """

    def __init__(self, layers, likelihood):
        self.layers = layers
        self.likelihood = likelihood
        self.latent_dim = layers[0][0].shape[0]
        self.output_dim = layers[-1][0].shape[1]

    def decode(self, Z):
        """Decode codes exactly as ``model.decode`` does (float32).

        Parameters
        ----------
        Z : ndarray of shape (n, latent_dim)

        Returns
        -------
        ndarray of shape (n, output_dim), float32
            Pixel probabilities ``sigmoid(logits)`` (Bernoulli) or means (Gaussian).
        """
        X = check_array(Z, "Z", n_features=self.latent_dim, dtype=np.float32)
        for W, b, act in self.layers:
            X = ACTIVATIONS[act].f(X @ W + b)          # Linear.forward, then the activation
        return sigmoid(X).astype(np.float32) if self.likelihood == "bernoulli" else X

    def __repr__(self):
        sizes = [self.latent_dim] + [W.shape[1] for W, _, _ in self.layers]
        return f"ExportedDecoder(sizes={sizes}, likelihood={self.likelihood!r})"


def _field(d, key, kind, where):
    if key not in d:
        raise ExportError(f"{where} has no {key!r}")
    if not isinstance(d[key], kind) or isinstance(d[key], bool):
        raise ExportError(f"{where}: {key!r} must be {getattr(kind, '__name__', kind)}, "
                          f"got {d[key]!r:.60}")
    return d[key]


def load_decoder_export(source):
    """Read a decoder export and check it.

    Parameters
    ----------
    source : dict, str or os.PathLike
        The dict returned by :func:`export_decoder` (or parsed from its JSON), or the path of a
        file it wrote.

    Returns
    -------
    ExportedDecoder

    Raises
    ------
    TypeError
        ``source`` is neither a dict nor a path.
    FileNotFoundError
        No file at that path.
    ExportError
        Not JSON, not a vae_np decoder export, another version, or layers whose shapes, sizes,
        activations or values are wrong (the message names the field).
    """
    where = "source"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        where = f"source {str(path)!r}"
        if not path.is_file():
            raise FileNotFoundError(f"{where}: no such file")
        try:
            source = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ExportError(f"{where} is not a JSON file (truncated or another format): "
                              f"{e}") from e
    elif not isinstance(source, dict):
        raise TypeError(f"source must be a dict or a path, got {type(source).__name__}")
    if not isinstance(source, dict) or source.get("format") != FORMAT:
        fmt = source.get("format") if isinstance(source, dict) else type(source).__name__
        raise ExportError(f"{where} is not a vae_np decoder export (format {fmt!r}, "
                          f"expected {FORMAT!r})")
    if source.get("version") != VERSION:
        raise ExportError(f"{where} has export version {source.get('version')!r}; this vae_np "
                          f"reads version {VERSION}")
    for key, value in (("dtype", "float32"), ("byteorder", "little")):
        if source.get(key) != value:
            raise ExportError(f"{where}: {key!r} must be {value!r}, got {source.get(key)!r}")
    likelihood = _field(source, "likelihood", str, where)
    if likelihood not in OUTPUTS or source.get("output") != OUTPUTS[likelihood]:
        raise ExportError(f"{where}: likelihood {likelihood!r} with output "
                          f"{source.get('output')!r}; expected one of {OUTPUTS}")
    specs = _field(source, "layers", list, where)
    if not specs:
        raise ExportError(f"{where}: 'layers' is empty")
    layers, d_in = [], _field(source, "latent_dim", int, where)
    for i, spec in enumerate(specs):
        name = f"{where}: layers[{i}]"
        if not isinstance(spec, dict):
            raise ExportError(f"{name} must be an object, got {type(spec).__name__}")
        n_in, n_out = _field(spec, "in", int, name), _field(spec, "out", int, name)
        if n_in != d_in or n_out < 1:
            raise ExportError(f"{name} has shape ({n_in}, {n_out}), but its input has {d_in} "
                              "features")
        act = _field(spec, "activation", str, name)
        if act not in ACTIVATION_NAMES:
            raise ExportError(f"{name}: unknown activation {act!r}; use one of {ACTIVATION_NAMES}")
        W = array_from_base64(spec.get("W"), (n_in, n_out), f"{name}.W")
        b = array_from_base64(spec.get("b"), (n_out,), f"{name}.b")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ExportError(f"{name} has NaN or inf weights")
        layers.append((W, b, act))
        d_in = n_out
    if d_in != _field(source, "output_dim", int, where):
        raise ExportError(f"{where}: the last layer outputs {d_in} numbers, but output_dim is "
                          f"{source['output_dim']}")
    return ExportedDecoder(layers, likelihood)

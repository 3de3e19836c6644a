"""Checkpoints: ``save(model, path)`` / ``load(path)`` to a ``.npz`` file.

The file holds every parameter array plus a JSON header with a format marker, a version, the model
class and its constructor arguments. ``save`` writes to a temporary file in the same folder and
renames it over the target, so a crash mid-write never destroys the previous checkpoint. The
temporary file of a save killed mid-write (``kill -9``, a power cut) is removed by the next save
into that folder once its writer is gone (the rule is in :mod:`vae_np._tempfiles`).
"""
from __future__ import annotations

import json
import zipfile

import numpy as np

from ._tempfiles import write_atomically
from ._validation import check_path, invalid

__all__ = ["save", "load", "CheckpointError", "FORMAT", "VERSION"]

FORMAT = "vae_np-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """The file is not a valid vae_np checkpoint (or does not match its architecture)."""


def _classes():
    from .nn import VAE, Autoencoder
    from .nn.free_bits import FreeBitsVAE
    from .nn.iwae import IWAE
    return {"VAE": VAE, "Autoencoder": Autoencoder, "IWAE": IWAE, "FreeBitsVAE": FreeBitsVAE}


def save(model, path):
    """Write ``model`` to ``path`` atomically.

    Parameters
    ----------
    model : vae_np.VAE, vae_np.Autoencoder, vae_np.nn.iwae.IWAE or vae_np.nn.free_bits.FreeBitsVAE
    path : str or Path
        Target file (conventionally ending in ``.npz``).

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    TypeError
        ``model`` is not a model that :func:`load` can rebuild.
    ValueError
        A parameter is NaN or inf (:func:`load` would reject the file).

    Notes
    -----
    Before writing, stale temporary files of earlier saves into the same folder (their writer
    was killed) are removed; a save in progress elsewhere keeps its file (see
    :mod:`vae_np._tempfiles`).
    """
    path = check_path(path, "path", "save")
    classes = _classes()
    if type(model) not in classes.values():
        raise invalid("model", "save", "a vae_np.VAE, Autoencoder, IWAE or FreeBitsVAE (the "
                      "models load can rebuild)", model)
    for k, p in model.params.items():
        if not np.isfinite(p).all():
            raise ValueError(f"cannot save: parameter {k!r} contains NaN or inf (load would "
                             "reject the file); reload an earlier checkpoint")
    header = {"format": FORMAT, "version": VERSION, "class": type(model).__name__,
              "config": model.config, "params": list(model.params)}
    arrays = {f"param/{k}": v for k, v in model.params.items()}
    write_atomically(path, lambda f: np.savez(f, __header__=np.array(json.dumps(header)), **arrays))
    return path


def load(path):
    """Read a checkpoint written by :func:`save` and rebuild the model.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    vae_np.VAE or vae_np.Autoencoder

    Raises
    ------
    FileNotFoundError
        No such file.
    CheckpointError
        Not a vae_np checkpoint, truncated or corrupted, an unknown version, an architecture that
        cannot be rebuilt, arrays that do not match it, or non-finite parameter values.
    """
    path = check_path(path, "path", "load")
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path} holds a single NumPy array (.npy), not a vae_np "
                                  "checkpoint; checkpoints are written by vae_np.io.save")
        with data:
            if "__header__" not in data.files:
                raise CheckpointError(f"{path} is an .npz file but not a vae_np checkpoint "
                                      "(no header); was it written by vae_np.io.save?")
            header = json.loads(str(data["__header__"]))
            arrays = {k[len("param/"):]: data[k] for k in data.files if k.startswith("param/")}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise CheckpointError(f"{path} is not a readable vae_np checkpoint (truncated or not an "
                              f".npz file): {e}") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a vae_np checkpoint (its header is not a JSON object)")
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a vae_np checkpoint (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {header.get('version')!r}; this "
                              f"vae_np reads version {VERSION}")
    classes = _classes()
    if not isinstance(header.get("class"), str) or header["class"] not in classes:
        raise CheckpointError(f"{path} stores an unknown model class {header.get('class')!r}")
    try:
        model = classes[header["class"]](**header["config"])
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: the stored architecture {header.get('config')!r} cannot "
                              f"be rebuilt: {e}") from e
    if set(arrays) != set(model.params):
        raise CheckpointError(f"{path}: stored arrays {sorted(arrays)} do not match the "
                              f"architecture's parameters {sorted(model.params)}")
    for k, p in model.params.items():
        if arrays[k].shape != p.shape:
            raise CheckpointError(f"{path}: array {k!r} has shape {arrays[k].shape} but the stored "
                                  f"architecture needs {p.shape}")
        if not np.issubdtype(arrays[k].dtype, np.floating) or not np.isfinite(arrays[k]).all():
            raise CheckpointError(f"{path}: array {k!r} is not finite floating-point data "
                                  f"(dtype {arrays[k].dtype}); the checkpoint is damaged")
        p[...] = arrays[k]
    return model

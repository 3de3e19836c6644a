"""Walking between two inputs: straight-line interpolation in pixel space and in latent space.

Pixel-space interpolation cross-fades two images (a double exposure); latent-space interpolation
decodes the points of the segment between the two codes, which for a good generative model stays
on the data manifold.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_instance, check_int, check_real
from ..nn.base import Model

__all__ = ["lerp", "interpolate_pixels", "interpolate_latent", "latent_codes"]


def lerp(a, b, n):
    """``n`` evenly spaced points on the segment from ``a`` to ``b`` (both ends included).

    Parameters
    ----------
    a, b : ndarray of shape (d,)
    n : int, >= 2

    Returns
    -------
    ndarray of shape (n, d)
        Row ``i`` is ``(1 - t_i) a + t_i b`` with ``t_i = i / (n - 1)``; dtype of ``a``.
    """
    n = check_int(n, "n", "lerp", low=2, hint="lerp needs at least 2 points, to include both ends.")
    dtype = a.dtype if isinstance(a, np.ndarray) and a.dtype.kind == "f" else np.float64
    a, b = check_real(a, "a"), check_real(b, "b")
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D of the same length, got shapes {a.shape} and "
                         f"{b.shape}")
    t = np.linspace(0.0, 1.0, n)[:, None]
    return ((1 - t) * a + t * b).astype(dtype)


def interpolate_pixels(x_a, x_b, n):
    """Cross-fade two images: ``lerp(x_a, x_b, n)``.

    Parameters
    ----------
    x_a, x_b : ndarray of shape (d,)
    n : int

    Returns
    -------
    ndarray of shape (n, d)
    """
    return lerp(x_a, x_b, n)


def latent_codes(model, X):
    """Deterministic codes: the posterior mean for a VAE, the code for an Autoencoder.

    Parameters
    ----------
    model : vae_np.VAE or vae_np.Autoencoder
    X : ndarray of shape (n, input_dim)

    Returns
    -------
    ndarray of shape (n, latent_dim)
    """
    check_instance(model, Model, "model", "latent_codes", "a vae_np.VAE or vae_np.Autoencoder")
    Z = model.encode(X)
    return Z[0] if isinstance(Z, tuple) else Z


def interpolate_latent(model, x_a, x_b, n):
    """Decode the straight line between the codes of two inputs.

    Parameters
    ----------
    model : vae_np.VAE or vae_np.Autoencoder
    x_a, x_b : ndarray of shape (input_dim,)
    n : int

    Returns
    -------
    images : ndarray of shape (n, input_dim)
        ``decode((1 - t) z_a + t z_b)``, where ``z`` is the posterior mean (VAE) or the code
        (AE); the first and last rows are the reconstructions of ``x_a`` and ``x_b``.
    Z : ndarray of shape (n, latent_dim)
        The latent points decoded.
    """
    check_instance(model, Model, "model", "interpolate_latent",
                   "a vae_np.VAE or vae_np.Autoencoder")
    x_a, x_b = check_real(x_a, "x_a"), check_real(x_b, "x_b")
    if x_a.shape != (model.input_dim,) or x_b.shape != (model.input_dim,):
        raise ValueError(f"x_a and x_b must each be one input of {model.input_dim} features "
                         f"(shape ({model.input_dim},)), got shapes {x_a.shape} and {x_b.shape}")
    X = check_array(np.stack([x_a, x_b]), "x_a and x_b", n_features=model.input_dim)
    za, zb = latent_codes(model, X)
    Z = lerp(za, zb, n)
    return model.decode(Z), Z

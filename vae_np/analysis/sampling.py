"""Walking between two inputs: straight-line interpolation in pixel space and in latent space.

Pixel-space interpolation cross-fades two images (a double exposure); latent-space interpolation
decodes the points of the segment between the two codes, which for a good generative model stays
on the data manifold.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_positive_int

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
    n = check_positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be at least 2 to include both ends, got {n}")
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D of the same length, got shapes {a.shape} and "
                         f"{b.shape}")
    t = np.linspace(0.0, 1.0, n)[:, None]
    dtype = a.dtype if np.issubdtype(a.dtype, np.floating) else np.float64
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
    X = check_array(np.stack([np.asarray(x_a), np.asarray(x_b)]), "x_a and x_b",
                    n_features=model.input_dim)
    za, zb = latent_codes(model, X)
    Z = lerp(za, zb, n)
    return model.decode(Z), Z

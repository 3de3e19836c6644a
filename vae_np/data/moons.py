"""Synthetic images of the moon at continuous phases: one continuous factor of variation.

A data set whose only factor is known makes the holes in an autoencoder's code space visible:
every image lies on a one-dimensional curve, and we can ask what the decoder makes of codes
between the training codes.
"""
from __future__ import annotations

import math

import numpy as np

from .._validation import (
    check_array,
    check_float,
    check_positive_float,
    check_positive_int,
    check_real,
    check_rng,
)

__all__ = ["make_moons", "moon_image", "moon_lit_fraction", "moon_disk_mean", "MOON_DARK"]

MOON_DARK = 0.2   # brightness of the unlit part of the disk (earthshine), so the disk shows


def moon_image(phase, size=28, radius=0.8, supersample=4):
    """One image of the waxing moon.

    Parameters
    ----------
    phase : float in [0, 1]
        The lit fraction of the disk: 0 = new moon, 0.5 = first quarter (right half lit),
        1 = full moon.
    size : int
        Image side in pixels.
    radius : float
        Disk radius as a fraction of half the image side.
    supersample : int
        Sub-pixels per pixel side (anti-aliasing, so the image changes smoothly with the phase).

    Returns
    -------
    ndarray of shape (size, size), float32 in [0, 1]
        1 on the lit part, ``MOON_DARK`` on the unlit part of the disk, 0 outside.

    Notes
    -----
    In units of the radius, a point ``(u, v)`` of the disk is lit when
    ``u > c * sqrt(1 - v**2)`` with ``c = 1 - 2 * phase``; the lit area is exactly
    ``phase`` times the disk's area.
    """
    phase, size, radius = _check_moon(phase, size, radius, "moon_image")
    supersample = check_positive_int(supersample, "supersample", "moon_image")
    s = size * supersample
    t = (np.arange(s) + 0.5) / s * 2 - 1                 # sub-pixel centres in [-1, 1]
    u, v = np.meshgrid(t / radius, -t / radius)          # u to the right, v up
    disk = u * u + v * v <= 1
    c = 1 - 2 * phase
    lit = disk & (u > c * np.sqrt(np.clip(1 - v * v, 0, None)))
    img = np.where(lit, 1.0, np.where(disk, MOON_DARK, 0.0))
    return img.reshape(size, supersample, size, supersample).mean(axis=(1, 3)).astype(np.float32)


def _check_moon(phase, size, radius, owner):
    return (check_float(phase, "phase", owner, low=0.0, high=1.0),
            check_positive_int(size, "size", owner), check_positive_float(radius, "radius", owner))


def moon_lit_fraction(images, size=None, radius=0.8):
    """Estimate the lit fraction of moon images from their brightness.

    Parameters
    ----------
    images : ndarray of shape (n, size*size) or (n, size, size)
    size : int, optional
        Image side in pixels (default: inferred from the number of pixels).
    radius : float
        The disk radius used by :func:`moon_image`.

    Returns
    -------
    ndarray of shape (n,)
        ``(b - b_new) / (b_full - b_new)``, where ``b`` is the mean brightness over the disk
        pixels and ``b_new``, ``b_full`` are the same for a new and a full moon: 0 for a new moon,
        1 for a full one, and equal to the phase (within 0.02 at 16-28 pixels, tested) in
        between. Images that are not moons (blends, blurs) get a number too: the lit fraction
        measures the amount of light, not whether the image is a moon.
    """
    images = check_array(images, "images", ndim=None, dtype=np.float64)
    radius = check_positive_float(radius, "radius", "moon_lit_fraction")
    n, pixels = images.shape[0], math.prod(images.shape[1:])
    if size is None:
        size = math.isqrt(pixels)
        if size * size != pixels:
            raise ValueError(f"images have {pixels} pixels each, not a square number; pass "
                             "size=<image side> (or images of shape (n, size, size))")
    size = check_positive_int(size, "size", "moon_lit_fraction")
    if images.ndim not in (2, 3) or images.shape[1:] not in ((size * size,), (size, size)):
        raise ValueError(f"images must have shape (n, {size * size}) or (n, {size}, {size}), got "
                         f"{images.shape}")
    full_disk = moon_image(0.0, size, radius).reshape(-1) > 0
    bright = images.reshape(n, -1)[:, full_disk].mean(axis=1)
    return (bright - moon_disk_mean(0.0, size, radius)) / (
        moon_disk_mean(1.0, size, radius) - moon_disk_mean(0.0, size, radius))


def moon_disk_mean(phase, size=28, radius=0.8):
    """Mean brightness over the disk pixels of ``moon_image(phase)`` (used for calibration)."""
    phase, size, radius = _check_moon(phase, size, radius, "moon_disk_mean")
    img = moon_image(phase, size, radius).reshape(-1)
    return float(img[moon_image(0.0, size, radius).reshape(-1) > 0].mean())


def make_moons(n, rng, size=28, phases=None):
    """A data set of moon images whose only factor of variation is the phase.

    Parameters
    ----------
    n : int
        Number of images.
    rng : numpy.random.Generator or None
        Draws the phases uniformly in [0, 1] (may be None when ``phases`` is given).
    size : int
        Image side in pixels.
    phases : ndarray of shape (n,), optional
        Use these phases instead of random ones.

    Returns
    -------
    X : ndarray of shape (n, size*size), float32 in [0, 1]
    phases : ndarray of shape (n,)
    """
    n = check_positive_int(n, "n", "make_moons")
    size = check_positive_int(size, "size", "make_moons")
    if phases is None or rng is not None:
        check_rng(rng, "rng", "make_moons")
    if phases is None:
        phases = rng.random(n)
    else:
        phases = check_real(phases, "phases")
        if phases.shape != (n,):
            raise ValueError(f"phases must have shape ({n},), got {phases.shape}")
        if phases.size and (phases.min() < 0 or phases.max() > 1):
            raise ValueError(f"phases must lie in [0, 1] (lit fractions), got values in "
                             f"[{phases.min():g}, {phases.max():g}]")
    X = np.stack([moon_image(p, size).reshape(-1) for p in phases])
    return X, phases

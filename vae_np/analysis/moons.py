"""The moon comparison: is a decoded image a moon, which one, and does a path walk the phase in order?

Chapters 2 and 5a ask the same question of a plain autoencoder, a noisy-code autoencoder and a
VAE trained on :func:`vae_np.data.make_moons`: does the point halfway between the codes of a full
and a half moon decode to a three-quarter moon? This module holds the one shared set-up
(:data:`MOON_SETUP`, so that both chapters train the same models) and the measures:

* the RMS distance of a decoded image to the nearest *true* moon of a fine phase grid (0 for a
  moon, large for a blend), and that moon's phase;
* the lit fraction read from the image's brightness (:func:`vae_np.data.moon_lit_fraction`);
* the fraction of steps along a path whose lit fraction moves towards the end point's
  (1 when the path walks the phase in order);
* the distance of the model's own reconstructions (the scale of its blur) and of decoded
  *samples* of codes (from the prior for a VAE; from a Gaussian fitted to the training codes for
  an autoencoder, which has no distribution of its own).
"""
from __future__ import annotations

import numpy as np

from .. import fast
from .._validation import (
    check_array,
    check_float,
    check_instance,
    check_int,
    check_option,
    check_positive_int,
    check_rng,
    check_seed,
)
from ..data.moons import make_moons, moon_lit_fraction
from ..nn.autoencoder import Autoencoder
from ..nn.base import Model
from ..nn.optim import Adam
from ..nn.vae import VAE
from ..train import fit
from .metrics import nearest_template
from .sampling import interpolate_latent, latent_codes

__all__ = ["MOON_SETUP", "MOON_KINDS", "MOON_COLUMNS", "moon_templates", "judge_moons",
           "steps_in_order", "sample_codes", "fit_moon_model", "moon_measures", "summarize",
           "moon_table"]

#: The one set-up of the moon comparison (chapters 2 and 5a): data, width, training, noise.
MOON_SETUP = {"n_moons": 1000, "data_seed": 0, "size": 16, "hidden": 128, "epochs": 40, "batch_size": 64,
              "lr": 2e-3, "code_noise": 3.0}
#: The three models compared.
MOON_KINDS = ("autoencoder", "noisy-code autoencoder", "VAE")
#: Columns of :func:`moon_table`: measure -> (header, format).
#: Every distance is the RMS pixel distance to the nearest true moon; "recon." and "samples" are
#: medians over the reconstructed training moons and the decoded sampled codes.
MOON_COLUMNS = {"recon_rms": ("recon. distance", ".3f"), "mid_rms": ("midpoint distance", ".3f"),
                "mid_ratio": ("midpoint / recon.", ".1f"), "mid_lit": ("midpoint lit", ".2f"),
                "mid_phase": ("nearest phase", ".2f"), "in_order": ("steps in order", ".2f"),
                "sample_rms": ("samples: median dist.", ".3f")}


def moon_templates(n_phases=201, size=28):
    """True moons on an evenly spaced phase grid, to judge decoded images against.

    Parameters
    ----------
    n_phases : int, >= 2
        Number of phases in [0, 1] (201: a step of 0.005).
    size : int
        Image side in pixels.

    Returns
    -------
    phases : ndarray of shape (n_phases,)
    templates : ndarray of shape (n_phases, size*size), float32
    """
    n_phases = check_int(n_phases, "n_phases", "moon_templates", low=2)
    phases = np.linspace(0.0, 1.0, n_phases)
    templates, _ = make_moons(n_phases, None, size=size, phases=phases)
    return phases, templates


def judge_moons(images, phases, templates):
    """The nearest true moon of each image, the distance to it, and the image's lit fraction.

    Parameters
    ----------
    images : ndarray of shape (n, d)
    phases : ndarray of shape (m,)
        Phase of each template.
    templates : ndarray of shape (m, d)
        True moons, e.g. from :func:`moon_templates`.

    Returns
    -------
    dict
        ``"phase"``: phase of the nearest template, ``"rms"``: RMS pixel distance to it,
        ``"lit"``: lit fraction of the image; each an ndarray of shape (n,).
    """
    phases = check_array(phases, "phases", ndim=1, dtype=np.float64)
    templates = check_array(templates, "templates", dtype=np.float64)
    if len(phases) != len(templates):
        raise ValueError(f"phases has {len(phases)} entries but there are {len(templates)} "
                         "templates; give one phase per template")
    index, rms = nearest_template(images, templates)
    return {"phase": phases[index], "rms": rms, "lit": moon_lit_fraction(images)}


def steps_in_order(values, start, end):
    """Fraction of the steps of a path that move from ``start`` towards ``end``.

    Parameters
    ----------
    values : ndarray of shape (n,), n >= 2
        A quantity along the path (e.g. the lit fraction of each decoded image).
    start, end : float
        Its true values at the two ends; ``start != end``.

    Returns
    -------
    float in [0, 1]
        1 when ``values`` changes in the direction of ``end - start`` at every step
        (a monotone walk), 0 when every step goes the wrong way. A step that does not change the
        value counts as out of order.
    """
    values = check_array(values, "values", ndim=1, dtype=np.float64)
    if len(values) < 2:
        raise ValueError(f"values must hold at least 2 points of a path, got {len(values)}")
    start = check_float(start, "start", "steps_in_order")
    end = check_float(end, "end", "steps_in_order")
    direction = np.sign(end - start)
    if direction == 0:
        raise ValueError(f"start and end must differ to define a direction, got {start} twice")
    return float(np.mean(np.sign(np.diff(values)) == direction))


def sample_codes(model, X, n, rng):
    """Codes a model would be sampled with: the prior for a VAE, a fitted Gaussian otherwise.

    An autoencoder has no distribution over codes; the most generous stand-in is a Gaussian
    with the mean and covariance of its training codes (chapter 2 does the same for MNIST).

    Parameters
    ----------
    model : vae_np.VAE or vae_np.Autoencoder
    X : ndarray of shape (m, input_dim)
        Training inputs whose codes define the Gaussian (unused for a VAE).
    n : int
        Number of codes.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n, latent_dim), of ``model.dtype``
    """
    check_instance(model, Model, "model", "sample_codes", "a vae_np.VAE or vae_np.Autoencoder")
    n = check_positive_int(n, "n", "sample_codes")
    check_rng(rng, "rng", "sample_codes")
    k = model.latent_dim
    if isinstance(model, VAE):
        return rng.standard_normal((n, k)).astype(model.dtype)
    Z = latent_codes(model, X).astype(np.float64)
    cov = np.cov(Z, rowvar=False).reshape(k, k)
    return rng.multivariate_normal(Z.mean(axis=0), cov, size=n).astype(model.dtype)


def fit_moon_model(kind, latent_dim, seed, X, setup=None):
    """Build and train one model of the comparison with the shared set-up.

    Parameters
    ----------
    kind : {"autoencoder", "noisy-code autoencoder", "VAE"}
    latent_dim : int
        Size of the code.
    seed : int
        Seed of the initial weights and of the training (shuffling, noise).
    X : ndarray of shape (n, d)
        The training moons (``d = size**2``).
    setup : dict, optional
        Overrides of :data:`MOON_SETUP` (``hidden``, ``epochs``, ``batch_size``, ``lr``,
        ``code_noise``).

    Returns
    -------
    model : vae_np.Autoencoder or vae_np.VAE
        ``d - hidden - latent_dim`` with ReLU and a Bernoulli decoder, trained by Adam on the
        reference (NumPy) path of :func:`vae_np.fit`.
    """
    kind = check_option(kind, "kind", MOON_KINDS, "fit_moon_model")
    latent_dim = check_positive_int(latent_dim, "latent_dim", "fit_moon_model")
    seed = check_seed(seed, "seed", "fit_moon_model")
    s = {**MOON_SETUP, **(setup or {})}
    X = check_array(X, "X", unit_interval=True)
    if kind == "VAE":
        model = VAE(X.shape[1], (s["hidden"],), latent_dim, seed=seed)
    else:
        noise = s["code_noise"] if kind == "noisy-code autoencoder" else 0.0
        model = Autoencoder(X.shape[1], (s["hidden"],), latent_dim, code_noise=noise, seed=seed)
    # The reference (NumPy) path rounds the same with or without numba, so the comparison's
    # numbers are reproducible bit for bit in every test mode; at this size it is fast enough.
    with fast.backend("numpy"):
        fit(model, X, s["epochs"], s["batch_size"], Adam(s["lr"]), seed=seed, progress=False)
    return model


def moon_measures(model, X, x_from, x_to, rng, phases, templates, n_steps=11, n_samples=500,
                  n_recon=300):
    """Every measure of the comparison for one trained model.

    Parameters
    ----------
    model : vae_np.VAE or vae_np.Autoencoder
    X : ndarray of shape (m, d)
        Training moons (reconstructed, and used for the autoencoders' code Gaussian).
    x_from, x_to : ndarray of shape (d,)
        The ends of the path (true moons: the full and the half moon).
    rng : numpy.random.Generator
        Draws the sampled codes.
    phases, templates : ndarray of shape (p,) and (p, d)
        The true moons to judge against (:func:`moon_templates`).
    n_steps : int, odd, >= 3
        Points on the path (both ends included); the middle one is the midpoint.
    n_samples : int
        Number of sampled codes decoded.
    n_recon : int
        Number of training moons reconstructed (the first ``n_recon`` rows of ``X``).

    Returns
    -------
    dict
        ``path`` (n_steps, d): the decoded path; ``path_rms``, ``path_lit``, ``path_phase``
        (n_steps,): distance to, lit fraction and phase of the nearest true moon along it;
        ``mid_rms``, ``mid_lit``, ``mid_phase``: the midpoint's distance to the nearest true moon,
        lit fraction and nearest phase; ``max_rms``: the worst point of the path;
        ``in_order``: :func:`steps_in_order` of the lit fractions against the true ends;
        ``recon_rms``: median distance of the reconstructions; ``mid_ratio``:
        ``mid_rms / recon_rms``; ``sample_rms``: median distance of decoded sampled codes.
    """
    n_steps = check_int(n_steps, "n_steps", "moon_measures", low=3)
    if n_steps % 2 == 0:
        raise ValueError(f"n_steps must be odd so that the path has a midpoint, got {n_steps}")
    check_rng(rng, "rng", "moon_measures")
    n_recon = check_positive_int(n_recon, "n_recon", "moon_measures")
    path, _ = interpolate_latent(model, x_from, x_to, n_steps)
    on_path = judge_moons(path, phases, templates)
    ends = moon_lit_fraction(np.stack([x_from, x_to]))
    recon = judge_moons(model.reconstruct(X[:n_recon]), phases, templates)["rms"]
    samples = model.decode(sample_codes(model, X, n_samples, rng))
    mid = n_steps // 2
    r = {"path": path, "path_rms": on_path["rms"], "path_lit": on_path["lit"],
         "path_phase": on_path["phase"],
         "mid_rms": float(on_path["rms"][mid]), "mid_lit": float(on_path["lit"][mid]),
         "mid_phase": float(on_path["phase"][mid]), "max_rms": float(on_path["rms"].max()),
         "in_order": steps_in_order(on_path["lit"], ends[0], ends[1]),
         "recon_rms": float(np.median(recon)),
         "sample_rms": float(np.median(judge_moons(samples, phases, templates)["rms"]))}
    r["mid_ratio"] = r["mid_rms"] / r["recon_rms"]
    return r


def summarize(results, keys):
    """Mean and standard deviation over seeds of scalar measures.

    Parameters
    ----------
    results : sequence of dict
        One :func:`moon_measures` result per seed.
    keys : sequence of str
        The scalar measures to summarize.

    Returns
    -------
    dict of str -> (float, float)
        ``key -> (mean, std)`` over the results (population std, ``ddof=0``).
    """
    if len(results) == 0:
        raise ValueError("results is empty: give at least one moon_measures result")
    out = {}
    for key in keys:
        v = np.array([r[key] for r in results], dtype=np.float64)
        out[key] = (float(v.mean()), float(v.std()))
    return out


def moon_table(rows, columns=None):
    """A text table of measures, one row per model: mean and spread over seeds.

    Parameters
    ----------
    rows : dict of str -> sequence of dict
        Row label -> the :func:`moon_measures` results of its seeds.
    columns : dict of str -> (str, str), optional
        Measure -> (header, format spec); default :data:`MOON_COLUMNS`.

    Returns
    -------
    str
        Each cell is ``mean ± std`` over the seeds (population std), in the column's format.
    """
    columns = MOON_COLUMNS if columns is None else columns
    label_width = max(len(label) for label in rows)
    cells = {label: [f"{m:{fmt}} ± {s:{fmt}}" for key, (_, fmt) in columns.items()
                     for m, s in [summarize(results, [key])[key]]]
             for label, results in rows.items()}
    widths = [max(len(header), *(len(c[j]) for c in cells.values()))
              for j, (header, _) in enumerate(columns.values())]
    lines = [" " * label_width + "  " + "  ".join(
        h.rjust(w) for (h, _), w in zip(columns.values(), widths))]
    lines += [label.ljust(label_width) + "  " + "  ".join(c.rjust(w) for c, w in zip(row, widths))
              for label, row in cells.items()]
    return "\n".join(lines)

"""Conceptual figures of the book, drawn by code: the AEVB graphical model, the VAE's computation
graph with where the noise enters and where gradients flow, and a correlated Gaussian posterior
against its mean-field approximation.

Every function draws on a Matplotlib ``Axes`` (made if not given), labels it and returns it, like
:mod:`vae_np.plotting`; arguments are checked before anything is drawn.
"""
from __future__ import annotations

import numpy as np

from ._validation import check_axes, check_float, check_int, check_real, check_text

__all__ = ["draw_graphical_model", "draw_computation_graph", "plot_posterior_vs_meanfield",
           "covariance_ellipse"]

_FORWARD = "0.15"          # forward computation: dark grey
_BACKWARD = "C3"           # gradients: red
_NOISE = "C0"              # the noise eps: blue


def _node(ax, xy, text, observed=False, radius=0.42, fontsize=15, dashed=False, color="k"):
    """A circle with a label; observed variables are shaded, as in plate notation."""
    from matplotlib.patches import Circle
    face = "0.8" if observed else "white"
    ax.add_patch(Circle(xy, radius, facecolor=face, edgecolor=color, lw=1.6,
                        ls="--" if dashed else "-", zorder=3))
    ax.text(*xy, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _box(ax, xy, text, width, height=0.7, face="white", edge="k", fontsize=11, hatch=None,
         ls="-"):
    """A rounded box centred at ``xy`` with a label."""
    from matplotlib.patches import FancyBboxPatch
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.05,rounding_size=0.12", facecolor=face,
                                edgecolor=edge, lw=1.5, hatch=hatch, ls=ls, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _arrow(ax, start, end, color=_FORWARD, dashed=False, rad=0.0, lw=1.6, shrink=0.0):
    """An arrow from ``start`` to ``end`` (data coordinates), optionally curved by ``rad``."""
    ax.annotate("", xy=end, xytext=start, zorder=2,
                arrowprops=dict(arrowstyle="-|>", color=color, lw=lw, ls="--" if dashed else "-",
                                connectionstyle=f"arc3,rad={rad}", shrinkA=shrink,
                                shrinkB=shrink, mutation_scale=16))


def _edge_points(a, b, ra, rb):
    """The points where the segment from circle ``a`` (radius ra) to circle ``b`` leaves a and
    enters b, so arrows start and end on the circles' rims."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    u = (b - a) / np.linalg.norm(b - a)
    return tuple(a + ra * u), tuple(b - rb * u)


def draw_graphical_model(ax=None, title="The AEVB graphical model"):
    """The directed graphical model of Kingma & Welling's Figure 1 in plate notation.

    Solid arrows are the generative model ``p_theta(z) p_theta(x | z)``; dashed arrows the
    variational approximation ``q_phi(z | x)``; the plate repeats ``z -> x`` for the ``N``
    data points, while ``theta`` and ``phi`` are shared by all of them. The observed ``x`` is
    shaded.

    Parameters
    ----------
    ax : matplotlib Axes, optional
    title : str or None

    Returns
    -------
    matplotlib Axes
    """
    check_text(title, "title", "draw_graphical_model")
    ax = check_axes(ax, (5.5, 4.2), "draw_graphical_model")
    from matplotlib.patches import Rectangle
    r, small = 0.42, 0.3
    z, x, theta, phi = (2.5, 3.0), (2.5, 1.1), (4.6, 2.05), (0.4, 3.0)
    ax.add_patch(Rectangle((1.45, 0.25), 2.1, 3.55, facecolor="none", edgecolor="k", lw=1.3))
    ax.text(3.4, 0.4, "$N$", ha="right", va="bottom", fontsize=14)
    _node(ax, z, "$z$", radius=r)
    _node(ax, x, "$x$", observed=True, radius=r)
    _node(ax, theta, r"$\theta$", radius=small, fontsize=13)
    _node(ax, phi, r"$\phi$", radius=small, fontsize=13, dashed=True)
    _arrow(ax, *_edge_points(z, x, r, r))
    _arrow(ax, *_edge_points(theta, z, small, r))
    _arrow(ax, *_edge_points(theta, x, small, r))
    _arrow(ax, *_edge_points(phi, z, small, r), dashed=True)
    start, end = _edge_points(x, z, r, r)
    _arrow(ax, (start[0] - 0.25, start[1]), (end[0] - 0.25, end[1]), dashed=True, rad=-0.55)
    ax.text(1.2, 2.05, r"$q_\phi(z \mid x)$", ha="right", va="center", fontsize=11)
    ax.text(2.65, 2.05, r"$p_\theta(x \mid z)$", ha="left", va="center", fontsize=11)
    ax.text(2.5, 3.55, r"$p_\theta(z)$", ha="center", va="bottom", fontsize=11)
    ax.plot([], [], color=_FORWARD, label=r"generative model $p_\theta(z)\,p_\theta(x \mid z)$")
    ax.plot([], [], color=_FORWARD, ls="--", label=r"approximate posterior $q_\phi(z \mid x)$")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.16), fontsize=9, frameon=False, ncol=1)
    ax.set_xlim(-0.1, 5.2)
    ax.set_ylim(0.1, 4.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    return ax


def draw_computation_graph(ax=None, title="One VAE training step: forward pass and gradients"):
    """The VAE's computation graph, with where the noise enters and where gradients flow.

    Forward (grey): ``x -> encoder -> (mu, log sigma^2) -> z = mu + sigma * eps -> decoder ->
    -log p(x | z)``, and ``(mu, log sigma^2) -> KL``; both terms add up to the loss ``-L``.
    Backward (red, dashed): the gradient of the loss flows back along every forward arrow except
    the one from ``eps ~ N(0, I)``, a constant input drawn outside the graph (hatched).

    Parameters
    ----------
    ax : matplotlib Axes, optional
    title : str or None

    Returns
    -------
    matplotlib Axes
    """
    check_text(title, "title", "draw_computation_graph")
    ax = check_axes(ax, (12, 4.4), "draw_computation_graph")
    y, top = 2.0, 3.7
    P = {"x": 0.55, "enc": 2.0, "q": 3.85, "z": 5.95, "dec": 7.9, "rec": 9.75, "loss": 11.55}
    W = {"x": 0.7, "enc": 1.25, "q": 1.45, "z": 1.95, "dec": 1.25, "rec": 1.6, "loss": 1.3}
    _box(ax, (P["x"], y), "$x$", W["x"], face="0.85")
    _box(ax, (P["enc"], y), "encoder\n" + r"$\phi$", W["enc"], height=0.9)
    _box(ax, (P["q"], y), r"$\mu,\ \log\sigma^2$", W["q"])
    _box(ax, (P["z"], y), r"$z = \mu + \sigma \odot \varepsilon$", W["z"])
    _box(ax, (P["dec"], y), "decoder\n" + r"$\theta$", W["dec"], height=0.9)
    _box(ax, (P["rec"], y), r"$-\log p_\theta(x \mid z)$", W["rec"])
    _box(ax, (P["loss"], y), r"loss $-\mathcal{L}$", W["loss"], face="0.85")
    kl, kl_w = (P["dec"], top), 2.4
    _box(ax, kl, r"$\mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z))$", kl_w)
    eps = (P["z"], 0.35)
    _box(ax, eps, r"$\varepsilon \sim \mathcal{N}(0, I)$", W["z"], edge=_NOISE, hatch="//",
         face="#eef4fb")

    chain = ["x", "enc", "q", "z", "dec", "rec", "loss"]
    for a, b in zip(chain, chain[1:]):
        start, end = P[a] + W[a] / 2 + 0.06, P[b] - W[b] / 2 - 0.06
        _arrow(ax, (start, y + 0.1), (end, y + 0.1))
        if a != "x":              # the data x is not a parameter: no gradient is needed there
            _arrow(ax, (end, y - 0.15), (start, y - 0.15), color=_BACKWARD, dashed=True, lw=1.3)
    kl_left, kl_right = (kl[0] - kl_w / 2 - 0.06, top), (kl[0] + kl_w / 2 + 0.06, top)
    _arrow(ax, (P["q"], y + 0.42), (kl_left[0], top + 0.08), rad=-0.25)
    _arrow(ax, (kl_left[0], top - 0.2), (P["q"] + 0.35, y + 0.42), color=_BACKWARD,
           dashed=True, lw=1.3, rad=0.2)
    _arrow(ax, (kl_right[0], top + 0.08), (P["loss"], y + 0.42), rad=-0.25)
    _arrow(ax, (P["loss"] - 0.35, y + 0.42), (kl_right[0], top - 0.2), color=_BACKWARD,
           dashed=True, lw=1.3, rad=0.2)
    _arrow(ax, (eps[0], eps[1] + 0.42), (P["z"], y - 0.42), color=_NOISE)
    ax.text(eps[0] + W["z"] / 2 + 0.15, eps[1], "no gradient:\na constant input",
            ha="left", va="center", fontsize=9, color=_NOISE)
    ax.plot([], [], color=_FORWARD, label="forward computation")
    ax.plot([], [], color=_BACKWARD, ls="--", label=r"gradient of the loss $-\mathcal{L}$")
    ax.plot([], [], color=_NOISE, label=r"noise $\varepsilon$, drawn outside the graph")
    ax.legend(loc="lower left", fontsize=9, frameon=False)
    ax.set_xlim(0.1, 12.3)
    ax.set_ylim(-0.2, 4.4)
    ax.axis("off")
    ax.set_title(title)
    return ax


def covariance_ellipse(mean, cov, n_std=1.0, n_points=200):
    """Points of the contour ``(z - mean)^T cov^{-1} (z - mean) = n_std^2`` of a 2-D Gaussian.

    Parameters
    ----------
    mean : ndarray of shape (2,)
    cov : ndarray of shape (2, 2), symmetric positive definite
    n_std : float > 0
        Mahalanobis radius of the contour.
    n_points : int

    Returns
    -------
    ndarray of shape (n_points, 2)
        ``mean + n_std * L [cos t, sin t]`` with ``cov = L L^T`` (Cholesky).
    """
    mean, cov = _check_gaussian(mean, cov, "mean", "cov", "covariance_ellipse")
    n_std = check_float(n_std, "n_std", "covariance_ellipse", low=0.0, low_open=True)
    n_points = check_int(n_points, "n_points", "covariance_ellipse", low=3)
    t = np.linspace(0.0, 2 * np.pi, n_points)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    return mean + n_std * circle @ np.linalg.cholesky(cov).T


def _check_gaussian(mean, cov, mean_name, cov_name, owner):
    mean, cov = check_real(mean, mean_name), check_real(cov, cov_name)
    if mean.shape != (2,):
        raise ValueError(f"{mean_name} of {owner} must have shape (2,), got {mean.shape}")
    if cov.shape != (2, 2):
        raise ValueError(f"{cov_name} of {owner} must have shape (2, 2), got {cov.shape}")
    if not np.allclose(cov, cov.T) or np.linalg.eigvalsh(cov).min() <= 0:
        raise ValueError(f"{cov_name} of {owner} must be symmetric positive definite, "
                         f"got {cov.tolist()}")
    return mean, cov


def plot_posterior_vs_meanfield(post_mean, post_cov, q_mean, q_var, ax=None, n_std=(1.0, 2.0),
                                title="True posterior and mean-field approximation",
                                xlabel="$z_1$", ylabel="$z_2$"):
    """Contours of a correlated 2-D Gaussian posterior and of a diagonal (mean-field) Gaussian.

    Parameters
    ----------
    post_mean : ndarray of shape (2,)
    post_cov : ndarray of shape (2, 2), symmetric positive definite
        The true posterior ``N(post_mean, post_cov)``.
    q_mean : ndarray of shape (2,)
    q_var : ndarray of shape (2,), positive
        The mean-field ``q = N(q_mean, diag(q_var))``.
    ax : matplotlib Axes, optional
    n_std : sequence of float > 0
        Mahalanobis radii of the contours drawn for each Gaussian.
    title, xlabel, ylabel : str or None

    Returns
    -------
    matplotlib Axes
    """
    owner = "plot_posterior_vs_meanfield"
    post_mean, post_cov = _check_gaussian(post_mean, post_cov, "post_mean", "post_cov", owner)
    q_var = check_real(q_var, "q_var")
    if q_var.shape != (2,) or (q_var <= 0).any():
        raise ValueError(f"q_var of {owner} must be 2 positive variances, got {q_var.tolist()}")
    q_mean, q_cov = _check_gaussian(q_mean, np.diag(q_var), "q_mean", "diag(q_var)", owner)
    radii = check_real(n_std, "n_std")
    if radii.ndim != 1 or len(radii) == 0 or (radii <= 0).any():
        raise ValueError(f"n_std of {owner} must be a non-empty sequence of positive floats, "
                         f"got {radii.tolist()}")
    for name, value in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        check_text(value, name, owner)
    ax = check_axes(ax, (5.5, 5), owner)
    for i, r in enumerate(radii):
        p = covariance_ellipse(post_mean, post_cov, r)
        q = covariance_ellipse(q_mean, q_cov, r)
        ax.plot(p[:, 0], p[:, 1], color="k", lw=2, alpha=1 - 0.4 * i / len(radii),
                label=r"true posterior $p(z \mid x)$" if i == 0 else None)
        ax.plot(q[:, 0], q[:, 1], color="C1", lw=2, ls="--", alpha=1 - 0.4 * i / len(radii),
                label=r"mean-field $q(z)$ (diagonal)" if i == 0 else None)
    ax.plot(*post_mean, "k+", ms=12, mew=2)
    ax.plot(*q_mean, "x", color="C1", ms=9, mew=2)
    radius_text = ", ".join(f"{r:g}" for r in radii)
    ax.plot([], [], " ", label=f"contours at {radius_text} standard deviations")
    ax.legend(loc="best", fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    return ax

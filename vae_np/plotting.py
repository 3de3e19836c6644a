"""Figures used throughout the book. Every function draws on a Matplotlib ``Axes`` (made if not
given), labels it, and returns it, so notebooks stay short and figures look the same everywhere.
Arguments are checked (shapes, lengths, kinds) before anything is drawn: never a wrong picture."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._validation import (
    check_array,
    check_axes,
    check_callable,
    check_curves,
    check_float,
    check_images,
    check_instance,
    check_int,
    check_positive_float,
    check_positive_int,
    check_real,
    check_text,
    invalid,
)

__all__ = ["image_grid", "plot_images", "plot_reconstructions", "plot_latent_scatter",
           "plot_manifold", "plot_history", "manifold_grid", "plot_curves", "plot_image_rows",
           "plot_mixture_1d", "plot_density_2d"]


def image_grid(images, nrows, ncols, pad=1, shape=(28, 28)):
    """Tile images into one array.

    Parameters
    ----------
    images : ndarray of shape (n, h*w) or (n, h, w), n <= nrows*ncols
    nrows, ncols : int
    pad : int
        Pixels of padding between tiles (filled with 1.0 so black digits stay separated).
    shape : (int, int)
        ``(h, w)`` of one image when ``images`` is flat.

    Returns
    -------
    ndarray of shape (nrows*(h+pad)-pad, ncols*(w+pad)-pad)
    """
    images = check_images(images, shape, "image_grid")
    nrows = check_positive_int(nrows, "nrows", "image_grid")
    ncols = check_positive_int(ncols, "ncols", "image_grid")
    pad = check_int(pad, "pad", "image_grid", low=0)
    h, w = images.shape[1:]
    if len(images) > nrows * ncols:
        raise ValueError(f"{len(images)} images do not fit in a {nrows}x{ncols} grid")
    grid = np.ones((nrows * (h + pad) - pad, ncols * (w + pad) - pad))
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        grid[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = img
    return grid


def plot_images(images, nrows, ncols, title=None, ax=None, shape=(28, 28), cmap="gray_r"):
    """Show images in a grid (dark strokes on white, as digits are usually printed).

    Parameters
    ----------
    images : ndarray of shape (n, h*w) or (n, h, w), values in [0, 1]
    nrows, ncols : int
    title : str, optional
    ax : matplotlib Axes, optional
    shape : (int, int)
    cmap : str

    Returns
    -------
    matplotlib Axes
    """
    images = check_images(images, shape, "plot_images")
    grid = image_grid(images, nrows, ncols) if cmap != "gray_r" else \
        1 - image_grid(1 - images, nrows, ncols)
    check_text(title, "title", "plot_images")
    check_text(cmap, "cmap", "plot_images")
    ax = check_axes(ax, (ncols * 0.6 + 1, nrows * 0.6 + 0.6), "plot_images")
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def plot_reconstructions(X, X_rec, n=10, ax=None, shape=(28, 28),
                         title="Inputs (top) and reconstructions (bottom)"):
    """Inputs in the top row and their reconstructions below.

    Parameters
    ----------
    X, X_rec : ndarray of shape (m, h*w), m >= n
    n : int
        Number of pairs.
    """
    X, X_rec = (check_images(a, shape, "plot_reconstructions", k) for k, a in (("X", X), ("X_rec", X_rec)))
    if X.shape != X_rec.shape:
        raise ValueError(f"plot_reconstructions: X and X_rec differ: {X.shape}, {X_rec.shape}")
    n = check_int(n, "n", "plot_reconstructions", low=1, high=len(X),
                  hint=f"X holds {len(X)} images.")
    return plot_images(np.concatenate([X[:n], X_rec[:n]]), 2, n, title=title, ax=ax,
                       shape=X.shape[1:])


def plot_latent_scatter(Z, labels, ax=None, title="Latent codes coloured by digit",
                        xlabel="$z_1$", ylabel="$z_2$", s=6):
    """Scatter the first two latent coordinates, coloured by label, with a legend.

    Parameters
    ----------
    Z : ndarray of shape (n, k), k >= 2
    labels : ndarray of shape (n,) of int
    """
    import matplotlib.pyplot as plt
    Z = check_array(Z, "Z")
    if Z.shape[1] < 2:
        raise ValueError(f"plot_latent_scatter draws two coordinates, but Z has {Z.shape[1]} "
                         f"(shape {Z.shape}); a 1-D code is better drawn against its labels")
    labels = check_array(labels, "labels", ndim=1)
    if labels.dtype.kind not in "iub" or len(labels) != len(Z):
        raise ValueError(f"labels must hold one integer (class index) per row of Z ({len(Z)}), got "
                         f"{len(labels)} of dtype {labels.dtype} (labels.astype(int) for whole numbers)")
    s = check_positive_float(s, "s", "plot_latent_scatter")
    ax = check_axes(ax, (6, 5), "plot_latent_scatter")
    cmap = plt.get_cmap("tab10")
    for c in np.unique(labels):
        m = labels == c
        ax.scatter(Z[m, 0], Z[m, 1], s=s, color=cmap(int(c) % 10), label=str(c), alpha=0.7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(title="label", markerscale=2, fontsize="small", loc="center left",
              bbox_to_anchor=(1.0, 0.5))
    return ax


def manifold_grid(n=15, lo=0.05, hi=0.95):
    """Latent points on an ``n x n`` grid, evenly spaced in *probability*.

    The grid ``linspace(lo, hi, n)`` in each coordinate is pushed through the inverse standard
    normal CDF, so each cell holds equal prior mass (as in Kingma & Welling, Fig. 4).

    Returns
    -------
    ndarray of shape (n*n, 2)
        Row-major from the top-left: ``z_2`` decreases down the rows, ``z_1`` increases along them.
    """
    from scipy.stats import norm
    n = check_positive_int(n, "n", "manifold_grid")
    lo = check_float(lo, "lo", "manifold_grid", low=0.0, high=1.0, low_open=True, high_open=True)
    hi = check_float(hi, "hi", "manifold_grid", low=lo, high=1.0, high_open=True,
                     hint="Need 0 < lo <= hi < 1 (probabilities).")
    z = norm.ppf(np.linspace(lo, hi, n))
    z1, z2 = np.meshgrid(z, z[::-1])
    return np.column_stack([z1.ravel(), z2.ravel()])


def plot_manifold(model, n=15, ax=None, title="Decoded latent grid (inverse-CDF spacing)",
                  shape=(28, 28)):
    """Decode a grid of 2-D latent points and show the images as one picture.

    Parameters
    ----------
    model : vae_np.VAE with latent_dim == 2
    n : int
        Grid side.
    """
    from .nn.base import Model
    check_instance(model, Model, "model", "plot_manifold", "a vae_np.VAE or vae_np.Autoencoder")
    if model.latent_dim != 2:
        raise ValueError(f"plot_manifold needs a 2-D latent space, the model has {model.latent_dim}")
    images = model.decode(manifold_grid(n).astype(model.dtype))
    ax = plot_images(images, n, n, title=title, ax=ax, shape=shape)
    ax.set_xlabel(r"$z_1$ (from $\Phi^{-1}(0.05)$ to $\Phi^{-1}(0.95)$)")
    ax.set_ylabel(r"$z_2$")
    return ax


def plot_history(history, ax=None, title="Training curves", ylabel="negative ELBO (nats per example)"):
    """Train (and validation) loss per epoch.

    Parameters
    ----------
    history : vae_np.train.History or dict
        What :func:`vae_np.fit` returns, or its ``as_dict()``.
    """
    from .train import History
    if isinstance(history, History):
        history = history.as_dict()
    if not isinstance(history, Mapping) or not {"epoch", "train_loss"} <= set(history):
        raise invalid("history", "plot_history", "a vae_np.History (what fit returns) or a dict "
                      "with 'epoch' and 'train_loss' lists", history)
    keys = ["train_loss"] + (["val_loss"] if len(history.get("val_loss", ())) else [])
    epoch, curves = check_curves(history["epoch"], {k: history[k] for k in keys}, "plot_history",
                                 "history['epoch']", "history")
    ax = check_axes(ax, (6, 4), "plot_history")
    ax.plot(epoch, curves["train_loss"], "o-", label="train")
    if "val_loss" in curves:
        ax.plot(epoch, curves["val_loss"], "s--", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_curves(x, curves, ax=None, title=None, xlabel=None, ylabel=None, logx=False,
                logy=False, styles=None, legend_loc="best"):
    """Several labelled curves over the same x values (densities, bounds, error vs sample size).

    Parameters
    ----------
    x : ndarray of shape (m,)
    curves : dict of str -> ndarray of shape (m,)
        Legend label -> y values, drawn in the dict's order.
    ax : matplotlib Axes, optional
    title, xlabel, ylabel : str, optional
    logx, logy : bool
        Logarithmic axes.
    styles : dict of str -> dict, optional
        Extra keyword arguments of ``ax.plot`` per label (e.g. ``{"p": {"color": "k"}}``).
    legend_loc : str

    Returns
    -------
    matplotlib Axes
    """
    x, ys = check_curves(x, curves, "plot_curves")
    styles = {} if styles is None else styles
    if not isinstance(styles, Mapping) or not all(isinstance(v, Mapping) for v in styles.values()):
        raise invalid("styles", "plot_curves", "a dict of label -> dict of ax.plot keyword "
                      "arguments, or None", styles)
    ax = check_axes(ax, (6, 4), "plot_curves")
    for label, y in ys.items():
        ax.plot(x, y, label=label, **styles.get(label, {}))
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both" if (logx or logy) else "major")
    if len(curves) > 1:
        ax.legend(loc=legend_loc)
    return ax


def plot_image_rows(rows, row_labels, title=None, shape=(28, 28), cmap="gray_r", ax=None):
    """Several rows of images with a label to the left of each row (e.g. interpolation paths).

    Parameters
    ----------
    rows : sequence of ndarray, each of shape (m, h*w) or (m, h, w), the same ``m``
        One row of ``m`` images per entry, values in [0, 1] (shown clipped to [0, 1]).
    row_labels : sequence of str
        One label per row.
    title : str, optional
    shape : (int, int)
        ``(h, w)`` of one image when the rows are flat.
    cmap : str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    for name, arg in (("rows", rows), ("row_labels", row_labels)):
        if isinstance(arg, (str, np.ndarray)) or not hasattr(arg, "__len__") or not len(arg):
            raise invalid(name, "plot_image_rows", "a non-empty list (one entry per row)", arg)
    rows = [check_images(r, shape, "plot_image_rows", f"rows[{i}]") for i, r in enumerate(rows)]
    if len(rows) != len(row_labels):
        raise ValueError(f"got {len(rows)} rows but {len(row_labels)} labels")
    m = len(rows[0])
    if any(r.shape != rows[0].shape for r in rows):
        raise ValueError(f"every row needs the same number of images, got {[len(r) for r in rows]}"
                         f" of shapes {sorted({r.shape[1:] for r in rows})}")
    h = rows[0].shape[1]
    ax = plot_images(np.concatenate(rows), len(rows), m, title=title, ax=ax,
                     shape=rows[0].shape[1:], cmap=cmap)
    ax.set_yticks([(h + 1) * i + h / 2 - 0.5 for i in range(len(rows))])
    ax.set_yticklabels(row_labels)
    ax.tick_params(axis="y", length=0)
    return ax


def plot_mixture_1d(gmm, x, ax=None, bins=60, title="Gaussian mixture fitted by EM",
                    xlabel="$x$", n_grid=400):
    """Histogram of 1-D data, the mixture density and its weighted components.

    Parameters
    ----------
    gmm : vae_np.GaussianMixture
        A fitted mixture of 1-D data.
    x : ndarray of shape (n,) or (n, 1)
        The data.
    bins : int
    n_grid : int
        Points at which the curves are evaluated.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Component ``k`` is drawn as ``pi_k N(x; mu_k, sigma_k**2)``, so the components add up to the
    mixture density ``p(x)``.
    """
    from .prob.gaussians import normal_logpdf
    from .prob.gmm import GaussianMixture
    check_instance(gmm, GaussianMixture, "gmm", "plot_mixture_1d", "a fitted vae_np.GaussianMixture")
    if gmm.n_features != 1:       # (raises NotFittedError for a mixture that is not fitted)
        raise ValueError(f"plot_mixture_1d draws a mixture of 1-D data; this one has {gmm.n_features}"
                         " dimensions (use plot_density_2d for 2-D)")
    x = check_array(x, "x", ndim=None).astype(float)
    if x.ndim > 2 or x.size != len(x):
        raise ValueError(f"x must have shape (n,) or (n, 1), got {x.shape}")
    x = x.reshape(-1)
    bins = check_positive_int(bins, "bins", "plot_mixture_1d")
    n_grid = check_int(n_grid, "n_grid", "plot_mixture_1d", low=2)
    ax = check_axes(ax, (7, 4), "plot_mixture_1d")
    pad = 0.1 * (x.max() - x.min())
    grid = np.linspace(x.min() - pad, x.max() + pad, n_grid)
    ax.hist(x, bins=bins, density=True, color="0.8", label="data (histogram)")
    for k in range(gmm.n_components):
        comp = gmm.weights_[k] * np.exp(normal_logpdf(grid, gmm.means_[k, 0],
                                                      np.sqrt(gmm.covariances_[k, 0, 0])))
        ax.plot(grid, comp, "--", label=f"component {k + 1}: $\\pi_{k + 1}$ = {gmm.weights_[k]:.2f}")
    ax.plot(grid, np.exp(gmm.score_samples(grid)), "k-", lw=2, label="mixture $p(x)$")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def plot_density_2d(log_density, X=None, ax=None, title="Density contours", n_grid=150,
                    levels=12, lim=None, s=3, xlabel="$x_1$", ylabel="$x_2$"):
    """Contours of a 2-D density over a scatter of points.

    Parameters
    ----------
    log_density : callable
        Maps an ndarray of shape (m, 2) to log-densities of shape (m,) (e.g. a fitted
        ``GaussianMixture.score_samples``).
    X : ndarray of shape (n, 2), optional
        Points drawn on top.
    lim : ((float, float), (float, float)), optional
        Plot ranges; default: the data's range plus a margin.
    levels : int
        Number of contour levels (of the density, not its log).

    Returns
    -------
    matplotlib Axes
    """
    check_callable(log_density, "log_density", "plot_density_2d")
    if X is not None:
        X = check_array(X, "X", n_features=2, dtype=np.float64)
    if lim is None:
        if X is None:
            raise ValueError("give the plot range lim=((x_lo, x_hi), (y_lo, y_hi)) or data X")
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.15 * (hi - lo)
        lim = ((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))
    lim = check_real(lim, "lim")
    if lim.shape != (2, 2) or not (lim[:, 0] < lim[:, 1]).all():
        raise ValueError(f"lim must be ((x_lo, x_hi), (y_lo, y_hi)) with lo < hi, got {lim.tolist()}")
    n_grid = check_int(n_grid, "n_grid", "plot_density_2d", low=2)
    if not isinstance(levels, (list, tuple, np.ndarray)):
        levels = check_positive_int(levels, "levels", "plot_density_2d")
    s = check_positive_float(s, "s", "plot_density_2d")
    ax = check_axes(ax, (6, 5), "plot_density_2d")
    g1, g2 = np.meshgrid(np.linspace(*lim[0], n_grid), np.linspace(*lim[1], n_grid))
    log_dens = check_real(log_density(np.column_stack([g1.ravel(), g2.ravel()])),
                          "log_density(points)", finite=False)
    if log_dens.shape != (g1.size,):
        raise ValueError(f"log_density must return one value per point, got shape {log_dens.shape}")
    dens = np.exp(log_dens).reshape(g1.shape)
    cs = ax.contour(g1, g2, dens, levels=levels, cmap="viridis")
    ax.figure.colorbar(cs, ax=ax, label="density")
    if X is not None:
        ax.scatter(X[:, 0], X[:, 1], s=s, color="0.4", alpha=0.5, label="data")
        ax.legend(loc="upper right")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_aspect("equal", adjustable="box")
    return ax

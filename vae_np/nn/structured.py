"""Structured output prediction (Sohn et al., 2015): predict the hidden pixels ``x_h`` of an
image from its visible pixels ``x_v`` (a fixed boolean mask), with a deterministic network or a
conditional VAE. The networks see ``x_v`` as the image with its hidden pixels set to -1
(:func:`masked_input`), as in Pyro's tutorial.

* :class:`MaskedBaseline` — a deterministic MLP ``x_v -> p(x_h | x_v)`` (independent Bernoullis).
* :class:`StructuredCVAE` — Sohn et al.'s three networks: a learned *prior network*
  ``p(z | x_v)``, a *recognition network* ``q(z | x_v, x_h)`` and a *generation network*
  ``p(x_h | z, x_v)``, trained on the conditional ELBO

  ``log p(x_h | x_v) >= E_q[log p(x_h | z, x_v)] - KL(q(z | x_v, x_h) || p(z | x_v))``.

  At test time ``z ~ p(z | x_v)``: every sample is one completion.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_positive_int, check_rng, check_sizes
from .cvae import importance_log_mean
from .layers import ACTIVATION_NAMES, MLP
from .losses import bernoulli_log_prob, bernoulli_nll, log_normal_diag, sigmoid
from .vae import reparameterize

__all__ = ["quadrant_mask", "masked_input", "kl_normal_diag", "kl_normal_diag_per_example",
           "MaskedBaseline", "StructuredCVAE"]


def quadrant_mask(n_visible, shape=(28, 28)):
    """Which pixels are visible when 1, 2 or 3 quadrants of an image are shown.

    The convention of Pyro's CVAE tutorial: one quadrant is the bottom-left one, two quadrants
    the left half, three quadrants everything but the bottom-right quadrant.

    Parameters
    ----------
    n_visible : {1, 2, 3}
        Number of visible quadrants.
    shape : (int, int)
        Image height and width (even numbers).

    Returns
    -------
    ndarray of bool, shape (h*w,)
        True for a visible pixel (row-major, like a flattened image).
    """
    if n_visible not in (1, 2, 3):
        raise ValueError(f"n_visible must be 1, 2 or 3 quadrants, got {n_visible!r}")
    h, w = (check_positive_int(s, "each image size") for s in shape)
    if h % 2 or w % 2:
        raise ValueError(f"the image sides must be even to have quadrants, got {shape}")
    visible = np.zeros((h, w), dtype=bool)
    visible[h // 2:, :w // 2] = True               # bottom-left
    if n_visible >= 2:
        visible[:, :w // 2] = True                 # the left half
    if n_visible == 3:
        visible[:h // 2, :] = True                 # and the top half
    return visible.reshape(-1)


def masked_input(X, visible, fill=-1.0):
    """The images with their hidden pixels replaced by ``fill``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    visible : ndarray of bool, shape (d,)
    fill : float
        Value of the hidden pixels (-1: not a pixel value, so the mask is part of the input).

    Returns
    -------
    ndarray of shape (n, d), dtype of ``X``
    """
    X = np.asarray(X)
    return np.where(visible, X, X.dtype.type(fill))


def kl_normal_diag_per_example(mu_q, logvar_q, mu_p, logvar_p):
    """Per-example ``KL(N(mu_q, diag(exp(logvar_q))) || N(mu_p, diag(exp(logvar_p))))``.

    ``mu_q, logvar_q, mu_p, logvar_p`` of shape (n, k) -> shape (n,):
    ``0.5 sum_j [lp - lq + exp(lq - lp) + (mq - mp)**2 exp(-lp) - 1]``, the numbers of
    :func:`vae_np.prob.divergences.kl_diag_normal` (a test checks it).
    """
    d = mu_q - mu_p
    return 0.5 * (logvar_p - logvar_q + np.exp(logvar_q - logvar_p) + d * d * np.exp(-logvar_p)
                  - 1).sum(axis=1)


def kl_normal_diag(mu_q, logvar_q, mu_p, logvar_p):
    """KL between two diagonal Gaussians, mean over the batch, and its four gradients.

    Parameters
    ----------
    mu_q, logvar_q, mu_p, logvar_p : ndarray of shape (n, k)
        Means and log-variances of ``q`` (recognition network) and ``p`` (prior network).

    Returns
    -------
    kl : float
        ``(1/n) sum_i KL_i`` (:func:`kl_normal_diag_per_example`).
    dmu_q, dlogvar_q, dmu_p, dlogvar_p : ndarray of shape (n, k)
        With ``r = exp(lq - lp)`` and ``d = mq - mp``: ``d exp(-lp) / n``, ``0.5 (r - 1) / n``,
        ``-d exp(-lp) / n`` and ``0.5 (1 - r - d**2 exp(-lp)) / n``. With ``mu_p = 0`` and
        ``logvar_p = 0``: :func:`vae_np.nn.losses.kl_normal_std`.
    """
    n = mu_q.shape[0]
    d = mu_q - mu_p
    inv_var_p = np.exp(-logvar_p)
    r = np.exp(logvar_q - logvar_p)
    kl = float(kl_normal_diag_per_example(mu_q, logvar_q, mu_p, logvar_p).mean())
    return (kl, d * inv_var_p / n, 0.5 * (r - 1) / n, -d * inv_var_p / n,
            0.5 * (1 - r - d * d * inv_var_p) / n)


class _MaskedModel:
    """What the two predictors share: the mask, the input checks and the parameter dicts."""

    latent_dim = 0

    def __init__(self, visible, hidden_dims, activation, seed, dtype):
        visible = np.asarray(visible)
        if visible.ndim != 1 or visible.dtype != bool:
            raise ValueError(f"visible must be a 1-D boolean mask, got shape {visible.shape} "
                             f"and dtype {visible.dtype}")
        if visible.all() or not visible.any():
            raise ValueError("the mask must leave some pixels visible and some hidden")
        if activation not in ACTIVATION_NAMES:
            raise ValueError(f"unknown activation {activation!r}; use one of {ACTIVATION_NAMES}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.visible = visible.copy()
        self.hidden_index = np.flatnonzero(~visible)
        self.input_dim, self.n_hidden = visible.size, self.hidden_index.size
        self.hidden_dims = check_sizes(hidden_dims, "hidden_dims")
        self.activation, self.seed, self.terms = activation, seed, {}
        self._rng = np.random.default_rng(seed)

    def _mlp(self, sizes):
        return MLP(sizes, self.activation, rng=self._rng, dtype=self.dtype)

    def _collect(self, nets):
        self.nets = nets
        self.params, self.grads = {}, {}
        for prefix, net in nets.items():
            for k in net.params:
                self.params[f"{prefix}.{k}"] = net.params[k]
                self.grads[f"{prefix}.{k}"] = net.grads[k]

    @property
    def n_params(self):
        """Total number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    def zero_grad(self):
        """Set every gradient to zero."""
        for net in self.nets.values():
            net.zero_grad()

    def _check_X(self, X):
        return check_array(X, "X", n_features=self.input_dim, dtype=self.dtype,
                           unit_interval=True)

    def hidden(self, X):
        """The hidden pixels ``x_h`` of images X (n, input_dim): shape (n, n_hidden)."""
        return np.asarray(X)[..., self.hidden_index]

    def complete(self, X, H):
        """Images X (n, input_dim) with hidden pixels H (..., n, n_hidden): shape (..., n, d)."""
        X, H = np.asarray(X), np.asarray(H)
        out = np.broadcast_to(X, H.shape[:-1] + (self.input_dim,)).astype(np.result_type(X, H))
        out[..., self.hidden_index] = H
        return out


class MaskedBaseline(_MaskedModel):
    """A deterministic network from the visible pixels to the hidden pixels' probabilities.

    Parameters: ``visible`` (bool, shape (d,), e.g. :func:`quadrant_mask`), ``hidden_dims``,
    ``activation``, ``seed``, ``dtype``, as for :class:`StructuredCVAE`.

    Attributes
    ----------
    params, grads : dict
        ``"net.{i}.W"``, ``"net.{i}.b"``: an MLP from ``d`` inputs (:func:`masked_input`) to the
        ``n_hidden`` logits of ``p(x_h | x_v) = prod_j Bernoulli(sigmoid(a_j))``.
    """

    def __init__(self, visible, hidden_dims=(256,), activation="relu", seed=0, dtype=np.float32):
        super().__init__(visible, hidden_dims, activation, seed, dtype)
        self._collect({"net": self._mlp([self.input_dim, *self.hidden_dims, self.n_hidden])})

    def loss_and_grads(self, X):
        """Bernoulli NLL of the hidden pixels and its gradients: X (n, input_dim), whole images.

        Returns ``loss`` = ``(1/n) sum_i -log p(x_h,i | x_v,i)`` (nats per example) and
        ``grads``, a dict of ∂loss/∂θ with the keys and shapes of ``params``.
        """
        X = self._check_X(X)
        logits = self.nets["net"].forward(masked_input(X, self.visible))
        loss, dlogits = bernoulli_nll(logits, self.hidden(X))
        self.zero_grad()
        self.nets["net"].backward(dlogits)
        self.terms = {"loss": loss}
        return loss, self.grads

    def predict(self, X):
        """Probabilities of the hidden pixels: X (n, input_dim) -> shape (n, n_hidden)."""
        X = self._check_X(X)
        return sigmoid(self.nets["net"].forward(masked_input(X, self.visible))).astype(self.dtype)

    def conditional_log_likelihood(self, X):
        """Exact ``log p(x_h | x_v)`` of each image: X (n, input_dim) -> shape (n,), float64."""
        X = self._check_X(X)
        logits = self.nets["net"].forward(masked_input(X, self.visible))
        return bernoulli_log_prob(logits.astype(np.float64), self.hidden(X))


class StructuredCVAE(_MaskedModel):
    """Sohn et al.'s conditional VAE for structured output prediction, with a learned prior.

    Parameters
    ----------
    visible : ndarray of bool, shape (d,)
        The mask (e.g. :func:`quadrant_mask`).
    hidden_dims : sequence of int
        Hidden widths of each of the three networks.
    latent_dim, activation, seed, dtype
        As for :class:`vae_np.VAE`.

    Attributes
    ----------
    params, grads : dict
        ``"prior.*"``: the prior network, ``d`` inputs (:func:`masked_input`) to ``2k`` outputs
        (``mu_p``, ``logvar_p``); ``"recog.*"``: the recognition network, the whole image
        (``d`` inputs) to ``2k`` outputs; ``"gen.*"``: the generation network, ``k + d``
        inputs (``[z, masked input]``) to the ``n_hidden`` logits of ``p(x_h | z, x_v)``.
    terms : dict
        ``loss``, ``recon``, ``kl`` of the last :meth:`loss_and_grads` call.
    """

    def __init__(self, visible, hidden_dims=(256,), latent_dim=20, activation="relu", seed=0,
                 dtype=np.float32):
        super().__init__(visible, hidden_dims, activation, seed, dtype)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        d, h, k = self.input_dim, list(self.hidden_dims), self.latent_dim
        self._collect({"prior": self._mlp([d, *h, 2 * k]), "recog": self._mlp([d, *h, 2 * k]),
                       "gen": self._mlp([k + d, *h, self.n_hidden])})

    def _gaussian(self, net, X):
        out = self.nets[net].forward(X)
        k = self.latent_dim
        return out[:, :k], out[:, k:]

    def _generate(self, Z, Xm):
        """Logits of the hidden pixels for codes Z (m, k) and masked inputs Xm (m, d)."""
        return self.nets["gen"].forward(np.concatenate([Z, Xm], axis=1))

    def loss_and_grads(self, X, eps, beta=1.0):
        """Negative conditional ELBO of a batch and its gradient for every parameter.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
            Whole images (visible and hidden pixels).
        eps : ndarray of shape (n, latent_dim)
            Noise of ``z = mu_q + exp(0.5*logvar_q) * eps``; the backward pass uses the same.
        beta : float
            Weight of the KL term.

        Returns
        -------
        loss : float
            ``(1/n) sum_i [-log p(x_h,i | z_i, x_v,i) + beta KL(q(z|x_i) || p(z|x_v,i))]``.
        grads : dict of str -> ndarray

        Notes
        -----
        Backward: ``dz`` is the first ``latent_dim`` columns of the generation network's input
        gradient; the recognition network gets ``dz + beta dKL/dmu_q`` and ``0.5 dz eps std +
        beta dKL/dlogvar_q`` (the sampling layer), the prior network only ``beta dKL/dmu_p``
        and ``beta dKL/dlogvar_p``.
        """
        X = self._check_X(X)
        eps = check_array(eps, "eps", n_features=self.latent_dim, dtype=self.dtype)
        if len(eps) != len(X):
            raise ValueError(f"eps must have {len(X)} rows like X, got {len(eps)}")
        if not np.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        Xm = masked_input(X, self.visible)
        mu_p, logvar_p = self._gaussian("prior", Xm)
        mu_q, logvar_q = self._gaussian("recog", X)
        z, std = reparameterize(mu_q, logvar_q, eps)
        recon, dlogits = bernoulli_nll(self._generate(z, Xm), self.hidden(X))
        kl, dmu_q, dlogvar_q, dmu_p, dlogvar_p = kl_normal_diag(mu_q, logvar_q, mu_p, logvar_p)
        self.zero_grad()
        dz = self.nets["gen"].backward(dlogits)[:, :self.latent_dim]
        self.nets["recog"].backward(np.concatenate(
            [dz + beta * dmu_q, 0.5 * dz * eps * std + beta * dlogvar_q], axis=1))
        self.nets["prior"].backward(np.concatenate([beta * dmu_p, beta * dlogvar_p], axis=1))
        loss = recon + beta * kl
        self.terms = {"loss": loss, "recon": recon, "kl": kl}
        return loss, self.grads

    def sample(self, X, rng, n_samples=1):
        """Completions: ``z ~ p(z | x_v)``, then the hidden pixels' probabilities.

        X (n, input_dim), of which only the visible pixels are used; ``n_samples`` completions
        per image. Returns an array of shape (n_samples, n, n_hidden) of pixel probabilities.
        """
        X = self._check_X(X)
        check_rng(rng)
        S, n, k = check_positive_int(n_samples, "n_samples"), len(X), self.latent_dim
        Xm = masked_input(X, self.visible)
        mu_p, logvar_p = self._gaussian("prior", Xm)
        z, _ = reparameterize(mu_p, logvar_p, rng.standard_normal((S, n, k)).astype(self.dtype))
        logits = self._generate(z.reshape(S * n, k), np.tile(Xm, (S, 1)))
        return sigmoid(logits).astype(self.dtype).reshape(S, n, self.n_hidden)

    def elbo(self, X, rng, n_samples=1):
        """Monte Carlo conditional ELBO (analytic KL, ``n_samples`` draws of ``z ~ q(z | x)``):
        X (n, input_dim) -> shape (n,), float64, a lower bound on ``log p(x_h | x_v)``."""
        X = self._check_X(X)
        check_rng(rng)
        n_samples = check_positive_int(n_samples, "n_samples")
        Xm, Xh = masked_input(X, self.visible), self.hidden(X)
        mu_p, logvar_p = (a.astype(np.float64) for a in self._gaussian("prior", Xm))
        mu_q, logvar_q = (a.copy() for a in self._gaussian("recog", X))
        kl = kl_normal_diag_per_example(mu_q.astype(np.float64), logvar_q.astype(np.float64),
                                        mu_p, logvar_p)
        rec = 0.0
        for _ in range(n_samples):
            z, _ = reparameterize(mu_q, logvar_q,
                                  rng.standard_normal(mu_q.shape).astype(self.dtype))
            rec = rec + bernoulli_log_prob(self._generate(z, Xm).astype(np.float64), Xh)
        return rec / n_samples - kl

    def log_weights(self, X, eps):
        """Importance log-weights of ``z_s = mu_q + std_q * eps[s]``, ``z_s ~ q(z | x_v, x_h)``.

        X (n, input_dim) and standard normal ``eps`` (k, n, latent_dim) -> shape (k, n), float64:
        ``log p(x_h | z_s, x_v) + log p(z_s | x_v) - log q(z_s | x_v, x_h)``.
        """
        X = self._check_X(X)
        eps = np.asarray(eps, dtype=self.dtype)
        k, n, L = eps.shape[0], len(X), self.latent_dim
        if eps.shape[1:] != (n, L):
            raise ValueError(f"eps must have shape (k, {n}, {L}), got {eps.shape}")
        Xm = masked_input(X, self.visible)
        mu_p, logvar_p = (a.astype(np.float64) for a in self._gaussian("prior", Xm))
        mu_q, logvar_q = (a.copy() for a in self._gaussian("recog", X))
        z, _ = reparameterize(mu_q, logvar_q, eps)                          # (k, n, L)
        logits = self._generate(z.reshape(k * n, L), np.tile(Xm, (k, 1)))
        log_px = bernoulli_log_prob(logits.astype(np.float64),
                                    np.tile(self.hidden(X), (k, 1))).reshape(k, n)
        z64 = z.astype(np.float64)
        return (log_px + log_normal_diag(z64, mu_p, logvar_p)
                - log_normal_diag(z64, mu_q.astype(np.float64), logvar_q.astype(np.float64)))

    def conditional_log_likelihood(self, X, rng, k=100, batch_size=None):
        """Importance-sampling estimate of ``log p(x_h | x_v)`` per image.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
        rng : numpy.random.Generator
        k : int
            Samples from the recognition network per image. ``k = 1`` gives a one-sample
            conditional ELBO; the expectation rises with ``k`` towards ``log p(x_h | x_v)``.
        batch_size : int, optional
            Images at once (default: ``k * batch_size`` near 5,000 rows).

        Returns
        -------
        ndarray of shape (n,), float64
            ``log (1/k) sum_s p(x_h | z_s, x_v) p(z_s | x_v) / q(z_s | x_v, x_h)``, with
            log-sum-exp (:func:`vae_np.nn.cvae.importance_log_mean`).
        """
        X = self._check_X(X)
        k = check_positive_int(k, "k")
        check_rng(rng)
        batch_size = check_positive_int(batch_size or max(1, 5000 // k), "batch_size")
        out = np.empty(len(X))
        for s in range(0, len(X), batch_size):
            Xb = X[s:s + batch_size]
            eps = rng.standard_normal((k, len(Xb), self.latent_dim)).astype(self.dtype)
            out[s:s + len(Xb)] = importance_log_mean(self.log_weights(Xb, eps))
        return out

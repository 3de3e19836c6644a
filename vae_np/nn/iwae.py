"""The importance-weighted autoencoder (Burda et al., 2015): a tighter bound, the same networks.

A VAE maximizes the ELBO, ``E_q[log w]`` with the importance weight
``w = p(x|z) p(z) / q(z|x)``. The IWAE draws ``k`` samples ``z_1..z_k ~ q(z|x)`` per example and
maximizes

``L_k(x) = E[log (1/k) sum_s w_s]``,   ``L_1 = ELBO <= L_k <= L_{k+1} <= log p(x)``.

Its gradient is a weighted sum of the ``k`` single-sample gradients, with the **normalised
importance weights** ``w~_s = w_s / sum_t w_t`` (a softmax of the ``log w_s``):

``grad L_k = E[sum_s w~_s grad log w_s]``.

The samples that explain ``x`` best get the gradient; the encoder is no longer pushed to cover
only the bulk of the posterior, so it may spread out, and more latent units stay active.

The KL part of ``log w`` (``log p(z) - log q(z|x)``) is estimated from the samples; with
``analytic_kl=True`` (the default) the estimator adds the zero-mean correction
``-(1/k) sum_s [log p(z_s) - log q(z_s|x)] - KL(q(z|x) || p(z))``, so at ``k = 1`` it *is* the
VAE's estimator (closed-form KL) and the loss and gradients equal :meth:`VAE.loss_and_grads`'s.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_bool, check_float, check_positive_int
from .losses import (
    kl_normal_std,
    log_normal_diag,
    log_normal_std,
    logsumexp,
    nll_and_grad,
)
from .vae import VAE

__all__ = ["IWAE", "importance_weights"]


def importance_weights(log_w):
    """The bound ``log (1/k) sum_s w_s`` and the normalised weights, from log-weights.

    Parameters
    ----------
    log_w : ndarray of shape (n, k)
        ``log w_is`` for ``k`` samples of each of ``n`` examples.

    Returns
    -------
    bound : ndarray of shape (n,)
        ``logsumexp_s(log_w_is) - log k`` (float64).
    w_norm : ndarray of shape (n, k)
        ``w~_is = exp(log_w_is - logsumexp_t log_w_it)``: non-negative, each row sums to 1. It
        is ``d bound_i / d log_w_is``.
    """
    log_w = check_array(log_w, "log_w", dtype=np.float64)
    lse = logsumexp(log_w, axis=1)
    return lse - np.log(log_w.shape[1]), np.exp(log_w - lse[:, None])


class IWAE(VAE):
    """A VAE trained on the ``k``-sample importance-weighted bound of Burda et al. (2015).

    Same networks, likelihoods and evaluation methods as :class:`~vae_np.nn.vae.VAE`; only the
    training objective differs. ``vae_np.fit`` draws noise of shape ``noise_shape(n) =
    (n, k, latent_dim)`` and calls :meth:`loss_and_grads` (the pure-NumPy reference path: a step
    decodes ``k`` samples per example, so it costs about ``k`` VAE decoder passes).

    Parameters
    ----------
    input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std, seed, dtype, init, init_std
        As for :class:`~vae_np.nn.vae.VAE`.
    k : int
        Importance samples per example (``k = 1``: the VAE).
    analytic_kl : bool
        Use the closed-form KL as a control variate (see the module docstring); ``False`` gives
        the plain estimator of Burda et al., whose KL part is sampled. Both are unbiased for the
        same bound and gradient.

    Attributes
    ----------
    terms : dict
        Of the last :meth:`loss_and_grads` call: ``loss`` (the negative bound, with ``beta``),
        ``kl`` the mean closed-form ``KL(q(z|x) || p(z))`` (the encoder's *rate*) and
        ``recon = loss - beta * kl``, the part of the bound that is not the rate (for ``k = 1``
        the VAE's reconstruction term; for ``k > 1`` it is lower, by what the extra samples gain).
    """

    def __init__(self, input_dim, hidden_dims=(400,), latent_dim=20, activation="relu",
                 likelihood="bernoulli", obs_std=1.0, seed=0, dtype=np.float32, k=5,
                 analytic_kl=True, init="default", init_std=0.01):
        super().__init__(input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std,
                         seed, dtype, init=init, init_std=init_std)
        self.k = check_positive_int(k, "k", "IWAE")
        self.analytic_kl = check_bool(analytic_kl, "analytic_kl", "IWAE")

    @property
    def config(self):
        """Constructor arguments (those of the VAE, plus ``k`` and ``analytic_kl``)."""
        return {**super().config, "k": self.k, "analytic_kl": self.analytic_kl}

    def noise_shape(self, n):
        """``(n, k, latent_dim)``: ``k`` samples of ``z`` per example."""
        return (n, self.k, self.latent_dim)

    def loss_and_grads(self, X, eps, beta=1.0):
        """Negative ``k``-sample bound of a batch and its gradient for every parameter.

        Parameters
        ----------
        X : ndarray of shape (n, input_dim)
        eps : ndarray of shape (n, k, latent_dim)
            Standard normal noise: ``z_is = mu_i + exp(0.5*logvar_i) * eps_is``.
        beta : float
            Weight of ``log p(z) - log q(z|x)`` inside every log-weight (and of the closed-form
            KL): 1 gives the IWAE bound; at ``k = 1`` any ``beta`` gives the beta-VAE loss.

        Returns
        -------
        loss : float
            ``-(1/n) sum_i [logsumexp_s log w_is - log k]`` with
            ``log w = log p(x|z) + beta (log p(z) - log q(z|x))`` (nats per example), corrected
            by the closed-form KL when ``analytic_kl``.
        grads : dict of str -> ndarray
            ∂loss/∂θ with the keys and shapes of ``params``.

        Notes
        -----
        With ``g_is = w~_is / n``: the decoder receives ``g_is * d(-log p(x|z_is))/d out``; the
        sample ``z_is`` receives ``dz_is`` from the decoder plus ``c_is * z_is`` from the prior
        ratio (``d/dz [log p(z) - log q(z|x)] = -z`` at fixed ``eps``), where ``c_is = beta*g_is``
        or, with the control variate, ``beta (w~_is - 1/k) / n``. Then ``dmu = sum_s dz_is`` and
        ``dlogvar = sum_s 0.5 dz_is eps_is std``, plus ``-0.5 sum_s c_is`` (the direct
        ``logvar`` term of ``-log q``, zero with the control variate since ``sum_s w~ = 1``) and
        ``beta`` times the closed-form KL's gradient when it is used.
        """
        X = self._check_X(X)
        n, k, L = len(X), self.k, self.latent_dim
        eps = check_array(eps, "eps", ndim=3, n_features=L, dtype=self.dtype)
        if eps.shape[:2] != (n, k):
            raise ValueError(f"eps must have shape {(n, k, L)} = (len(X), k, latent_dim), got "
                             f"{eps.shape}")
        beta = check_float(beta, "beta", "IWAE.loss_and_grads", low=0.0)
        # forward: encoder -> k samples per example -> decoder -> log-weights
        mu, logvar = self._encode(X)
        std = np.exp(0.5 * logvar)
        z = mu[:, None, :] + std[:, None, :] * eps                     # (n, k, L)
        out = self.decoder.forward(z.reshape(n * k, L))
        Xk = np.repeat(X, k, axis=0)                                   # row i*k + s is x_i
        recon_mean, dout = nll_and_grad(out, Xk, self.likelihood, self.obs_std)
        log_w = self._log_px(out, Xk).reshape(n, k).astype(np.float64)
        z64 = z.astype(np.float64)
        ratio = log_normal_std(z64) - log_normal_diag(z64, mu[:, None, :].astype(np.float64),
                                                      logvar[:, None, :].astype(np.float64))
        if self.analytic_kl:
            # centred: exactly 0 at k = 1, so log_w is log p(x|z) bit for bit
            log_w += beta * (ratio - ratio.mean(axis=1, keepdims=True))
        else:
            log_w += beta * ratio
        bound, w_norm = importance_weights(log_w)
        # backward: dout is (sigmoid(a) - x) / (n k); the weight of row (i, s) is k w~_is
        dout *= (k * w_norm).reshape(n * k, 1).astype(self.dtype)
        self.encoder.zero_grad()
        self.decoder.zero_grad()
        dz = self.decoder.backward(dout).reshape(n, k, L)
        c = beta * ((w_norm - 1.0 / k) if self.analytic_kl else w_norm) / n   # (n, k)
        if self.analytic_kl and k == 1:
            dz_total = dz                                              # c is exactly 0
        else:
            dz_total = dz + (c[:, :, None] * z64).astype(self.dtype)
        dmu = dz_total.sum(axis=1)
        dlogvar = (0.5 * dz_total * eps * std[:, None, :]).sum(axis=1)
        kl, dmu_kl, dlogvar_kl = kl_normal_std(mu, logvar)
        if self.analytic_kl:
            dmu = dmu + beta * dmu_kl
            dlogvar = dlogvar + beta * dlogvar_kl
            # at k = 1 -bound.mean() is the VAE's reconstruction term: take the VAE's number
            recon = recon_mean if k == 1 else -float(bound.mean())
            loss = recon + beta * kl
        else:
            dlogvar = dlogvar - (0.5 * c.sum(axis=1))[:, None].astype(self.dtype)
            loss = -float(bound.mean())
            recon = loss - beta * kl
        self.encoder.backward(np.concatenate([dmu, dlogvar], axis=1))
        self.terms = {"loss": loss, "recon": recon, "kl": kl}
        return loss, self.grads

"""Monte Carlo gradient estimators for ``grad_phi E_{q_phi(z)}[f(z)]``, and the SGVB estimators.

The distribution of the expectation depends on the parameters, so the gradient cannot simply be
moved inside a sample average. Two unbiased ways around it:

* **score function** (REINFORCE, likelihood ratio): ``grad E_q[f] = E_q[f(z) grad log q(z)]``.
  Needs only values of ``f``; its variance is often large.
* **pathwise** (reparameterization): write ``z = g(phi, eps)`` with ``eps`` from a fixed
  distribution, then ``grad E_q[f] = E_eps[f'(g(phi, eps)) grad_phi g(phi, eps)]``. Needs the
  derivative of ``f``; its variance is usually far lower.

Both are written for a diagonal Gaussian ``q = N(mu, diag(exp(logvar)))`` with
``z = mu + exp(0.5*logvar) * eps``, and return **one gradient estimate per sample** so the
caller can average them and measure their spread.

:func:`sgvb_terms` and :func:`sgvb_loss_and_grads` are Kingma & Welling's estimators A (Monte
Carlo KL) and B (analytic KL) of a :class:`vae_np.VAE`'s ELBO.
"""
from __future__ import annotations

import numpy as np

from .._validation import (
    check_array,
    check_callable,
    check_float,
    check_instance,
    check_int,
    check_option,
    check_positive_float,
    check_real,
    check_rng,
    invalid,
)
from ..nn.losses import (
    bernoulli_log_prob,
    gaussian_log_prob,
    kl_normal_std_per_example,
    log_normal_diag,
    log_normal_std,
)
from ..nn.vae import VAE

__all__ = ["mean_and_stderr", "gaussian_score", "score_function_gradient", "pathwise_gradient",
           "exponential_reparam", "sgvb_terms", "sgvb_loss_and_grads", "sgvb_variance"]

ESTIMATORS = ("A", "B")


def mean_and_stderr(samples, axis=0):
    """Sample mean and its standard error ``std(ddof=1) / sqrt(S)``.

    Parameters
    ----------
    samples : ndarray of shape (S, ...)
        Independent draws along ``axis`` (at least 2).
    axis : int

    Returns
    -------
    mean, stderr : ndarray of the shape of ``samples`` without ``axis`` (floats for 1-D input)
    """
    samples = check_real(samples, "samples", finite=False)
    if samples.ndim == 0:
        raise ValueError("samples must have at least one axis of draws, got a single number")
    axis = check_int(axis, "axis", "mean_and_stderr", low=-samples.ndim, high=samples.ndim - 1)
    S = samples.shape[axis]
    if S < 2:
        raise ValueError(f"need at least 2 samples along axis {axis} for a standard error, got {S}")
    return samples.mean(axis=axis), samples.std(axis=axis, ddof=1) / np.sqrt(S)


def _gaussian_args(mu, logvar, eps):
    mu = check_real(mu, "mu", finite=False)
    logvar = check_real(logvar, "logvar", finite=False)
    eps = check_real(eps, "eps", finite=False)
    if mu.ndim != 1 or logvar.shape != mu.shape:
        raise ValueError(f"mu and logvar must both have shape (k,), got {mu.shape} and "
                         f"{logvar.shape}")
    if eps.ndim != 2 or eps.shape[1] != mu.shape[0]:
        raise ValueError(f"eps must have shape (S, {mu.shape[0]}) (one row per sample), got "
                         f"{eps.shape}")
    for name, a in (("mu", mu), ("logvar", logvar), ("eps", eps)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or inf")
    return mu, logvar, eps


def gaussian_score(z, mu, logvar):
    """Score ``grad log q(z)`` of ``q = N(mu, diag(exp(logvar)))`` w.r.t. ``mu`` and ``logvar``.

    Parameters
    ----------
    z : ndarray of shape (S, k)
    mu, logvar : ndarray of shape (k,)

    Returns
    -------
    dmu : ndarray of shape (S, k)
        ``(z - mu) / exp(logvar)``.
    dlogvar : ndarray of shape (S, k)
        ``0.5 * ((z - mu)**2 / exp(logvar) - 1)``.

    Notes
    -----
    ``log q(z) = sum_j -0.5 [log 2 pi + logvar_j + (z_j - mu_j)**2 exp(-logvar_j)]``.
    Its expectation under ``q`` is zero (``E_q[grad log q] = grad of integral q = 0``), which is
    why subtracting a constant baseline from ``f`` keeps the score-function estimator unbiased.
    """
    z, mu, logvar = (check_real(a, name, finite=False) for a, name in
                     ((z, "z"), (mu, "mu"), (logvar, "logvar")))
    if mu.ndim != 1 or logvar.shape != mu.shape or z.shape[-1:] != mu.shape:
        raise ValueError(f"gaussian_score needs z of shape (S, k) and mu, logvar of shape (k,), "
                         f"got {z.shape}, {mu.shape} and {logvar.shape}")
    r = z - mu
    inv_var = np.exp(-logvar)
    return r * inv_var, 0.5 * (r * r * inv_var - 1.0)


def score_function_gradient(f, mu, logvar, eps, baseline=0.0):
    """Per-sample score-function (REINFORCE) estimates of ``grad E_q[f(z)]``.

    Parameters
    ----------
    f : callable
        ``f(Z)`` with ``Z`` of shape (S, k) returns shape (S,).
    mu, logvar : ndarray of shape (k,)
        Parameters of ``q = N(mu, diag(exp(logvar)))``.
    eps : ndarray of shape (S, k)
        Standard normal draws; the samples are ``z = mu + exp(0.5*logvar) * eps``.
    baseline : float
        Constant subtracted from ``f`` (a control variate; any constant keeps it unbiased).

    Returns
    -------
    gmu, glogvar : ndarray of shape (S, k)
        ``(f(z_s) - baseline) * grad log q(z_s)`` for each sample ``s``; their mean over ``s`` is
        the estimate.

    Notes
    -----
    ``grad E_q[f] = integral f grad q = integral f q grad log q = E_q[f grad log q]``.
    """
    check_callable(f, "f", "score_function_gradient")
    baseline = check_float(baseline, "baseline", "score_function_gradient")
    mu, logvar, eps = _gaussian_args(mu, logvar, eps)
    z = mu + np.exp(0.5 * logvar) * eps
    fz = check_real(f(z), "f(z)", finite=False)
    if fz.shape != (len(z),):
        raise ValueError(f"f must return one value per sample, shape ({len(z)},), got {fz.shape}")
    smu, slogvar = gaussian_score(z, mu, logvar)
    w = (fz - baseline)[:, None]
    return w * smu, w * slogvar


def pathwise_gradient(grad_f, mu, logvar, eps):
    """Per-sample pathwise (reparameterization) estimates of ``grad E_q[f(z)]``.

    Parameters
    ----------
    grad_f : callable
        ``grad_f(Z)`` with ``Z`` of shape (S, k) returns ``df/dz`` of shape (S, k).
    mu, logvar : ndarray of shape (k,)
    eps : ndarray of shape (S, k)
        Standard normal draws.

    Returns
    -------
    gmu, glogvar : ndarray of shape (S, k)
        ``f'(z_s)`` and ``f'(z_s) * 0.5 * std * eps_s`` (chain rule through
        ``z = mu + exp(0.5*logvar) * eps``: ``dz/dmu = 1``, ``dz/dlogvar = 0.5 * std * eps``).
    """
    check_callable(grad_f, "grad_f", "pathwise_gradient")
    mu, logvar, eps = _gaussian_args(mu, logvar, eps)
    std = np.exp(0.5 * logvar)
    z = mu + std * eps
    g = check_real(grad_f(z), "grad_f(z)", finite=False)
    if g.shape != z.shape:
        raise ValueError(f"grad_f must return an array of shape {z.shape}, got {g.shape}")
    return g, g * 0.5 * std * eps


def exponential_reparam(u, rate):
    """Inverse-transform sample of ``Exponential(rate)`` and its pathwise derivative.

    Parameters
    ----------
    u : ndarray of any shape
        Uniform draws in [0, 1).
    rate : float
        ``lambda > 0``.

    Returns
    -------
    z : ndarray of the shape of ``u``
        ``-log(1 - u) / rate`` (``F^{-1}(u)`` for ``F(z) = 1 - exp(-rate z)``).
    dz_drate : ndarray of the shape of ``u``
        ``log(1 - u) / rate**2 = -z / rate``.
    """
    u = check_real(u, "u", finite=False)
    rate = check_positive_float(rate, "rate", "exponential_reparam")
    if u.size and (u.min() < 0 or u.max() >= 1):
        raise ValueError(f"u must lie in [0, 1), got values in [{u.min():g}, {u.max():g}]")
    z = -np.log1p(-u) / rate
    return z, -z / rate


# --------------------------------------------------------------------------------- SGVB (VAE)
def _check_vae(model, owner):
    check_instance(model, VAE, "model", owner, "a vae_np.VAE (an Autoencoder has no posterior "
                   "variance)")


def _check_model_inputs(model, X, eps):
    X = check_array(X, "X", n_features=model.input_dim, dtype=model.dtype,
                    unit_interval=model.likelihood == "bernoulli")
    eps = check_array(eps, "eps", n_features=model.latent_dim, dtype=model.dtype)
    if len(eps) != len(X):
        raise ValueError(f"eps must have {len(X)} rows like X, got {len(eps)}")
    return X, eps


def sgvb_terms(model, X, eps):
    """Per-example terms of the SGVB estimators of a VAE's ELBO, from one ``z`` per example.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
    eps : ndarray of shape (n, latent_dim)
        Noise of ``z = mu + exp(0.5*logvar) * eps``.

    Returns
    -------
    dict of str -> ndarray of shape (n,), float64
        ``log_px_z`` (``log p(x|z)``), ``kl_mc`` (``log q(z|x) - log p(z)``, the one-sample
        Monte Carlo KL), ``kl`` (the analytic KL), and the two ELBO estimates
        ``A = log_px_z - kl_mc`` and ``B = log_px_z - kl``.

    Notes
    -----
    Both estimators have the same expectation (the ELBO), since ``E_q[kl_mc] = kl``; B replaces
    a noisy term by its exact mean, so it has lower variance.
    """
    _check_vae(model, "sgvb_terms")
    X, eps = _check_model_inputs(model, X, eps)
    mu, logvar = (a.astype(np.float64) for a in model.encode(X))
    z = mu + np.exp(0.5 * logvar) * eps.astype(np.float64)
    out = model.decoder.forward(z.astype(model.dtype))
    if model.likelihood == "bernoulli":
        log_px_z = bernoulli_log_prob(out, X)
    else:
        log_px_z = gaussian_log_prob(out, X, model.obs_std)
    log_px_z = np.asarray(log_px_z, dtype=np.float64)
    kl_mc = log_normal_diag(z, mu, logvar) - log_normal_std(z)
    kl = kl_normal_std_per_example(mu, logvar)
    return {"log_px_z": log_px_z, "kl_mc": kl_mc, "kl": kl, "A": log_px_z - kl_mc,
            "B": log_px_z - kl}


def sgvb_loss_and_grads(model, X, eps, estimator="B"):
    """Negative SGVB estimate A or B of a batch's ELBO, and its gradient for every parameter.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
    eps : ndarray of shape (n, latent_dim)
        The noise (``L = 1`` sample per example), used by the forward and the backward pass.
    estimator : {"A", "B"}
        ``"B"`` (analytic KL) is exactly ``model.loss_and_grads(X, eps)``. ``"A"`` replaces the
        KL by its one-sample estimate ``log q(z|x) - log p(z)``.

    Returns
    -------
    loss : float
        Mean over the batch of ``-(estimate)``, in nats per example.
    grads : dict of str -> ndarray
        ``model.grads`` (overwritten by the next call), keys and shapes of ``model.params``.

    Notes
    -----
    With ``z = mu + std * eps`` the Monte Carlo KL is
    ``sum_j [-0.5 eps_j**2 - 0.5 logvar_j + 0.5 z_j**2]`` (the ``log 2 pi`` terms cancel), so its
    gradients are ``d/dmu = z`` and ``d/dlogvar = -0.5 + 0.5 z std eps`` (divided by ``n``).
    The decoder's gradients are the same for A and B; only the encoder's differ.
    """
    _check_vae(model, "sgvb_loss_and_grads")
    if check_option(estimator, "estimator", ESTIMATORS, "sgvb_loss_and_grads") == "B":
        return model.loss_and_grads(X, eps)
    X, eps = _check_model_inputs(model, X, eps)
    n = len(X)
    recon, grads = model.loss_and_grads(X, eps, beta=0.0)   # -log p(x|z) and its gradients
    mu, logvar = model.encode(X)                            # re-runs the encoder forward pass
    std = np.exp(0.5 * logvar)
    z = mu + std * eps
    kl_mc = float((0.5 * (z * z - eps * eps - logvar)).sum(dtype=np.float64) / n)
    dmu = z / n
    dlogvar = (0.5 * z * std * eps - 0.5) / n
    model.encoder.backward(np.concatenate([dmu, dlogvar], axis=1).astype(model.dtype))
    loss = recon + kl_mc
    model.terms = {"loss": loss, "recon": recon, "kl": kl_mc}
    return loss, grads


def sgvb_variance(model, X, n_draws, rng, prefix="enc."):
    """Spread of the SGVB estimators A and B over repeated noise draws, for a fixed batch.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
        A fixed batch.
    n_draws : int
        Independent draws of ``eps`` of shape (n, latent_dim) (at least 2).
    rng : numpy.random.Generator
    prefix : str
        Which gradients to measure: parameter names starting with it (default the encoder's,
        the only ones where A and B differ).

    Returns
    -------
    values : dict of {"A", "B"} -> ndarray of shape (n_draws, n)
        Each draw's per-example ELBO estimate (float64).
    grad_var : dict of {"A", "B"} -> float
        Total variance of the batch gradient: the sample variance (``ddof=1``) over the draws of
        every selected gradient entry, summed over the entries.

    Notes
    -----
    The same ``eps`` is used for A and B in each draw. Running sums of the gradients and of their
    squares (in float64) keep memory at two copies of the parameters.
    """
    _check_vae(model, "sgvb_variance")
    X = check_array(X, "X", n_features=model.input_dim, dtype=model.dtype,
                    unit_interval=model.likelihood == "bernoulli")
    n_draws = check_int(n_draws, "n_draws", "sgvb_variance", low=2,
                        hint="A variance needs at least 2 draws.")
    check_rng(rng, "rng", "sgvb_variance")
    if not isinstance(prefix, str):
        raise invalid("prefix", "sgvb_variance", "a str (e.g. 'enc.')", prefix)
    keys = [key for key in model.params if key.startswith(prefix)]
    if not keys:
        raise ValueError(f"no parameter name starts with {prefix!r}; names are {list(model.params)}")
    values = {e: [] for e in ESTIMATORS}
    g_sum = {e: {key: 0.0 for key in keys} for e in ESTIMATORS}
    g_sq = {e: {key: 0.0 for key in keys} for e in ESTIMATORS}
    for _ in range(n_draws):
        eps = rng.standard_normal((len(X), model.latent_dim), dtype=model.dtype)
        terms = sgvb_terms(model, X, eps)
        for e in ESTIMATORS:
            values[e].append(terms[e])
            _, grads = sgvb_loss_and_grads(model, X, eps, e)
            for key in keys:
                g = grads[key].astype(np.float64)
                g_sum[e][key] = g_sum[e][key] + g
                g_sq[e][key] = g_sq[e][key] + g * g
    grad_var = {e: float(sum(((g_sq[e][k] - g_sum[e][k] ** 2 / n_draws) / (n_draws - 1)).sum()
                             for k in keys)) for e in ESTIMATORS}
    return {e: np.array(v) for e, v in values.items()}, grad_var

"""Kingma & Welling (2013)'s experiments, small: the training set-up, curves, estimator noise.

* :func:`choose_adagrad_lr` — the paper's step-size choice: Adagrad's global step size from
  {0.01, 0.02, 0.1}, by the training-set bound after the first iterations.
* :func:`train` — one training segment by AEVB (:func:`vae_np.fit`) or wake-sleep
  (:func:`vae_np.nn.wake_sleep.fit_wake_sleep`), with the same data order and conventions.
* :func:`bound_curve` — Figure 2's curves: the ELBO per data point of the training and test sets
  against the number of training samples evaluated. For wake-sleep the bound is the same ELBO
  estimator (:meth:`vae_np.VAE.elbo`) evaluated with its recognition model as ``q``.
* :func:`gradient_noise` — how noisy the ``L = 1`` reparameterised gradient is next to the noise
  of drawing the minibatch.
"""
from __future__ import annotations

import numpy as np

from .._validation import (
    check_array,
    check_callable,
    check_float,
    check_instance,
    check_option,
    check_positive_int,
    check_seed,
    check_sizes,
    invalid,
)
from ..nn.optim import Adagrad, Optimizer
from ..nn.vae import VAE
from ..nn.wake_sleep import fit_wake_sleep
from ..train import fit

__all__ = ["PAPER_LRS", "METHODS", "train", "choose_adagrad_lr", "bound_curve", "gradient_noise"]

#: The Adagrad step sizes the paper chose from.
PAPER_LRS = (0.01, 0.02, 0.1)
#: The two training algorithms of Figures 2 and 3.
METHODS = ("aevb", "wake-sleep")


def train(model, method, X, epochs, optimizer, seed, batch_size=100, weight_decay=0.0):
    """Train ``model`` for ``epochs`` passes over ``X`` by AEVB or wake-sleep.

    Parameters
    ----------
    model : vae_np.VAE
    method : {"aevb", "wake-sleep"}
    X : ndarray of shape (n, input_dim)
    epochs : int
    optimizer : vae_np.nn.optim.Optimizer
        Kept across calls, so training can continue in segments.
    seed : int
        Seed of the order, the noise (and the dreams); both methods draw the data side alike.
    batch_size : int
        ``M`` (100 in the paper).
    weight_decay : float
        ``1 / len(X)`` gives the paper's MAP training under a ``N(0, I)`` weight prior.
    """
    check_instance(model, VAE, "model", "train", "a vae_np.VAE")
    method = check_option(method, "method", METHODS, "train")
    if method == "aevb":
        fit(model, X, epochs, batch_size, optimizer, seed, progress=False,
            weight_decay=weight_decay)
    else:
        fit_wake_sleep(model, X, epochs, batch_size, optimizer, seed, weight_decay=weight_decay)


def _mean_elbo(model, X, seed):
    return float(model.elbo(X, np.random.default_rng(seed)).mean())


def choose_adagrad_lr(make_model, method, X, n_steps, lrs=PAPER_LRS, seed=0, batch_size=100,
                      weight_decay=0.0):
    """Pick Adagrad's step size by the training-set bound after the first ``n_steps`` iterations.

    Each candidate trains a fresh model (``make_model()``) on the first ``n_steps * batch_size``
    rows of ``X`` for one pass (exactly ``n_steps`` updates), with the same seed; the score is the
    mean ELBO of those rows afterwards (a fixed noise stream).

    Parameters
    ----------
    make_model : callable
        ``make_model()`` returns a new, untrained vae_np.VAE (the same initial weights each time).
    method : {"aevb", "wake-sleep"}
    X : ndarray of shape (n, input_dim)
        Training data, in a random order (the first rows are used).
    n_steps : int
        Number of iterations tried per step size.
    lrs : sequence of float
        Candidates (the paper's {0.01, 0.02, 0.1} by default).
    seed : int
    batch_size : int
    weight_decay : float

    Returns
    -------
    best : float
        The candidate with the highest bound (the first of equal ones).
    scores : dict of float -> float
        Mean ELBO per data point (nats) after the trial, for every candidate.
    """
    owner = "choose_adagrad_lr"
    check_callable(make_model, "make_model", owner)
    method = check_option(method, "method", METHODS, owner)
    n_steps = check_positive_int(n_steps, "n_steps", owner)
    batch_size = check_positive_int(batch_size, "batch_size", owner)
    seed = check_seed(seed, "seed", owner)
    if isinstance(lrs, (str, bytes)) or not hasattr(lrs, "__len__") or len(lrs) == 0:
        raise invalid("lrs", owner, "a non-empty sequence of step sizes > 0", lrs)
    lrs = [check_float(lr, f"lrs[{i}]", owner, low=0.0, low_open=True) for i, lr in enumerate(lrs)]
    X = np.asarray(X)
    if len(X) < n_steps * batch_size:
        raise ValueError(f"{owner}: X has {len(X)} rows, fewer than n_steps * batch_size = "
                         f"{n_steps * batch_size}")
    first = X[:n_steps * batch_size]
    scores = {}
    for lr in lrs:
        model = make_model()
        check_instance(model, VAE, "make_model()", owner, "a new vae_np.VAE")
        train(model, method, first, 1, Adagrad(lr), seed, batch_size, weight_decay)
        scores[lr] = _mean_elbo(model, first, seed)
    return max(scores, key=scores.get), scores


def bound_curve(model, method, X_train, X_test, epochs_at, optimizer, seed, batch_size=100,
                weight_decay=0.0, eval_seed=0, n_eval=None, extra=None):
    """Figure 2's curve: train in segments and evaluate the ELBO per data point after each.

    Parameters
    ----------
    model : vae_np.VAE
    method : {"aevb", "wake-sleep"}
    X_train : ndarray of shape (n, input_dim)
        Training data (all of it is trained on).
    X_test : ndarray of shape (m, input_dim)
    epochs_at : sequence of int
        Increasing cumulative epoch counts after which the bounds are evaluated.
    optimizer : vae_np.nn.optim.Optimizer
    seed : int
        Segment ``j`` trains with seed ``seed + j`` (deterministic).
    batch_size : int
    weight_decay : float
    eval_seed : int
        Seed of the evaluation noise (the same for every checkpoint and model).
    n_eval : int, optional
        Evaluate the bounds on the first ``n_eval`` rows of each set only (default: all rows);
        cheaper, and the same rows at every checkpoint.
    extra : dict of str -> callable, optional
        Further measurements at each checkpoint: ``extra[name](model)`` returns a float, stored
        under ``name`` (e.g. an importance-sampled ``log p(x)``).

    Returns
    -------
    dict
        ``samples`` (training samples evaluated: epochs * n), ``train`` and ``test`` (mean ELBO
        in nats, the same estimator for both methods) and one entry per ``extra`` name:
        ndarrays of shape (len(epochs_at),).
    """
    owner = "bound_curve"
    check_instance(model, VAE, "model", owner, "a vae_np.VAE")
    check_instance(optimizer, Optimizer, "optimizer", owner, "a vae_np optimizer")
    epochs_at = list(check_sizes(epochs_at, "epochs_at", owner, min_len=1))
    if any(b <= a for a, b in zip(epochs_at, epochs_at[1:])):
        raise invalid("epochs_at", owner, "strictly increasing epoch counts", epochs_at)
    seed, eval_seed = check_seed(seed, "seed", owner), check_seed(eval_seed, "eval_seed", owner)
    X_train = check_array(X_train, "X_train", n_features=model.input_dim, dtype=model.dtype)
    X_test = check_array(X_test, "X_test", n_features=model.input_dim, dtype=model.dtype)
    if n_eval is not None:
        n_eval = check_positive_int(n_eval, "n_eval", owner)
    extra = {} if extra is None else dict(extra)
    for name, measure in extra.items():
        if name in ("samples", "train", "test"):
            raise invalid("extra", owner, "names other than 'samples', 'train' and 'test'", name)
        check_callable(measure, f"extra[{name!r}]", owner)
    out = {"samples": [], "train": [], "test": [], **{name: [] for name in extra}}
    done = 0
    for j, e in enumerate(epochs_at):
        train(model, method, X_train, e - done, optimizer, seed + j, batch_size, weight_decay)
        done = e
        out["samples"].append(e * len(X_train))
        out["train"].append(_mean_elbo(model, X_train[:n_eval], eval_seed))
        out["test"].append(_mean_elbo(model, X_test[:n_eval], eval_seed))
        for name, measure in extra.items():
            out[name].append(float(measure(model)))
    return {k: np.asarray(v) for k, v in out.items()}


def gradient_noise(model, X, n_batches, n_draws, rng, batch_size=100):
    """Noise of the ``L = 1`` AEVB gradient, next to the noise of drawing a minibatch.

    For ``n_batches`` random minibatches ``B`` and ``n_draws`` noise draws ``eps`` each, the
    gradient ``g(B, eps)`` of the negative ELBO (all parameters, flattened) is computed. The law
    of total variance splits its variance into the part from ``eps`` (the mean over batches of the
    within-batch variance) and the part from the batch (the variance of ``E[g | B]`` over
    batches; the observed batch means also carry ``eps`` noise, which is subtracted).

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
    n_batches, n_draws : int
        At least 2 each.
    rng : numpy.random.Generator
    batch_size : int
        ``M``.

    Returns
    -------
    dict of float
        ``eps_var`` and ``batch_var``: unbiased estimates of the traces of the two parts (sums
        over parameters; ``batch_var`` can come out slightly negative when it is near zero);
        ``mean_sq``: the squared norm of the mean gradient; ``eps_share``: the ``eps`` part's share
        of the total variance.
    """
    owner = "gradient_noise"
    check_instance(model, VAE, "model", owner, "a vae_np.VAE")
    n_batches = check_positive_int(n_batches, "n_batches", owner)
    n_draws = check_positive_int(n_draws, "n_draws", owner)
    batch_size = check_positive_int(batch_size, "batch_size", owner)
    if n_batches < 2 or n_draws < 2:
        raise ValueError(f"{owner}: n_batches and n_draws must be at least 2 to estimate variances")
    if not isinstance(rng, np.random.Generator):
        raise invalid("rng", owner, "a numpy.random.Generator", rng)
    X = check_array(X, "X", n_features=model.input_dim, dtype=model.dtype)
    G = np.empty((n_batches, n_draws, model.n_params))
    for b in range(n_batches):
        xb = X[rng.choice(len(X), size=min(batch_size, len(X)), replace=False)]
        for d in range(n_draws):
            eps = rng.standard_normal(model.noise_shape(len(xb)), dtype=model.dtype)
            _, grads = model.loss_and_grads(xb, eps)
            G[b, d] = np.concatenate([g.ravel() for g in grads.values()])
    eps_var = float(G.var(axis=1, ddof=1).sum(axis=-1).mean())
    # the batch means still carry eps noise, eps_var / n_draws of it: removed (unbiased)
    batch_var = float(G.mean(axis=1).var(axis=0, ddof=1).sum()) - eps_var / n_draws
    return {"eps_var": eps_var, "batch_var": batch_var,
            "mean_sq": float((G.mean(axis=(0, 1)) ** 2).sum()),
            "eps_share": eps_var / (eps_var + batch_var)}

"""The training loop: minibatch stochastic optimization of the negative ELBO (AEVB).

One epoch visits every training example once in a fresh random order (an index permutation into a
preallocated batch buffer, no copy of the data set). Each step draws one ``eps`` per example
(``L = 1`` sample, as in Kingma & Welling's experiments), computes the loss and gradients, checks
that they are finite, and lets the optimizer update the parameters in place.

This is the one place that chooses how a step is computed. With the ``"numba"`` backend (the
default, :mod:`vae_np.fast.backends`) and a model and optimizer that :mod:`vae_np.fast`
supports, a step is ``fast.step.loss_and_grads`` then ``fast.flat.optimizer_step``; otherwise it is
the reference ``model.loss_and_grads`` then ``optimizer.step`` of :mod:`vae_np.nn`. Both give
the same numbers to float rounding.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from . import fast
from ._validation import (
    check_array,
    check_bool,
    check_float,
    check_instance,
    check_positive_int,
    check_seed,
)
from .fast.flat import all_finite, tiled_base
from .nn.base import Model
from .nn.optim import Optimizer

__all__ = ["History", "fit", "make_step", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """The loss or a gradient became NaN or inf during training."""


@dataclass
class History:
    """Per-epoch training record (losses in nats per example).

    Attributes
    ----------
    epoch : list of int
        1, 2, ...
    train_loss, train_recon, train_kl : list of float
        Means over the epoch's minibatches (weighted by batch size), measured while training.
    val_loss, val_recon, val_kl : list of float
        Negative ELBO and its two terms on ``X_val`` after each epoch (empty without ``X_val``).
    seconds : list of float
        Wall time of each epoch (training only).
    """
    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_recon: list = field(default_factory=list)
    train_kl: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_recon: list = field(default_factory=list)
    val_kl: list = field(default_factory=list)
    seconds: list = field(default_factory=list)

    def as_dict(self):
        """The record as a dict of lists."""
        return dict(self.__dict__)


def _first_nonfinite(loss, grads, flat=None):
    """What is NaN/inf: the loss or the first such gradient (None if all are finite).

    ``flat``, if given, is the 1-D array that the gradient arrays tile: one compiled pass checks
    them all, and the arrays are looked at one by one only when it finds something.
    """
    if not math.isfinite(loss):
        return f"the loss ({loss})"
    if flat is not None and all_finite(flat):
        return None
    for name, g in grads.items():
        if not np.isfinite(g).all():
            return f"the gradient of {name!r}"
    return None


def _first_nonfinite_param(params):
    for name, p in params.items():
        if not np.isfinite(p).all():
            return name
    return None


def make_step(model, optimizer, beta=1.0, weight_decay=0.0):
    """One training step of ``fit``, as a function: loss and gradients, a finite check, an update.

    This is where the fast or the reference path is chosen, once: with the ``"numba"`` backend,
    ``vae_np.fast.step.loss_and_grads`` when it supports the model and
    ``vae_np.fast.flat.optimizer_step`` (which falls back to ``optimizer.step`` by itself);
    otherwise ``model.loss_and_grads`` and ``optimizer.step``. When NumPy's BLAS may use several
    threads (``vae_np.blas_threads``) and ``vae_np.fast.parallel`` supports the model, the fast
    step runs on that many cores (:func:`vae_np.fast.parallel.cores`, read here, once).

    Parameters
    ----------
    model : vae_np.VAE or vae_np.Autoencoder
    optimizer : vae_np.nn.optim.Optimizer
    beta : float
        Weight of the KL term.
    weight_decay : float
        ``lambda >= 0``: adds ``lambda * theta`` to every gradient before the update, i.e. the loss
        gains ``(lambda / 2) * ||theta||**2``. With ``lambda = 1 / N`` for ``N`` training examples
        this is MAP training under a ``N(0, I)`` prior on all the parameters, as in Kingma &
        Welling (2013): the per-example objective is the mean ELBO plus ``log p(theta) / N``.

    Returns
    -------
    step : callable
        ``step(X, eps) -> (loss, problem)`` for a validated batch ``X`` of shape
        (n, input_dim) and noise ``eps`` of shape ``model.noise_shape(n)``, both C-contiguous of
        ``model.dtype``. ``loss`` is the negative ELBO (without the weight penalty). ``problem``
        is None after a successful update, else a description of what is NaN/inf (the loss or
        the first such gradient), and the parameters are not updated.
    """
    _check_model_and_optimizer(model, optimizer, "make_step")
    beta = check_float(beta, "beta", "make_step", low=0.0)
    weight_decay = check_float(weight_decay, "weight_decay", "make_step", low=0.0)
    use_fast = fast.get_backend() == "numba"
    flat_grads = tiled_base(list(model.grads.values())) if use_fast else None
    flat_params = tiled_base(list(model.params.values())) if use_fast else None
    decay = model.dtype.type(weight_decay)
    parts = fast.parallel.cores() if use_fast and fast.parallel.supports(model) else 1
    counted = parts > 1 or (use_fast and fast.step.supports(model))   # its own finite check
    if parts > 1:
        def loss_and_grads(X, eps):
            return fast.parallel.loss_and_grads(model, X, eps, beta, parts)
    elif use_fast and fast.step.supports(model):
        def loss_and_grads(X, eps):
            return fast.step.loss_and_grads(model, X, eps, beta)
    else:
        def loss_and_grads(X, eps):
            return model.loss_and_grads(X, eps, beta)

    def one_step(X, eps):
        loss, grads = loss_and_grads(X, eps)
        if counted and math.isfinite(loss) and fast.finite.gradients_finite(model):
            problem = None                  # counted by the fused step as it wrote the gradients
        else:
            problem = _first_nonfinite(loss, grads, flat_grads)
        if problem is None and weight_decay:
            _add_weight_decay(decay, model.params, grads, flat_params, flat_grads)
        if problem is None:
            if use_fast:
                fast.flat.optimizer_step(optimizer, model.params, grads, parts)
            else:
                optimizer.step(model.params, grads)
        return loss, problem

    if parts == 1:
        return one_step

    def step(X, eps):
        with fast.parallel.LOCK:        # the parallel regions: one thread at a time
            return one_step(X, eps)
    return step


def _add_weight_decay(decay, params, grads, flat_params, flat_grads):
    """``grads[name] += decay * params[name]`` for every parameter (one call on flat buffers)."""
    if flat_params is not None and flat_grads is not None and len(flat_params) == len(flat_grads):
        flat_grads += decay * flat_params
    else:
        for name, p in params.items():
            grads[name] += decay * p


def _scheduled_beta(schedule, epoch):
    """The schedule's ``beta`` for ``epoch``, checked like a constant ``beta``."""
    return check_float(schedule(epoch), f"beta({epoch})", "fit", low=0.0,
                       hint="the beta schedule must return a float >= 0 for every epoch")


def _check_model_and_optimizer(model, optimizer, owner):
    check_instance(model, Model, "model", owner, "a vae_np.VAE or vae_np.Autoencoder")
    check_instance(optimizer, Optimizer, "optimizer", owner,
                   "a vae_np optimizer instance such as vae_np.Adam(lr=1e-3)")


def fit(model, X, epochs, batch_size, optimizer, seed, X_val=None, progress=True, beta=1.0,
        dynamic_binarization=False, weight_decay=0.0):
    """Train ``model`` on ``X`` with minibatches.

    Parameters
    ----------
    model : vae_np.VAE or vae_np.Autoencoder
    X : ndarray of shape (n, input_dim)
        Training data (in [0, 1] for a Bernoulli likelihood).
    epochs : int
        Passes over the data.
    batch_size : int
        Minibatch size ``M`` (the last batch of an epoch may be smaller).
    optimizer : vae_np.nn.optim.Optimizer
        E.g. ``Adam(lr=1e-3)`` or ``Adagrad(lr=0.02)``.
    seed : int
        Seed of the shuffling, the noise ``eps`` and the binarization (training is deterministic
        given the seed, the data and the initial weights).
    X_val : ndarray of shape (m, input_dim), optional
        Validation data; its negative ELBO (one ``z`` sample per example, a fixed noise stream)
        is recorded after every epoch.
    progress : bool
        Show a tqdm progress bar (on stderr) with the running loss.
    beta : float or callable
        Weight of the KL term (1 = the ELBO). A callable ``beta(epoch) -> float`` (epochs count
        from 1) gives a schedule, such as a KL warm-up from 0 to 1.
    dynamic_binarization : bool
        Resample every training batch as ``x ~ Bernoulli(pixel intensities)`` (Bernoulli
        likelihood only), so the model sees binary data and the ELBO is a valid bound.
    weight_decay : float
        Adds ``weight_decay * theta`` to every gradient (see :func:`make_step`); ``1 / len(X)``
        is MAP training under a ``N(0, I)`` prior on the weights. The recorded losses are the
        negative ELBO without this penalty.

    Returns
    -------
    History

    Raises
    ------
    NonFiniteLossError
        If the loss or a gradient is NaN/inf. The message names the epoch, the step and the first
        non-finite quantity; the parameters are left as they were after the last finite step.
        If an optimizer update itself overflowed (an absurd learning rate), the parameters are
        no longer finite and cannot be restored: the message names the first such parameter
        and says so (checked on that failure and after every epoch, so ``fit`` never returns
        non-finite parameters).
    """
    _check_model_and_optimizer(model, optimizer, "fit")
    epochs = check_positive_int(epochs, "epochs", "fit")
    batch_size = check_positive_int(batch_size, "batch_size", "fit")
    seed = check_seed(seed, "seed", "fit")
    progress = check_bool(progress, "progress", "fit")
    schedule = beta if callable(beta) else None
    beta = 1.0 if schedule else check_float(beta, "beta", "fit", low=0.0)
    weight_decay = check_float(weight_decay, "weight_decay", "fit", low=0.0)
    dynamic_binarization = check_bool(dynamic_binarization, "dynamic_binarization", "fit")
    bernoulli = model.likelihood == "bernoulli"
    X = check_array(X, "X", n_features=model.input_dim, dtype=model.dtype, unit_interval=bernoulli)
    if X_val is not None:
        X_val = check_array(X_val, "X_val", n_features=model.input_dim, dtype=model.dtype,
                            unit_interval=bernoulli)
    if dynamic_binarization and not bernoulli:
        raise ValueError("dynamic_binarization needs likelihood='bernoulli'")
    train_step = None if schedule else make_step(model, optimizer, beta, weight_decay)
    rng = np.random.default_rng(seed)
    n = len(X)
    batch_size = min(batch_size, n)
    steps = math.ceil(n / batch_size)
    Xb = np.empty((batch_size, model.input_dim), dtype=model.dtype)
    U = np.empty_like(Xb) if dynamic_binarization else None
    history = History()
    bar = tqdm(total=epochs * steps, disable=not progress, unit="step", mininterval=0.5,
               desc="training", dynamic_ncols=False, ncols=100)
    try:
        for epoch in range(1, epochs + 1):
            if schedule:
                beta = _scheduled_beta(schedule, epoch)
                train_step = make_step(model, optimizer, beta, weight_decay)
            t0 = time.perf_counter()
            order = rng.permutation(n)
            sums = np.zeros(3)
            for step in range(1, steps + 1):
                idx = order[(step - 1) * batch_size: step * batch_size]
                xb = Xb[:len(idx)]
                # idx is part of a permutation of range(n), so no index wraps; with out= and
                # the default mode="raise", NumPy copies through a buffer (about 3x the time)
                np.take(X, idx, axis=0, out=xb, mode="wrap")
                if dynamic_binarization:
                    u = U[:len(idx)]
                    rng.random(out=u, dtype=u.dtype)
                    np.less(u, xb, out=u)
                    xb[...] = u
                eps = rng.standard_normal(model.noise_shape(len(idx)), dtype=model.dtype)
                loss, bad = train_step(xb, eps)
                if bad is not None:
                    broken = _first_nonfinite_param(model.params)
                    if broken is not None:
                        raise NonFiniteLossError(
                            f"{bad} became NaN/inf at epoch {epoch}, step {step} of {steps}, "
                            f"because the previous optimizer update made parameter {broken!r} "
                            "NaN/inf (the learning rate is far too large?); the parameters are "
                            "not finite: reload a checkpoint and lower the learning rate.")
                    raise NonFiniteLossError(
                        f"{bad} became NaN/inf at epoch {epoch}, step {step} of {steps}; the "
                        "parameters are left at the last finite step. Try a smaller learning "
                        "rate, check the data for extreme values, or use float64.")
                t = model.terms
                sums += len(idx) * np.array([t["loss"], t["recon"], t["kl"]])
                bar.update(1)
                if step == steps or step % 10 == 0:
                    bar.set_postfix(epoch=epoch, loss=f"{loss:.2f}", refresh=False)
            broken = _first_nonfinite_param(model.params)    # once per epoch: cheap
            if broken is not None:
                raise NonFiniteLossError(
                    f"parameter {broken!r} became NaN/inf in the optimizer update of epoch "
                    f"{epoch}, step {steps} of {steps} (the learning rate is far too large?); "
                    "the parameters are not finite: reload a checkpoint and lower the "
                    "learning rate.")
            history.seconds.append(time.perf_counter() - t0)
            history.epoch.append(epoch)
            for key, value in zip(("loss", "recon", "kl"), sums / n):
                getattr(history, f"train_{key}").append(float(value))
            if X_val is not None:
                terms = model.loss_terms(X_val, np.random.default_rng([seed, epoch]))
                for key in ("loss", "recon", "kl"):
                    getattr(history, f"val_{key}").append(float(terms[key]))
    finally:
        bar.close()
    return history

"""Chapter 7's measurements: what a code says about the class, and filling in missing pixels.

* :func:`nearest_mean_predict`, :func:`nearest_mean_accuracy`, :func:`knn_accuracy` — two
  simple classifiers, fitted on codes of training images and scored on codes of test images: how
  much a latent code tells about a label.
* :func:`mean_image`, :func:`bernoulli_log_prob_of` — the trivial baseline of inpainting (every
  missing pixel predicted by its average over the training set), scored like the models.
* :func:`vae_inpaint` — inpainting with a plain, trained VAE by approximate posterior inference:
  iterate encode, sample, decode on the missing pixels (Rezende et al., 2014).
* :func:`visible_log_likelihood`, :func:`vae_conditional_log_likelihood` — a plain VAE's
  ``log p(x_v)`` and ``log p(x_h | x_v) = log p(x) - log p(x_v)`` by importance sampling, with
  the inpainting chains as the proposal for ``p(z | x_v)``.
* :func:`completion_mse` — squared error of completions, per hidden pixel.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array, check_positive_int, check_rng
from ..nn.cvae import importance_log_mean
from ..nn.losses import bernoulli_log_prob, log_normal_diag, log_normal_std, logsumexp
from ..nn.vae import reparameterize

__all__ = ["nearest_mean_predict", "nearest_mean_accuracy", "knn_accuracy", "mean_image",
           "bernoulli_log_prob_of", "vae_inpaint", "visible_log_likelihood", "vae_conditional_log_likelihood",
           "completion_mse"]


def _codes(Z_train, y_train, Z_test, y_test=None):
    # y_test None: only the training codes are labelled (a prediction)
    Z_train = check_array(Z_train, "Z_train", dtype=np.float64)
    Z_test = check_array(Z_test, "Z_test", n_features=Z_train.shape[1], dtype=np.float64)
    y_train = np.asarray(y_train)
    y_test = np.zeros(len(Z_test)) if y_test is None else np.asarray(y_test)
    if y_train.shape != (len(Z_train),) or y_test.shape != (len(Z_test),):
        raise ValueError("each set of codes needs one label per row")
    return Z_train, y_train, Z_test, y_test


def nearest_mean_predict(Z_train, y_train, Z_test):
    """Labels from the nearest-class-mean classifier on codes (or images).

    Parameters
    ----------
    Z_train : ndarray of shape (n, k)
        Codes of the training images (e.g. posterior means), or the images themselves.
    y_train : ndarray of int, shape (n,)
    Z_test : ndarray of shape (m, k)

    Returns
    -------
    ndarray of shape (m,)
        For each test row, the class (a value of ``y_train``) whose mean training row is
        nearest in Euclidean distance.
    """
    Z_train, y_train, Z_test, _ = _codes(Z_train, y_train, Z_test)
    classes = np.unique(y_train)
    means = np.stack([Z_train[y_train == c].mean(axis=0) for c in classes])
    # |z - m|^2 without the (m, classes, k) difference array: |z|^2 is the same for every class
    d2 = (means ** 2).sum(axis=1) - 2 * Z_test @ means.T
    return classes[d2.argmin(axis=1)]


def nearest_mean_accuracy(Z_train, y_train, Z_test, y_test):
    """Accuracy of the nearest-class-mean classifier on codes (:func:`nearest_mean_predict`).

    Parameters
    ----------
    Z_train : ndarray of shape (n, k)
        Codes of the training images (e.g. posterior means).
    y_train : ndarray of int, shape (n,)
    Z_test : ndarray of shape (m, k)
    y_test : ndarray of int, shape (m,)

    Returns
    -------
    float
        Fraction of test codes whose nearest class mean (Euclidean, the means of the training
        codes of each class) is that of their own class.
    """
    Z_train, y_train, Z_test, y_test = _codes(Z_train, y_train, Z_test, y_test)
    return float(np.mean(nearest_mean_predict(Z_train, y_train, Z_test) == y_test))


def knn_accuracy(Z_train, y_train, Z_test, y_test, k=15):
    """Accuracy of the ``k``-nearest-neighbour classifier on codes (majority vote).

    Parameters
    ----------
    Z_train, y_train, Z_test, y_test
        As for :func:`nearest_mean_accuracy`.
    k : int
        Neighbours per vote; ties go to the smallest label.

    Returns
    -------
    float
        Fraction of test codes whose ``k`` nearest training codes (Euclidean) are mostly of
        their own class.
    """
    Z_train, y_train, Z_test, y_test = _codes(Z_train, y_train, Z_test, y_test)
    k = check_positive_int(k, "k")
    if k > len(Z_train):
        raise ValueError(f"k = {k} is more than the {len(Z_train)} training codes")
    d2 = ((Z_test ** 2).sum(1)[:, None] - 2 * Z_test @ Z_train.T + (Z_train ** 2).sum(1)[None])
    nearest = y_train[np.argpartition(d2, k - 1, axis=1)[:, :k]]          # (m, k) labels
    n_labels = int(max(y_train.max(), y_test.max())) + 1
    votes = np.stack([(nearest == c).sum(axis=1) for c in range(n_labels)], axis=1)
    return float(np.mean(votes.argmax(axis=1) == y_test))


def mean_image(X):
    """Each pixel's probability of being on, from a set of images (a smoothed average).

    Parameters
    ----------
    X : ndarray of shape (n, d), values in [0, 1]

    Returns
    -------
    ndarray of shape (d,), float64
        ``(sum_i x_ij + 1) / (n + 2)``: the average, pulled slightly towards 1/2 (Laplace's rule
        of succession) so that no pixel has probability exactly 0 or 1 and every binary image
        has a finite log-likelihood.
    """
    X = check_array(X, "X", dtype=np.float64, unit_interval=True)
    return (X.sum(axis=0) + 1) / (len(X) + 2)


def bernoulli_log_prob_of(P, X):
    """Per-example ``log prod_j Bernoulli(x_j; p_j)`` from probabilities (not logits).

    Parameters
    ----------
    P : ndarray of shape (n, d) or (d,)
        Probabilities in (0, 1) (broadcast over the rows of ``X``).
    X : ndarray of shape (n, d)
        Binary (or grey) targets.

    Returns
    -------
    ndarray of shape (n,), float64
        :func:`vae_np.nn.losses.bernoulli_log_prob` of the logits ``log p - log(1 - p)``.
    """
    X = np.asarray(X, dtype=np.float64)
    P = np.broadcast_to(np.asarray(P, dtype=np.float64), X.shape)
    if np.any(P <= 0) or np.any(P >= 1):
        raise ValueError("probabilities must be strictly between 0 and 1 for a finite "
                         "log-likelihood")
    return bernoulli_log_prob(np.log(P) - np.log1p(-P), X)


def vae_inpaint(model, X, visible, rng, n_iter=20, n_chains=1, init=None, sample_pixels=True,
                return_path=False):
    """Fill in the hidden pixels of images with a trained VAE, by iterated approximate inference.

    Each chain starts from ``X`` with its hidden pixels set to ``init`` and repeats, ``n_iter``
    times: encode the current image, draw ``z ~ q(z | x)``, decode ``z``, and replace the hidden
    pixels by a Bernoulli draw from the decoder's probabilities (``sample_pixels=True``) or by
    the probabilities themselves; the visible pixels are never changed.

    Parameters
    ----------
    model : vae_np.VAE
        Trained on whole images (Bernoulli likelihood).
    X : ndarray of shape (n, input_dim)
        Images; only their visible pixels are used.
    visible : ndarray of bool, shape (input_dim,)
    rng : numpy.random.Generator
    n_iter : int
        Encode-sample-decode rounds.
    n_chains : int
        Independent chains per image (several completions).
    init : float or ndarray of shape (input_dim,), optional
        Starting value of the hidden pixels (default 0: blank).
    sample_pixels : bool
        Draw binary hidden pixels between rounds (a Markov chain; with the exact posterior in
        place of ``q`` it would be a Gibbs sampler of ``p(z, x_h | x_v)``), or feed back the
        probabilities (a deterministic-looking fixed-point iteration).
    return_path : bool
        Also return the completion after every round.

    Returns
    -------
    completions : ndarray of shape (n_chains, n, input_dim)
        The visible pixels of ``X`` and, at the hidden pixels, the decoder's probabilities of
        the last round.
    path : ndarray of shape (n_iter, n_chains, n, n_hidden)
        Only with ``return_path``: the hidden pixels' probabilities after each round.
    """
    X = check_array(X, "X", n_features=model.input_dim, dtype=model.dtype, unit_interval=True)
    visible = np.asarray(visible, dtype=bool)
    if visible.shape != (model.input_dim,):
        raise ValueError(f"visible must have shape ({model.input_dim},), got {visible.shape}")
    check_rng(rng)
    n_iter, n_chains = check_positive_int(n_iter, "n_iter"), check_positive_int(n_chains,
                                                                                  "n_chains")
    hidden = np.flatnonzero(~visible)
    cur = np.tile(X, (n_chains, 1))
    cur[:, hidden] = 0.0 if init is None else np.broadcast_to(init, visible.shape)[hidden]
    path = []
    for _ in range(n_iter):
        mu, logvar = model.encode(cur)
        z, _ = reparameterize(mu, logvar, rng.standard_normal(mu.shape).astype(model.dtype))
        probs = model.decode(z)[:, hidden]
        if return_path:
            path.append(probs.reshape(n_chains, len(X), -1))
        cur[:, hidden] = (rng.random(probs.shape) < probs) if sample_pixels else probs
    out = np.tile(X, (n_chains, 1))
    out[:, hidden] = probs
    out = out.reshape(n_chains, len(X), model.input_dim)
    return (out, np.stack(path)) if return_path else out


def visible_log_likelihood(model, X, visible, completions, rng, k=500, widen=None,
                           batch_size=None):
    """Importance-sampling estimate of a VAE's ``log p(x_v)``, the probability of the visible pixels.

    The decoder's pixels are independent given ``z``, so ``p(x_v | z)`` is the product over the
    visible pixels only and ``p(x_v) = E_{z ~ r}[p(x_v | z) p(z) / r(z)]`` for any proposal
    ``r``. Here ``r`` is an equal-weight mixture of the prior ``N(0, I)`` and, for each
    completion ``x~_c`` of the image (e.g. the chains of :func:`vae_inpaint`), the encoder's
    ``q(z | x~_c)`` with its standard deviations multiplied by ``widen``. The completions put
    the proposal where ``p(z | x_v)`` is; widening accounts for that posterior being broader than
    one given a whole image; the prior component keeps every weight below
    ``(C + 1) p(x_v | z) <= C + 1`` (a *defensive* mixture), so the estimate has finite variance.

    Parameters
    ----------
    model : vae_np.VAE
        Bernoulli likelihood.
    X : ndarray of shape (n, input_dim)
        Only the visible pixels are used.
    visible : ndarray of bool, shape (input_dim,)
    completions : ndarray of shape (C, n, input_dim)
        Whole images (any values in [0, 1] at the hidden pixels) that define the proposal.
    rng : numpy.random.Generator
    k : int
        Samples per image, split as evenly as possible over the ``C + 1`` components (the
        mixture weights are the shares of samples, so the stratified estimate is unbiased).
    widen : float, optional
        Factor on the encoder's standard deviations; default ``sqrt(input_dim / n_visible)``
        (a Gaussian posterior's std grows like one over the root of the number of observations).
    batch_size : int, optional
        Images at once (default keeps ``k * batch_size`` near 5,000 rows).

    Returns
    -------
    ndarray of shape (n,), float64
        ``log (1/k) sum_s p(x_v | z_s) p(z_s) / r(z_s)`` (:func:`vae_np.nn.cvae.importance_log_mean`).
        Like every log of an importance-sampling estimate it is too low on average, by less as
        ``k`` grows.
    """
    X = check_array(X, "X", n_features=model.input_dim, dtype=model.dtype, unit_interval=True)
    visible = np.asarray(visible, dtype=bool)
    completions = np.asarray(completions, dtype=model.dtype)
    if completions.ndim != 3 or completions.shape[1:] != X.shape:
        raise ValueError(f"completions must have shape (C, {len(X)}, {model.input_dim}), got "
                         f"{completions.shape}")
    check_rng(rng)
    k = check_positive_int(k, "k")
    C, L = len(completions), model.latent_dim
    M = C + 1
    if k < M:
        raise ValueError(f"k = {k} is fewer than the {M} components of the proposal")
    counts = np.full(M, k // M)
    counts[:k % M] += 1
    log_pi = np.log(counts / k)[:, None, None]
    if widen is None:
        widen = np.sqrt(visible.size / visible.sum())
    batch_size = check_positive_int(batch_size or max(1, 5000 // k), "batch_size")
    out = np.empty(len(X))
    for s in range(0, len(X), batch_size):
        Xb, b = X[s:s + batch_size], len(X[s:s + batch_size])
        enc = [model.encode(c[s:s + batch_size]) for c in completions]
        mus = np.stack([e[0] for e in enc]).astype(np.float64)                  # (C, b, L)
        logvars = np.stack([e[1] for e in enc]).astype(np.float64) + 2 * np.log(widen)
        parts = [rng.standard_normal((counts[0], b, L))]
        for c in range(C):
            eps = rng.standard_normal((counts[c + 1], b, L))
            parts.append(mus[c] + np.exp(0.5 * logvars[c]) * eps)
        z = np.concatenate(parts)                                               # (k, b, L)
        comps = np.stack([log_normal_std(z)] + [log_normal_diag(z, mus[c], logvars[c])
                                                for c in range(C)])             # (M, k, b)
        log_r = logsumexp(comps + log_pi, axis=0)
        logits = model.decoder.forward(z.reshape(k * b, L).astype(model.dtype))
        log_pv = bernoulli_log_prob(logits[:, visible].astype(np.float64),
                                    np.tile(Xb[:, visible], (k, 1))).reshape(k, b)
        out[s:s + b] = importance_log_mean(log_pv + log_normal_std(z) - log_r)
    return out


def vae_conditional_log_likelihood(model, X, visible, completions, rng, k=500, widen=None):
    """A plain VAE's ``log p(x_h | x_v) = log p(x) - log p(x_v)`` per image, both by importance
    sampling.

    Parameters
    ----------
    model : vae_np.VAE
    X : ndarray of shape (n, input_dim)
        Whole images (the hidden pixels are the ones scored).
    visible : ndarray of bool, shape (input_dim,)
    completions : ndarray of shape (C, n, input_dim)
        The proposal of :func:`visible_log_likelihood`.
    rng : numpy.random.Generator
    k : int
        Samples for each of the two estimates.
    widen : float, optional
        See :func:`visible_log_likelihood`.

    Returns
    -------
    ndarray of shape (n,), float64
        ``model.log_likelihood(X, rng, k) - visible_log_likelihood(...)``. A difference of two
        estimates that are each too low on average is not a bound either way: its error has
        no known sign, and shrinks as ``k`` grows.
    """
    log_px = model.log_likelihood(X, rng, k=k)
    return log_px - visible_log_likelihood(model, X, visible, completions, rng, k, widen)


def completion_mse(completions, X, visible):
    """Mean squared error of completions at the hidden pixels.

    Parameters
    ----------
    completions : ndarray of shape (..., n, d)
        Whole images or their probabilities (only the hidden pixels are compared).
    X : ndarray of shape (n, d)
        The truth (e.g. the grey images).
    visible : ndarray of bool, shape (d,)

    Returns
    -------
    ndarray of shape (n,)
        ``mean_j (c_ij - x_ij)**2`` over the hidden pixels ``j`` of each image (averaged over
        the leading axes of ``completions`` too, if any: the mean error of single samples).
    """
    hidden = ~np.asarray(visible, dtype=bool)
    C = np.asarray(completions, dtype=np.float64)[..., hidden]
    err = (C - np.asarray(X, dtype=np.float64)[:, hidden]) ** 2
    return err.reshape(-1, *err.shape[-2:]).mean(axis=(0, 2))

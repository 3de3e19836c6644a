"""A finite-difference check for models whose loss takes more than ``(X, eps, beta)``.

``vae_np.nn.gradcheck.check_model`` is written for the VAE and the autoencoder; the models of
chapter 7 take labels (``ConditionalVAE``) or no noise (``MaskedBaseline``), so their tests
check a closure ``loss_and_grads() -> (loss, grads)`` with the same primitives
(``numerical_gradient``, ``relative_error``) and the same criterion.
"""
from vae_np.nn.gradcheck import numerical_gradient, relative_error


def check_loss(loss_and_grads, params, h=1e-6):
    """Relative error of every gradient array of ``loss_and_grads()`` against central differences.

    Parameters
    ----------
    loss_and_grads : callable
        ``loss_and_grads() -> (loss, grads)``; a deterministic function of ``params`` (fixed
        data, labels and noise).
    params : dict of str -> ndarray, float64
        The parameters, perturbed in place one entry at a time.

    Returns
    -------
    dict of str -> float
    """
    _, grads = loss_and_grads()
    analytic = {k: g.copy() for k, g in grads.items()}
    assert analytic.keys() == params.keys()
    loss = lambda: loss_and_grads()[0]  # noqa: E731
    return {k: relative_error(analytic[k], numerical_gradient(loss, p, h))
            for k, p in params.items()}

"""The engine a reader learns from, in plain NumPy: layers, losses, models, optimizers.

Each layer's backward pass sits beside its forward pass; nothing here imports numba or
:mod:`vae_np.fast` (``tests/test_architecture.py`` checks this).

* :mod:`~vae_np.nn.layers` — ``Linear``, ``ReLU``, ``Tanh``, ``Sigmoid``, ``Softplus``, ``MLP``
* :mod:`~vae_np.nn.losses` — Bernoulli and Gaussian NLLs, the analytic KL, log-densities,
  log-sum-exp (each the one home of its formula)
* :mod:`~vae_np.nn.autoencoder`, :mod:`~vae_np.nn.vae` — ``Autoencoder`` and ``VAE``
* :mod:`~vae_np.nn.iwae`, :mod:`~vae_np.nn.free_bits` — ``IWAE`` (the importance-weighted bound)
  and ``FreeBitsVAE`` (a KL floor per latent dimension): VAEs trained on another objective
* :mod:`~vae_np.nn.wake_sleep` — the wake-sleep algorithm for the VAE's two networks
* :mod:`~vae_np.nn.cvae`, :mod:`~vae_np.nn.structured` — conditional VAEs
* :mod:`~vae_np.nn.optim` — ``SGD``, ``Adagrad``, ``Adam``
* :mod:`~vae_np.nn.gradcheck` — finite-difference gradient checks
* :mod:`~vae_np.nn.params` — parameters as views of one flat vector
"""
from . import cvae, free_bits, gradcheck, iwae, layers, losses, optim, params, structured, wake_sleep
from .autoencoder import Autoencoder
from .cvae import ConditionalVAE
from .free_bits import FreeBitsVAE
from .iwae import IWAE
from .layers import MLP, Identity, Linear, ReLU, Sigmoid, Softplus, Tanh
from .optim import SGD, Adagrad, Adam, Optimizer
from .structured import MaskedBaseline, StructuredCVAE
from .vae import VAE

__all__ = ["cvae", "structured", "free_bits", "iwae", "wake_sleep", "FreeBitsVAE", "IWAE",
           "ConditionalVAE", "MaskedBaseline", "StructuredCVAE", "gradcheck", "layers", "losses",
           "optim", "params", "Autoencoder", "VAE", "MLP", "Identity", "Linear", "ReLU", "Sigmoid",
           "Softplus", "Tanh", "SGD", "Adagrad", "Adam", "Optimizer"]

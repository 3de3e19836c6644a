"""vae_np: a from-scratch NumPy Variational Autoencoder with hand-written backpropagation.

The package in layers (each module has one concept):

* :mod:`vae_np.nn` — the engine the book teaches, plain NumPy: layers, losses, ``Autoencoder``,
  ``VAE``, optimizers, gradient checks
* :mod:`vae_np.prob` — the probability toolbox of chapters 1, 3 and 4: Gaussians, mixtures and
  EM, PCA, divergences, the linear-Gaussian model, gradient estimators
* :mod:`vae_np.fast` — speed: the fused training step and numba kernels, tested against ``nn``
* :mod:`vae_np.analysis` — rate/distortion, KL per latent dimension, active units, interpolation
* :mod:`vae_np.data` — ``load_mnist``, ``make_moons``
* :mod:`vae_np.train` — ``fit`` and ``History``: the one place that picks the fast or the
  reference step
* :mod:`vae_np.export` — ``export_decoder``, ``load_decoder_export``: a decoder as JSON-able
  float32 data (the book's in-browser latent explorer)
* :mod:`vae_np.io` — ``save``, ``load`` (checkpoints); :mod:`vae_np.plotting` — figures;
  :mod:`vae_np.diagrams` — the conceptual figures (graphical model, computation graph);
  :mod:`vae_np.threads` — ``blas_threads``

``nn`` and ``prob`` never import ``fast`` or numba (``tests/test_architecture.py``).
"""
from . import analysis, data, diagrams, export, fast, io, nn, plotting, prob, threads, train
from ._validation import InvalidParameterError
from .data import load_mnist, make_moons
from .io import load, save
from .nn import (
           IWAE,
           MLP,
           SGD,
           VAE,
           Adagrad,
           Adam,
           Autoencoder,
           ConditionalVAE,
           FreeBitsVAE,
           Linear,
           ReLU,
           Sigmoid,
           Softplus,
           Tanh,
)
from .prob import PCA, GaussianMixture, LinearGaussian
from .threads import blas_threads
from .train import History, NonFiniteLossError, fit

__version__ = "0.1.0"

__all__ = ["VAE", "ConditionalVAE", "IWAE", "FreeBitsVAE", "Autoencoder", "MLP", "Linear", "ReLU",
           "Tanh", "Sigmoid", "Softplus", "SGD", "Adagrad", "Adam", "fit", "History",
           "NonFiniteLossError", "load_mnist", "make_moons", "save", "load", "PCA",
           "GaussianMixture", "LinearGaussian", "blas_threads", "InvalidParameterError", "analysis",
           "data", "export", "fast", "io", "nn", "diagrams", "plotting", "prob", "threads", "train"]

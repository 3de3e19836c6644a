"""vae_np: a from-scratch NumPy Variational Autoencoder with hand-written backpropagation.

Public API (each module has one concept):

* :mod:`vae_np.layers` — ``Linear``, ``ReLU``, ``Tanh``, ``Sigmoid``, ``Softplus``, ``MLP``
* :mod:`vae_np.losses` — Bernoulli NLL from logits, Gaussian NLL, analytic KL
* :mod:`vae_np.models` — ``Autoencoder``, ``VAE``
* :mod:`vae_np.optim` — ``SGD``, ``Adagrad``, ``Adam``
* :mod:`vae_np.train` — ``fit`` and ``History``
* :mod:`vae_np.gradcheck` — finite-difference gradient checks
* :mod:`vae_np.datasets` — ``load_mnist``, ``make_moons``
* :mod:`vae_np.plotting` — image grids, latent scatter, 2-D manifold, loss curves
* :mod:`vae_np.io` — ``save``, ``load`` (checkpoints)
* :mod:`vae_np.kernels` — numba kernels with NumPy references
* :mod:`vae_np.fused` — the VAE training step with fused kernels and reusable buffers
* :mod:`vae_np.gaussians` — univariate and multivariate Gaussian log-densities, sampling
* :mod:`vae_np.gmm` — ``GaussianMixture`` fitted with EM
* :mod:`vae_np.pca` — ``PCA`` via the SVD
* :mod:`vae_np.divergences` — closed-form KL between Gaussians, KL by quadrature
* :mod:`vae_np.linear_gaussian` — ``LinearGaussian``: exact evidence, posterior and ELBO
* :mod:`vae_np.estimators` — score-function and pathwise gradients, SGVB estimators A and B
* :mod:`vae_np.metrics` — rate/distortion, KL per latent dimension, active units
* :mod:`vae_np.sampling` — interpolation in pixel space and in latent space
"""
from . import datasets, gradcheck, io, kernels, layers, losses, models, optim, plotting, train
from . import gaussians, gmm, pca
from . import divergences, estimators, linear_gaussian
from . import metrics, sampling
from . import fused
from .linear_gaussian import LinearGaussian
from .datasets import load_mnist, make_moons
from .gmm import GaussianMixture
from .pca import PCA
from .io import load, save
from .layers import MLP, Linear, ReLU, Sigmoid, Softplus, Tanh
from .models import VAE, Autoencoder
from .optim import SGD, Adagrad, Adam
from .train import History, fit

__version__ = "0.1.0"

__all__ = ["VAE", "Autoencoder", "MLP", "Linear", "ReLU", "Tanh", "Sigmoid", "Softplus",
           "SGD", "Adagrad", "Adam", "fit", "History", "load_mnist", "make_moons", "save", "load",
           "datasets", "fused", "gradcheck", "io", "kernels", "layers", "losses", "models", "optim",
           "plotting", "train", "gaussians", "gmm", "pca", "GaussianMixture", "PCA",
           "divergences", "estimators", "linear_gaussian", "LinearGaussian", "metrics", "sampling"]

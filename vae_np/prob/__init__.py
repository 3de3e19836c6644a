"""The probability toolbox of chapters 1, 3 and 4, in plain NumPy.

* :mod:`~vae_np.prob.gaussians` — univariate and multivariate Gaussian log-densities, sampling
* :mod:`~vae_np.prob.gmm` — ``GaussianMixture`` fitted with EM
* :mod:`~vae_np.prob.pca` — ``PCA`` via the SVD
* :mod:`~vae_np.prob.divergences` — closed-form KL between Gaussians, KL by quadrature
* :mod:`~vae_np.prob.linear_gaussian` — ``LinearGaussian``: exact evidence, posterior and ELBO
* :mod:`~vae_np.prob.estimators` — score-function and pathwise gradients, SGVB estimators A and B
"""
from . import divergences, estimators, gaussians, gmm, linear_gaussian, pca
from .gmm import GaussianMixture
from .linear_gaussian import LinearGaussian
from .pca import PCA

__all__ = ["divergences", "estimators", "gaussians", "gmm", "linear_gaussian", "pca",
           "GaussianMixture", "LinearGaussian", "PCA"]

"""Speed: the fused training step and the one-call optimizer update (the speed appendix).

Everything here computes what :mod:`vae_np.nn` computes, faster, and is tested against it.
:func:`vae_np.fit` is the one place that chooses between the two paths (see
:mod:`~vae_np.fast.backends`).

* :mod:`~vae_np.fast.step` — the fused loss-and-gradients step of a VAE or Autoencoder
* :mod:`~vae_np.fast.activations`, :mod:`~vae_np.fast.likelihoods`,
  :mod:`~vae_np.fast.reparam` — its numba kernels, by concern
* :mod:`~vae_np.fast.optimizers` — SGD, Adagrad and Adam as one kernel call per step
* :mod:`~vae_np.fast.flat` — passes over the flat parameter and gradient buffers
* :mod:`~vae_np.fast.matmul` — a matrix multiply written from scratch (teaching code)
* :mod:`~vae_np.fast.backends` — ``set_backend``, ``get_backend``, ``backend``
"""
from . import activations, backends, flat, likelihoods, matmul, optimizers, reparam, step
from .backends import BACKENDS, backend, get_backend, set_backend

__all__ = ["activations", "backends", "flat", "likelihoods", "matmul", "optimizers", "reparam",
           "step", "BACKENDS", "backend", "get_backend", "set_backend"]

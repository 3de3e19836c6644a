"""Speed: the fused training step and the one-call optimizer update (the speed appendix).

Everything here computes what :mod:`vae_np.nn` computes, faster, and is tested against it.
:func:`vae_np.fit` is the one place that chooses between the two paths (see
:mod:`~vae_np.fast.backends`).

* :mod:`~vae_np.fast.step` — the fused loss-and-gradients step of a VAE or Autoencoder, with
  the kernels of the sampling layer and the KL term
* :mod:`~vae_np.fast.elementwise` — its other numba kernels: bias + activation, activation
  backward + bias gradient, likelihood + gradient
* :mod:`~vae_np.fast.flat` — passes over the flat parameter and gradient buffers: the finite
  check, and SGD, Adagrad and Adam as one kernel call per step
* :mod:`~vae_np.fast.matmul` — a matrix multiply written from scratch (teaching code)
* :mod:`~vae_np.fast.backends` — ``set_backend``, ``get_backend``, ``backend``
"""
from . import backends, elementwise, flat, matmul, step
from .backends import BACKENDS, backend, get_backend, set_backend

__all__ = ["backends", "elementwise", "flat", "matmul", "step", "BACKENDS", "backend",
           "get_backend", "set_backend"]

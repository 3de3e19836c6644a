"""Speed: the fused training step and the one-call optimizer update (the speed appendix).

Everything here computes what :mod:`vae_np.nn` computes, faster, and is tested against it.
:func:`vae_np.fit` is the one place that chooses between the two paths (see
:mod:`~vae_np.fast.backends`).

* :mod:`~vae_np.fast.step` — the fused loss-and-gradients step of a VAE or Autoencoder
* :mod:`~vae_np.fast.reparam` — its kernels of the sampling layer and the KL term
* :mod:`~vae_np.fast.elementwise` — its other numba kernels: bias + activation, activation
  backward + bias gradient, likelihood + gradient
* :mod:`~vae_np.fast.flat` — passes over the flat parameter and gradient buffers: the finite
  check, and SGD, Adagrad and Adam as one kernel call per step
* :mod:`~vae_np.fast.finite` — the NaN/inf that the fused steps count as they write the
  gradients (so that the training step's finite check needs no pass of its own)
* :mod:`~vae_np.fast.sparse` — the encoder's first layer computed from the nonzero pixels only
  (binarized MNIST is about 13% ones): its forward product and its weight gradient
* :mod:`~vae_np.fast.parallel` — the fused step of the book's VAE on several cores: the batch's
  rows in blocks, one numba thread each, BLAS on one thread per block
* :mod:`~vae_np.fast.blas` — matrix products called from inside numba kernels, on NumPy's own
  BLAS (``sgemm`` by its address, blocks of columns read in place)
* :mod:`~vae_np.fast.matmul` — a matrix multiply written from scratch (teaching code)
* :mod:`~vae_np.fast.backends` — ``set_backend``, ``get_backend``, ``backend``; and
  ``set_first_layer``, ``get_first_layer``, ``first_layer`` (``"auto"``, ``"dense"``, ``"sparse"``)
"""
from . import backends, blas, elementwise, finite, flat, matmul, parallel, reparam, sparse, step
from .backends import (
    BACKENDS,
    FIRST_LAYER_MODES,
    backend,
    first_layer,
    get_backend,
    get_first_layer,
    set_backend,
    set_first_layer,
)

__all__ = ["backends", "blas", "elementwise", "finite", "flat", "matmul", "parallel", "reparam",
           "sparse", "step",
           "BACKENDS", "backend", "get_backend", "set_backend", "FIRST_LAYER_MODES", "first_layer",
           "get_first_layer", "set_first_layer"]

"""Looking inside a trained model: rate and distortion, active units, interpolation, and the
measurements of the later chapters.

* :mod:`~vae_np.analysis.metrics` — rate, distortion, KL per dimension, active units
* :mod:`~vae_np.analysis.sampling` — interpolation and sampling helpers
* :mod:`~vae_np.analysis.conditional` — conditional log-likelihoods (chapter 7)
* :mod:`~vae_np.analysis.evidence` — log p(x) from prior samples, against importance sampling
* :mod:`~vae_np.analysis.aggregate` — the aggregate posterior q(z) and the ELBO surgery
* :mod:`~vae_np.analysis.neighbours` — nearest training images
* :mod:`~vae_np.analysis.moons` — the controlled moon experiment (chapters 2 and 5a)
* :mod:`~vae_np.analysis.paper` — Kingma & Welling's experiments (chapter 8)
* :mod:`~vae_np.analysis.gaps` — the approximation and amortization gaps (chapter 9)
"""
from . import aggregate, conditional, evidence, gaps, metrics, moons, neighbours, paper, sampling

__all__ = ["aggregate", "conditional", "evidence", "gaps", "metrics", "moons", "neighbours",
           "paper", "sampling"]

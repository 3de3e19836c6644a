"""What the Autoencoder and the VAE share: an encoder and a decoder MLP and a likelihood.

Loss scaling (everywhere in ``vae_np``): the loss is a **sum over pixels and latent dimensions
and a mean over the batch**, so it is in nats per example and does not change with the batch size.
"""
from __future__ import annotations

import numpy as np

from .._validation import (
    check_array,
    check_float_dtype,
    check_option,
    check_positive_float,
    check_positive_int,
    check_seed,
    check_sizes,
)
from .layers import ACTIVATION_NAMES, MLP, MLP_INITS
from .losses import LIKELIHOODS, log_likelihood, sigmoid
from .params import ParamDict, pack

__all__ = ["Model", "LIKELIHOODS"]


class Model:
    """What the Autoencoder and the VAE share: the two MLPs, the likelihood, decoding, checks."""

    def __init__(self, input_dim, hidden_dims, latent_dim, activation, likelihood, obs_std,
                 seed, dtype, init="default", init_std=0.01):
        owner = type(self).__name__
        self.input_dim = check_positive_int(input_dim, "input_dim", owner)
        self.hidden_dims = check_sizes(hidden_dims, "hidden_dims", owner)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim", owner)
        self.activation = check_option(activation, "activation", ACTIVATION_NAMES, owner)
        self.likelihood = check_option(likelihood, "likelihood", LIKELIHOODS, owner)
        self.obs_std = check_positive_float(obs_std, "obs_std", owner)
        self.seed = check_seed(seed, "seed", owner)       # a Python int: stored in checkpoints
        self.dtype = check_float_dtype(dtype, "dtype", owner)
        # how _build initialises both MLPs (vae_np.nn.layers.MLP's init and init_std)
        self.init = check_option(init, "init", MLP_INITS, owner)
        self.init_std = check_positive_float(init_std, "init_std", owner)
        self.terms = {}

    def _build(self, enc_out):
        rng = np.random.default_rng(self.seed)
        h = list(self.hidden_dims)
        init = dict(init=self.init, init_std=self.init_std)
        self.encoder = MLP([self.input_dim, *h, enc_out], self.activation, rng=rng,
                           dtype=self.dtype, **init)
        self.decoder = MLP([self.latent_dim, *h[::-1], self.input_dim], self.activation,
                           rng=rng, dtype=self.dtype, **init)
        self._pack()

    def _pack(self):
        """One contiguous buffer for all parameters and one for the gradients (``params.py``)."""
        nets = (("enc", self.encoder), ("dec", self.decoder))
        pack([layer for _, net in nets for layer in net.layers], self.dtype)
        self.params, self.grads = ParamDict(what="model.params"), ParamDict(what="model.grads")
        for prefix, net in nets:
            net.collect_params()
            for k in net.params:
                self.params._bind(f"{prefix}.{k}", net.params[k])
                self.grads._bind(f"{prefix}.{k}", net.grads[k])

    def __setstate__(self, state):
        # a deep copy or an unpickled model has separate arrays again: back into flat buffers
        self.__dict__.update(state)
        self.__dict__.setdefault("init", "default")      # pickled before the init option
        self.__dict__.setdefault("init_std", 0.01)
        self._pack()

    @property
    def config(self):
        """Constructor arguments (stored in checkpoints).

        Without ``init`` and ``init_std``: a subclass whose constructor takes them adds them
        (as :class:`~vae_np.nn.vae.VAE` does), so every stored config rebuilds its class.
        """
        return dict(input_dim=self.input_dim, hidden_dims=list(self.hidden_dims),
                    latent_dim=self.latent_dim, activation=self.activation,
                    likelihood=self.likelihood, obs_std=self.obs_std, seed=self.seed,
                    dtype=self.dtype.name)

    @property
    def n_params(self):
        """Total number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    def zero_grad(self):
        """Set every gradient to zero."""
        self.encoder.zero_grad()
        self.decoder.zero_grad()

    def noise_shape(self, n):
        """Shape of the standard normal noise ``eps`` that one training step on ``n`` examples needs.

        ``(n, latent_dim)``: one sample of ``z`` per example (``L = 1``). A model whose objective
        draws several samples per example (an importance-weighted bound, say) overrides this, and
        ``vae_np.fit`` draws what it asks for.
        """
        return (n, self.latent_dim)

    def _check_X(self, X, name="X"):
        return check_array(X, name, n_features=self.input_dim, dtype=self.dtype,
                           unit_interval=self.likelihood == "bernoulli")

    def _check_Z(self, Z, name="Z"):
        return check_array(Z, name, n_features=self.latent_dim, dtype=self.dtype)

    def _log_px(self, out, X):
        """Per-example log p(x|z) from decoder outputs (logits or means), shape (n,)."""
        return log_likelihood(out, X, self.likelihood, self.obs_std)

    def decode(self, Z):
        """Decode latent codes to pixel means.

        Parameters
        ----------
        Z : ndarray of shape (n, latent_dim)

        Returns
        -------
        ndarray of shape (n, input_dim)
            Bernoulli probabilities ``sigmoid(logits)`` or Gaussian means.
        """
        out = self.decoder.forward(self._check_Z(Z))
        return sigmoid(out).astype(self.dtype) if self.likelihood == "bernoulli" else out

    def __repr__(self):
        return (f"{type(self).__name__}(input_dim={self.input_dim}, hidden_dims="
                f"{list(self.hidden_dims)}, latent_dim={self.latent_dim}, activation="
                f"{self.activation!r}, likelihood={self.likelihood!r}, dtype={self.dtype.name})")

"""The training step of the same VAE in vae_np, JAX and PyTorch, for the benchmarks.

Every runner returns ``run(steps)``, which trains its model for ``steps`` steps and returns the
last loss. One step is the same work everywhere: take the next ``n`` rows of a random
permutation of the data into a batch, draw ``eps ~ N(0, I)`` of shape (n, k), compute the
negative ELBO (Bernoulli NLL from logits summed over pixels, analytic KL, mean over the batch)
and all its gradients, and apply one Adam step (lr 1e-3, b1 0.9, b2 0.999, eps 1e-8) to every
parameter. Every model starts from the same weights (those of ``vae_np.VAE(d, [h], k, seed)``:
He initialisation, Glorot for the last layers, zero biases), float32.
"""
from __future__ import annotations

D, K, N_DATA = 784, 20, 60_000


def make_data(kind="mnist", seed=0, n_data=N_DATA):
    """A (n_data, 784) float32 binary data set.

    ``"mnist"``: the 5,000 images of the embedded MNIST subset (``vae_np.data``), repeated to
    ``n_data`` rows, each copy binarized afresh (``x ~ Bernoulli(intensity)``): binary, about
    13% ones, MNIST's spatial structure. ``"random"``: independent pixels with ``P(1) = 0.5``.
    """
    import numpy as np
    rng = np.random.default_rng(seed)
    if kind == "random":
        return (rng.random((n_data, D), dtype=np.float32) < 0.5).astype(np.float32)
    import vae_np
    split = vae_np.load_mnist()                                  # the embedded subset, grey
    grey = np.concatenate([split.X_train, split.X_test])
    X = np.empty((n_data, D), np.float32)
    for start in range(0, n_data, len(grey)):
        part = X[start:start + len(grey)]
        np.less(rng.random(part.shape, dtype=np.float32), grey[:len(part)], out=part)
    return X


def _init(h, seed):
    import vae_np
    model = vae_np.VAE(D, [h], K, seed=seed)
    return model, {name: p.copy() for name, p in model.params.items()}


def _order(n_data, n, rng):
    """Index arrays of the successive batches: a new permutation once one is used up.

    The runners gather a batch with ``np.take(X, idx, axis=0, out=Xb, mode="wrap")``, as
    ``vae_np.fit`` does: these indices are never out of range, and with ``out=`` the default
    ``mode="raise"`` copies through a buffer (about 3x the time of the gather).
    """
    order, pos = rng.permutation(n_data), 0
    while True:
        if pos + n > n_data:
            order, pos = rng.permutation(n_data), 0
        yield order[pos:pos + n]
        pos += n


def vae_np_runner(X, backend="numba", first_layer="auto", n=128, h=400, seed=0, one_core=False):
    """``vae_np.train.make_step`` (exactly ``fit``'s step, with its finite check) under
    ``vae_np.fast.backend(backend)`` and ``first_layer(first_layer)``; ``run.model`` and
    ``run.optimizer`` are the model and its Adam. ``one_core=True`` builds
    the step as if BLAS had one thread (``vae_np.fast.parallel.cores`` returning 1: the one-core
    fused step, whose products still use all of BLAS's threads)."""
    import sys

    import numpy as np

    import vae_np
    from vae_np.fast.backends import first_layer as first_layer_mode
    from vae_np.train import make_step

    model, _ = _init(h, seed)
    optimizer = vae_np.Adam(lr=1e-3)
    with vae_np.fast.backend(backend):
        if vae_np.fast.get_backend() != backend:
            print(f"backend {backend!r} is not available: the {vae_np.fast.get_backend()!r} "
                  "step runs instead", file=sys.stderr)
        if one_core:
            from unittest import mock
            with mock.patch.object(vae_np.fast.parallel, "cores", return_value=1):
                step = make_step(model, optimizer, beta=1.0)
        else:
            step = make_step(model, optimizer, beta=1.0)
    rng = np.random.default_rng(seed)
    batches = _order(len(X), n, rng)
    Xb = np.empty((n, D), dtype=np.float32)

    def run(steps):
        with first_layer_mode(first_layer):
            for _ in range(steps):
                np.take(X, next(batches), axis=0, out=Xb, mode="wrap")
                eps = rng.standard_normal((n, K), dtype=np.float32)
                loss, problem = step(Xb, eps)
                if problem is not None:
                    raise FloatingPointError(f"{problem} became NaN/inf")
        return loss
    run.model, run.optimizer = model, optimizer      # for benchmarks that look at the state
    return run


def jax_runner(X, n=128, h=400, seed=0):
    """A ``jax.jit``-compiled step (loss, ``jax.grad``, Adam) with donated parameter buffers.

    Threads: XLA's CPU client reads ``XLA_FLAGS`` at import (one thread:
    ``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``).
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    _, init = _init(h, seed)
    names = ("enc.0", "enc.2", "dec.0", "dec.2")
    params = {k: jnp.asarray(v) for k, v in init.items()}
    for name in names:
        assert f"{name}.W" in params, sorted(params)

    def loss_fn(p, x, eps):
        a = jax.nn.relu(x @ p["enc.0.W"] + p["enc.0.b"])
        out = a @ p["enc.2.W"] + p["enc.2.b"]
        mu, logvar = out[:, :K], out[:, K:]
        std = jnp.exp(0.5 * logvar)
        z = mu + std * eps
        logits = jax.nn.relu(z @ p["dec.0.W"] + p["dec.0.b"]) @ p["dec.2.W"] + p["dec.2.b"]
        rec = jnp.sum(jax.nn.softplus(logits) - x * logits)     # Bernoulli NLL from logits
        kl = 0.5 * jnp.sum(std * std + mu * mu - 1.0 - logvar)
        return (rec + kl) / x.shape[0]

    b1, b2, ae = 0.9, 0.999, 1e-8

    def step(p, m, v, t, x, eps):
        loss, g = jax.value_and_grad(loss_fn)(p, x, eps)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
        lr_t = 1e-3 * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        eps_t = ae * jnp.sqrt(1 - b2 ** t)
        p = jax.tree_util.tree_map(lambda p_, m_, v_: p_ - lr_t * m_ / (jnp.sqrt(v_) + eps_t),
                                   p, m, v)
        return p, m, v, t, loss

    jstep = jax.jit(step, donate_argnums=(0, 1, 2))
    state = {"p": params, "m": jax.tree_util.tree_map(jnp.zeros_like, params),
             "v": jax.tree_util.tree_map(jnp.zeros_like, params),
             "t": jnp.asarray(0.0, jnp.float32)}
    rng = np.random.default_rng(seed)
    batches = _order(len(X), n, rng)
    Xb = np.empty((n, D), dtype=np.float32)

    def run(steps):
        loss = None
        for _ in range(steps):
            np.take(X, next(batches), axis=0, out=Xb, mode="wrap")
            eps = rng.standard_normal((n, K), dtype=np.float32)
            state["p"], state["m"], state["v"], state["t"], loss = jstep(
                state["p"], state["m"], state["v"], state["t"], Xb, eps)
        return float(loss)          # waits for the last step (XLA dispatches asynchronously)
    return run


def torch_runner(X, threads, n=128, h=400, seed=0, fused_adam=False, compiled=False):
    """PyTorch on the CPU: eager mode (``compiled=False``) or ``torch.compile`` of the model's
    forward and loss (its backward compiled by AOTAutograd too), ``torch.optim.Adam`` (default,
    or ``fused=True``)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    _, init = _init(h, seed)

    class TorchVAE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.e1, self.e2 = torch.nn.Linear(D, h), torch.nn.Linear(h, 2 * K)
            self.d1, self.d2 = torch.nn.Linear(K, h), torch.nn.Linear(h, D)
            with torch.no_grad():
                for lin, name in ((self.e1, "enc.0"), (self.e2, "enc.2"), (self.d1, "dec.0"),
                                  (self.d2, "dec.2")):
                    lin.weight.copy_(torch.from_numpy(init[f"{name}.W"].T.copy()))
                    lin.bias.copy_(torch.from_numpy(init[f"{name}.b"]))

        def forward(self, x, eps):
            mu, logvar = self.e2(F.relu(self.e1(x))).chunk(2, dim=1)
            std = torch.exp(0.5 * logvar)
            z = mu + std * eps
            logits = self.d2(F.relu(self.d1(z)))
            m = x.shape[0]
            rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / m
            kl = 0.5 * (std * std + mu * mu - 1 - logvar).sum() / m
            return rec + kl

    model = TorchVAE()
    loss_of = torch.compile(model) if compiled else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **({"fused": True} if fused_adam else {}))
    Xt = torch.from_numpy(X)
    xb = torch.empty((n, D), dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    batches = _order(len(X), n, rng)

    def run(steps):
        for _ in range(steps):
            torch.index_select(Xt, 0, torch.from_numpy(next(batches)), out=xb)
            eps = torch.randn((n, K), generator=gen)
            opt.zero_grad(set_to_none=True)
            loss = loss_of(xb, eps)
            loss.backward()
            opt.step()
        return loss.item()
    return run

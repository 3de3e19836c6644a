"""Checkpoints of the models that train on another objective (IWAE, free bits) round-trip."""
import numpy as np
import pytest

import vae_np
from vae_np.nn.free_bits import FreeBitsVAE
from vae_np.nn.iwae import IWAE


@pytest.mark.parametrize("model", [IWAE(12, [6], 3, k=4, analytic_kl=False, seed=2, init="normal"),
                                   FreeBitsVAE(12, [6], 3, free_bits=0.25, seed=1)],
                         ids=["IWAE", "FreeBitsVAE"])
def test_objective_models_save_and_load(tmp_path, model):
    path = vae_np.save(model, tmp_path / "m.npz")
    back = vae_np.load(path)
    assert type(back) is type(model)
    assert back.config == model.config
    for name, p in model.params.items():
        np.testing.assert_array_equal(back.params[name], p)
    X = (np.random.default_rng(0).random((5, 12)) < 0.5).astype(np.float32)
    eps = np.random.default_rng(1).standard_normal(model.noise_shape(5)).astype(np.float32)
    assert back.loss_and_grads(X, eps)[0] == model.loss_and_grads(X, eps)[0]

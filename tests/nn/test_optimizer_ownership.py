"""An optimizer's state belongs to the parameter arrays it was built for.

Reusing an optimizer on a second model of the same shape used to carry the first model's
momentum (Adam's moments, SGD's velocity, Adagrad's sums) into the second one silently. It is now
a ``ValueError`` that says to use a new optimizer, on the reference path (``Optimizer.step``) and
on the fast one (``vae_np.fast.flat.optimizer_step``). Copies and pickles of a model together
with its optimizer keep working, and so does a copied optimizer with a copied model.
"""
import copy
import gc
import pickle

import numpy as np
import pytest

import vae_np
from vae_np.fast.flat import optimizer_step

MAKERS = [lambda: vae_np.SGD(0.1, momentum=0.9), lambda: vae_np.Adagrad(0.05),
          lambda: vae_np.Adam(1e-2)]
STEPS = {"reference": lambda opt, m: opt.step(m.params, m.grads),
         "fast": lambda opt, m: optimizer_step(opt, m.params, m.grads)}


def _model(seed=0):
    m = vae_np.VAE(9, (6,), 2, seed=seed)
    for g in m.grads.values():
        g[...] = 0.01
    return m


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("first, second", [("reference", "reference"), ("fast", "fast"),
                                           ("reference", "fast"), ("fast", "reference")])
def test_second_model_of_the_same_shape_is_refused(make, first, second):
    a, b = _model(0), _model(1)
    opt = make()
    STEPS[first](opt, a)
    before = {k: v.copy() for k, v in b.params.items()}
    with pytest.raises(ValueError, match=r"state for 'enc.0.W' belongs to another parameter "
                                         r"array.*use a new optimizer for each model"):
        STEPS[second](opt, b)
    for k, v in b.params.items():                   # nothing was updated
        np.testing.assert_array_equal(v, before[k])
    STEPS[second](opt, a)                            # the first model still steps
    assert opt.t == 2


@pytest.mark.parametrize("make", MAKERS)
def test_state_of_a_model_that_is_gone_is_not_inherited(make):
    a = _model(0)
    opt = make()
    STEPS["fast"](opt, a)
    del a
    gc.collect()
    with pytest.raises(ValueError, match="belongs to another parameter array"):
        STEPS["reference"](opt, _model(1))


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("clone", [copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))])
def test_copies_of_the_pair_and_of_each_keep_working(make, clone):
    model, opt = _model(0), make()
    STEPS["fast"](opt, model)
    model2, opt2 = clone((model, opt))               # together
    for step in STEPS.values():
        step(opt2, model2)
        step(opt, model)
    for k in model.params:
        np.testing.assert_allclose(model.params[k], model2.params[k], rtol=1e-6)
    model3, opt3 = clone(model), clone(opt)          # separately, then used together
    STEPS["reference"](opt3, model3)
    with pytest.raises(ValueError, match="belongs to another"):
        STEPS["reference"](opt3, model)              # the copy adopted model3's arrays


def test_plain_dicts_of_the_same_arrays_are_the_same_parameters():
    w = np.ones(3)
    opt = vae_np.Adam(0.1)
    for _ in range(3):
        opt.step({"w": w}, {"w": np.full(3, 0.5)})   # a new dict each time: same array
    assert opt.t == 3
    with pytest.raises(ValueError, match="belongs to another"):
        opt.step({"w": np.ones(3)}, {"w": np.full(3, 0.5)})


def test_names_without_state_are_adopted():
    opt = vae_np.SGD(0.1)
    opt.step({"a": np.ones(2)}, {"a": np.ones(2)})
    opt.step({"b": np.ones(2)}, {"b": np.ones(2)})   # a different name: no state to carry
    assert set(opt.state) == {"a", "b"}


@pytest.mark.parametrize("params, grads, name", [
    ([np.ones(2)], {"w": np.ones(2)}, "params"),
    ({"w": np.ones(2)}, None, "grads"),
    ({"w": [1.0, 2.0]}, {"w": np.ones(2)}, "params['w']"),
    ({"w": np.ones(2)}, {"w": [1.0, 2.0]}, "grads['w']"),
])
def test_step_arguments_of_the_wrong_kind(params, grads, name):
    for step in (vae_np.SGD(0.1).step, lambda p, g: optimizer_step(vae_np.SGD(0.1), p, g)):
        with pytest.raises(TypeError) as info:
            step(params, grads)
        assert repr(name) in str(info.value) and "must be" in str(info.value)

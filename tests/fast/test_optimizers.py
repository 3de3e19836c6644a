"""The one-call optimizer update (vae_np.fast.flat.optimizer_step) against the nn reference classes."""
import copy
import pickle

import numpy as np
import pytest

import vae_np
from vae_np.fast.flat import optimizer_step, supports_optimizer, tiled_base
from vae_np.nn.optim import SGD, Adagrad, Adam, Optimizer
from vae_np.train import _first_nonfinite

MAKERS = [lambda: SGD(0.1, momentum=0.9), lambda: Adagrad(0.05), lambda: Adam(1e-2)]


def _separate(d):
    """The same values in arrays of their own: what the reference ``step`` updates."""
    return {k: v.copy() for k, v in d.items()}


def _random_grads(model, rng):
    for g in model.grads.values():
        g[...] = rng.standard_normal(g.shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", MAKERS)
def test_flat_update_equals_the_reference_update(make, dtype):
    """One kernel call over the flat buffers gives the reference's parameters and state."""
    rng = np.random.default_rng(0)
    model = vae_np.VAE(9, (6,), 2, seed=0, dtype=dtype)
    ref_params = _separate(model.params)
    opt_fast, opt_ref = make(), make()
    tol = dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    for _ in range(3):
        _random_grads(model, rng)
        optimizer_step(opt_fast, model.params, model.grads)
        opt_ref.step(ref_params, _separate(model.grads))
        assert opt_fast.t == opt_ref.t
        for k in model.params:
            np.testing.assert_allclose(model.params[k], ref_params[k], err_msg=k, **tol)
            for a, b in zip(opt_fast.state[k], opt_ref.state[k]):
                np.testing.assert_allclose(a, b, err_msg=k, **tol)
                assert a.dtype == dtype
    # the flat path ran: the state arrays are views of one buffer per slot
    first = opt_fast.state["enc.0.W"][0]
    assert all(np.shares_memory(opt_fast.state[k][0], first.base) for k in model.params)
    assert tiled_base([opt_fast.state[k][0] for k in model.params]) is not None


@pytest.mark.parametrize("make", MAKERS)
def test_switching_paths_carries_the_state_over(make):
    rng = np.random.default_rng(3)
    model, twin = vae_np.VAE(9, (6,), 2, seed=0), vae_np.VAE(9, (6,), 2, seed=0)
    opt_a, opt_b = make(), make()
    for i in range(4):
        _random_grads(model, rng)
        for k in model.grads:
            twin.grads[k][...] = model.grads[k]
        optimizer_step(opt_a, model.params, model.grads)          # always the flat path
        if i % 2:
            optimizer_step(opt_b, twin.params, twin.grads)
        else:
            opt_b.step(twin.params, twin.grads)                      # the reference, per array
    for k in model.params:
        np.testing.assert_allclose(model.params[k], twin.params[k], rtol=2e-6, atol=1e-7)


def test_arrays_that_do_not_tile_take_the_reference_step():
    params = {"w": np.ones(5), "b": np.zeros(2)}
    grads = {"w": np.full(5, 0.5), "b": np.ones(2)}
    opt = SGD(0.1)
    optimizer_step(opt, params, grads)
    np.testing.assert_allclose(params["w"], 0.95)
    np.testing.assert_allclose(params["b"], -0.1)
    assert opt.t == 1


def test_an_unknown_optimizer_class_takes_its_own_step():
    class HalfSGD(SGD):                       # a subclass may change the rule
        def _update(self, p, g, vel):
            p -= 0.5 * self.lr * g

    model = vae_np.VAE(9, (6,), 2, seed=0, dtype=np.float64)
    model.grads["enc.0.W"][...] = 1.0
    before = model.params["enc.0.W"].copy()
    assert not supports_optimizer(HalfSGD(0.1)) and supports_optimizer(SGD(0.1))
    optimizer_step(HalfSGD(0.1), model.params, model.grads)
    np.testing.assert_allclose(model.params["enc.0.W"], before - 0.05)
    assert not supports_optimizer(Optimizer(0.1))


@pytest.mark.parametrize("resume", [copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))])
def test_a_copied_optimizer_resumes_exactly(resume):
    """Copies keep ``state``; the flat buffers are rebuilt from it (also after a reference step)."""
    rng = np.random.default_rng(1)
    model = vae_np.VAE(9, (6,), 2, seed=0)
    opt = Adam(1e-2)
    grads = [{k: rng.standard_normal(g.shape).astype(g.dtype) for k, g in model.grads.items()}
             for _ in range(6)]

    def step(o, m, g, fast):
        for k in g:
            m.grads[k][...] = g[k]
        if fast:
            optimizer_step(o, m.params, m.grads)
        else:
            o.step(m.params, m.grads)

    for g in grads[:2]:
        step(opt, model, g, True)
    twin, twin_opt = copy.deepcopy(model), resume(opt)
    for i, g in enumerate(grads[2:]):                # one reference step midway
        step(opt, model, g, i != 1)
        step(twin_opt, twin, g, i != 1)
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], twin.params[k], err_msg=k)
        for a, b in zip(opt.state[k], twin_opt.state[k]):
            np.testing.assert_array_equal(a, b, err_msg=k)
    assert len(pickle.dumps(opt)) < 2 * model.n_params * 4 + 10_000   # m, v and little else


def test_replacing_a_state_entry_is_seen():
    model = vae_np.VAE(9, (6,), 2, seed=0, dtype=np.float64)
    opt = SGD(0.1, momentum=0.9)
    model.grads["enc.0.b"][...] = 1.0
    optimizer_step(opt, model.params, model.grads)
    opt.state["enc.0.b"] = (np.full_like(model.params["enc.0.b"], 10.0),)   # a new velocity
    before = model.params["enc.0.b"].copy()
    optimizer_step(opt, model.params, model.grads)
    np.testing.assert_allclose(model.params["enc.0.b"], before + 0.9 * 10.0 - 0.1)


def test_optimizer_refuses_state_of_another_shape():
    """Same names, other shapes: an error, never a kernel running off the end of an array."""
    small, big = vae_np.VAE(9, (6,), 2, seed=0), vae_np.VAE(9, (7,), 2, seed=0)
    for params, grads in [(small.params, small.grads),
                          (_separate(small.params), _separate(small.grads))]:
        for other in [(big.params, big.grads), (_separate(big.params), _separate(big.grads))]:
            for fast in (True, False):
                opt = Adam(1e-3)
                optimizer_step(opt, params, grads) if fast else opt.step(params, grads)
                with pytest.raises(ValueError, match="use a new optimizer"):
                    optimizer_step(opt, *other)
                with pytest.raises(ValueError, match="use a new optimizer"):
                    opt.step(*other)


def test_the_flat_finite_check_names_the_bad_gradient():
    model = vae_np.VAE(9, (6,), 2, seed=0)
    flat = tiled_base(list(model.grads.values()))
    assert _first_nonfinite(0.5, model.grads, flat) is None
    model.grads["dec.2.b"][1] = np.nan
    assert _first_nonfinite(0.5, model.grads, flat) == "the gradient of 'dec.2.b'"
    assert _first_nonfinite(0.5, model.grads) == "the gradient of 'dec.2.b'"
    assert _first_nonfinite(float("inf"), model.grads, flat) == "the loss (inf)"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(1e-2)])
def test_running_averages_that_decay_below_the_normal_range_become_zero(make, dtype):
    """A momentum or moment whose gradient is 0 shrinks every step; once it would be subnormal
    (slow arithmetic on many CPUs) both paths store 0, and NaN stays NaN."""
    tiny = np.finfo(dtype).tiny
    model = vae_np.VAE(9, (6,), 2, seed=0, dtype=dtype)
    ref_params = _separate(model.params)
    opt_fast, opt_ref = make(), make()
    rng = np.random.default_rng(1)
    _random_grads(model, rng)
    optimizer_step(opt_fast, model.params, model.grads)
    opt_ref.step(ref_params, _separate(model.grads))
    for opt in (opt_fast, opt_ref):              # entries just above the smallest normal float
        for slots in opt.state.values():
            for s in slots:
                s[...] = 1.05 * tiny
                s.flat[0] = np.nan
                s.flat[1] = 2.0 * tiny           # shrinks by 0.9 (or 0.999): stays normal
    for g in model.grads.values():
        g[...] = 0
    optimizer_step(opt_fast, model.params, model.grads)
    opt_ref.step(ref_params, _separate(model.grads))
    for k in model.params:
        for a, b in zip(opt_fast.state[k], opt_ref.state[k]):
            np.testing.assert_array_equal(a, b, err_msg=k)
            assert np.isnan(a.flat[0]) and a.flat[1] >= tiny
            rest = a.ravel()[2:]
            # 1.05 * 0.9 < 1 for m and the velocity: flushed; 1.05 * 0.999 > 1 for Adam's v
            assert np.all(rest == 0) or np.all(rest >= tiny)
            assert not np.any((rest != 0) & (np.abs(rest) < tiny))
    for name, (m, v) in (opt_fast.state.items() if isinstance(opt_fast, Adam) else ()):
        assert np.all(m.ravel()[2:] == 0) and np.all(v.ravel()[2:] >= tiny), name


def test_flush_subnormals_keeps_normal_numbers_zero_nan_and_inf():
    from vae_np.nn.optim import flush_subnormals
    tiny = np.finfo(np.float32).tiny
    a = np.array([tiny, -tiny, tiny / 2, -tiny / 4, 0.0, 1.0, np.nan, np.inf, -np.inf],
                 np.float32)
    out = flush_subnormals(a)
    assert out is a
    np.testing.assert_array_equal(a, np.array([tiny, -tiny, 0, 0, 0, 1, np.nan, np.inf, -np.inf],
                                              np.float32))


def test_the_flush_is_the_same_rule_on_both_paths_for_any_state():
    """Odd state (negative, -inf, NaN; from a loaded or edited optimizer, never from Adam's own
    arithmetic) goes through the fused kernel exactly as through the reference."""
    tiny = np.finfo(np.float32).tiny
    odd = np.array([-5.0, -tiny / 2, np.nan, -np.inf, 1.05 * tiny, -1.05 * tiny], np.float32)

    def two_steps(fused):
        model = vae_np.VAE(9, (6,), 2, seed=0)
        opt = Adam(1e-2)
        params = model.params if fused else _separate(model.params)
        for g in model.grads.values():
            g[...] = 0
        for step in range(2):
            if step == 1:
                for m, v in opt.state.values():
                    m.flat[:odd.size] = odd
                    v.flat[:odd.size] = odd
            with np.errstate(invalid="ignore"):          # sqrt of the negative v: NaN
                if fused:
                    optimizer_step(opt, model.params, model.grads)
                else:
                    opt.step(params, _separate(model.grads))
        return {k: tuple(a.copy() for a in s) for k, s in opt.state.items()}

    fused, reference = two_steps(True), two_steps(False)
    for k in reference:
        for a, b in zip(fused[k], reference[k]):
            np.testing.assert_array_equal(a, b, err_msg=k)

"""``wide_vectors()``: 512-bit vectors in a kernel, the same numbers as without."""
import re

import numba
import numpy as np
import pytest
from llvmlite import ir

from vae_np.fast import _jit
from vae_np.fast._jit import JIT_DISABLED, wide_vectors

needs_jit = pytest.mark.skipif(JIT_DISABLED, reason="no compiled code under NUMBA_DISABLE_JIT")


def _has_avx512():
    import llvmlite.binding as ll
    return "+avx512f" in ll.get_host_cpu_features().flatten().split(",")


def test_the_attribute_is_written_into_the_ir():
    module = ir.Module()
    function = ir.Function(module, ir.FunctionType(ir.VoidType(), []), "kernel")
    assert _jit._add_wide_attribute(function)
    assert '"prefer-vector-width"="512"' in str(module)


def _kernels():
    # compiled here (not cached: numba shows no assembly of a kernel loaded from its cache)
    def body(a, b, out):
        for i in range(a.size):
            x = a[i] * b[i] + np.float32(1)
            out[i] = x if abs(x) > np.float32(1e-3) else np.float32(0)

    def wide(a, b, out):
        wide_vectors()
        for i in range(a.size):
            x = a[i] * b[i] + np.float32(1)
            out[i] = x if abs(x) > np.float32(1e-3) else np.float32(0)

    options = dict(error_model="numpy", cache=False)
    return numba.njit(**options)(body), numba.njit(**options)(wide)


@needs_jit
def test_same_numbers_with_and_without_wide_vectors():
    """Vector width changes how many lanes run at once, not what each computes."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(1003).astype(np.float32)
    b = rng.standard_normal(1003).astype(np.float32)
    a[[3, 500, 1001]] = [np.nan, np.inf, -np.inf]
    plain, wide = _kernels()
    out_plain, out_wide = np.empty_like(a), np.empty_like(a)
    plain(a, b, out_plain)
    wide(a, b, out_wide)
    np.testing.assert_array_equal(out_plain.view(np.int32), out_wide.view(np.int32))


@needs_jit
@pytest.mark.skipif(not _has_avx512(), reason="the CPU has no AVX-512")
def test_a_kernel_that_asks_uses_512_bit_registers():
    plain, wide = _kernels()
    a = np.ones(64, np.float32)
    plain(a, a, a.copy())
    wide(a, a, a.copy())
    asm = "".join(wide.inspect_asm().values())
    assert re.search(r"\bzmm\d", asm), "no 512-bit register in the kernel that asked for them"


@needs_jit
def test_a_numba_kernel_carries_the_attribute():
    """On any CPU: the compiled kernel's LLVM IR has the attribute, the plain one has not."""
    plain, wide = _kernels()
    a = np.ones(8, np.float32)
    plain(a, a, a.copy())
    wide(a, a, a.copy())
    assert '"prefer-vector-width"="512"' in "".join(wide.inspect_llvm().values())
    assert '"prefer-vector-width"="512"' not in "".join(plain.inspect_llvm().values())

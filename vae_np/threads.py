"""How many threads the BLAS library (NumPy's matrix products) may use.

The book's models multiply small matrices (minibatches of 64 to 128 rows). On a machine with
few cores, two BLAS threads on such products spend much of their time waiting for each other,
and on a machine shared with other work they can be several times slower than one thread (the
speed appendix and ``benchmarks/README.md`` measure this). The chapters therefore call
``vae_np.blas_threads(1)`` once at the top. Large products (the benchmarks' two-thread runs)
gain from more threads, so the library never changes the setting on its own.
"""
from __future__ import annotations

from threadpoolctl import threadpool_limits

from ._validation import check_positive_int

__all__ = ["blas_threads"]


def blas_threads(n):
    """Limit NumPy's BLAS to ``n`` threads.

    Parameters
    ----------
    n : int
        Number of threads (>= 1).

    Returns
    -------
    threadpoolctl.threadpool_limits
        The limit is in force from this call on. Used in a ``with`` block, the previous setting
        comes back at its end: ``with vae_np.blas_threads(1): ...``.
    """
    return threadpool_limits(limits=check_positive_int(n, "n"), user_api="blas")

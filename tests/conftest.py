"""Shared pytest setup: wire in the nbval sanitize file by absolute path (works from any folder),
and make every test run with the same numba backend unless it asks otherwise."""
from pathlib import Path

SANITIZE = Path(__file__).resolve().parent / "sanitize.cfg"


def pytest_configure(config):
    # `pytest --nbval` compares stored notebook outputs; this file masks what legitimately varies
    # between runs (memory addresses, tqdm rates and timings, paths).
    if hasattr(config.option, "nbval_sanitize_with") and not config.option.nbval_sanitize_with:
        config.option.nbval_sanitize_with = str(SANITIZE)

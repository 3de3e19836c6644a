# Lets `pytest --nbval book/NN_topic.ipynb` use the same nbval set-up as the full suite.
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_vae_np_tests_conftest", Path(__file__).resolve().parents[1] / "tests" / "conftest.py")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
pytest_configure = _mod.pytest_configure

"""Looking inside a trained model: rate and distortion, active units, interpolation."""
from . import conditional, metrics, sampling

__all__ = ["conditional", "metrics", "sampling"]

"""Looking inside a trained model: rate and distortion, active units, interpolation."""
from . import metrics, sampling

__all__ = ["metrics", "sampling"]

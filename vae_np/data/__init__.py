"""Data sets: MNIST (the embedded subset or the full set) and synthetic moon images."""
from .mnist import MNIST, DatasetError, binarize, load_mnist
from .moons import make_moons, moon_image, moon_lit_fraction

__all__ = ["MNIST", "DatasetError", "binarize", "load_mnist", "make_moons", "moon_image",
           "moon_lit_fraction"]

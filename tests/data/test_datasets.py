"""The embedded MNIST subset: real data, stratified seeded split, binarization."""
import numpy as np
import pytest

from vae_np.data.mnist import binarize, load_mnist


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def test_embedded_mnist_shapes_range_and_stratification(mnist):
    assert mnist.X_train.shape == (4000, 784) and mnist.X_test.shape == (1000, 784)
    assert mnist.X_train.dtype == np.float32
    assert mnist.X_train.min() == 0.0 and mnist.X_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(mnist.y_test), [100] * 10)
    np.testing.assert_array_equal(np.bincount(mnist.y_train), [400] * 10)
    assert not np.all(np.diff(mnist.y_train) >= 0), "training set must be shuffled"
    # no image is in both splits
    train_rows = {r.tobytes() for r in mnist.X_train}
    assert sum(r.tobytes() in train_rows for r in mnist.X_test) <= 5  # a few duplicate digits exist


def test_split_depends_on_seed_only(mnist):
    again = load_mnist(seed=0)
    np.testing.assert_array_equal(again.X_test, mnist.X_test)
    other = load_mnist(seed=1)
    assert not np.array_equal(other.y_test, mnist.y_test)


def test_binarization():
    X = np.array([[0.0, 0.2, 0.5, 0.8, 1.0]] * 20000, np.float32)
    B = binarize(X, np.random.default_rng(0))
    assert set(np.unique(B)) <= {0.0, 1.0} and B.dtype == np.float32
    np.testing.assert_allclose(B.mean(0), X[0], atol=0.02)
    np.testing.assert_array_equal(binarize(X[:1], method="threshold"), [[0, 0, 0, 1, 1]])
    fixed = load_mnist(binarize_method="stochastic", seed=0)
    assert set(np.unique(fixed.X_test)) == {0.0, 1.0}
    np.testing.assert_array_equal(fixed.X_test, load_mnist(binarize_method="stochastic").X_test)


def test_bad_arguments():
    with pytest.raises(ValueError, match=("'source' parameter of load_mnist must be a"
                                          " str among .*Got 'kaggle'")):
        load_mnist(source="kaggle")
    with pytest.raises(ValueError, match="multiple of 10"):
        load_mnist(test_size=15)
    with pytest.raises(ValueError, match="needs rng"):
        binarize(np.zeros((1, 2)))

"""vae_np.plotting.plot_image_rows: labelled rows of images."""
import numpy as np
import pytest

from vae_np import plotting


def test_plot_image_rows_labels_each_row(plt):
    rows = [np.zeros((5, 16)), np.ones((5, 16))]
    ax = plotting.plot_image_rows(rows, ["latent", "pixels"], title="paths", shape=(4, 4))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["latent", "pixels"]
    assert ax.get_title() == "paths"
    np.testing.assert_allclose(ax.get_yticks(), [1.5, 6.5])
    assert ax.images[0].get_array().shape == (2 * 5 - 1, 5 * 5 - 1)


def test_plot_image_rows_validates(plt):
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_image_rows([np.zeros((2, 4))], ["a", "b"], shape=(2, 2))
    with pytest.raises(ValueError, match="same number"):
        plotting.plot_image_rows([np.zeros((2, 4)), np.zeros((3, 4))], ["a", "b"], shape=(2, 2))

"""The plotting functions check shapes, lengths and kinds before drawing.

An image width that does not match ``shape`` used to be reshaped into a wrong picture, labels of
another length coloured the wrong points (or none: a list compared to a scalar), a 1-D code fell
over inside matplotlib, a dict was not a history, an unfitted mixture raised an AttributeError.
Each is now an error naming the argument.
"""
import numpy as np
import pytest

import vae_np
from vae_np import plotting, prob

IMGS = np.random.default_rng(0).random((6, 16))
GMM1 = prob.GaussianMixture(1).set_params([1.0], [[0.0]], [[[1.0]]])
GMM2 = prob.GaussianMixture(1).set_params([1.0], [[0.0, 0.0]], [np.eye(2)])


def _history():
    h = vae_np.History()
    h.epoch, h.train_loss, h.val_loss = [1, 2], [3.0, 2.0], [3.5, 2.5]
    return h


@pytest.mark.parametrize("call, exc, fragment", [
    # images and the grid
    (lambda: plotting.image_grid(IMGS, 2, 3), ValueError,
     r"images have 16 pixels each, but shape=\(28, 28\) needs 784; pass shape=\(4, 4\)"),
    (lambda: plotting.image_grid(IMGS, 2, 3, shape=(4, 5)), ValueError, r"shape=\(4, 5\) needs 20"),
    (lambda: plotting.image_grid(IMGS, 2, 2, shape=(4, 4)), ValueError, "do not fit in a 2x2 grid"),
    (lambda: plotting.image_grid(IMGS, 0, 3, shape=(4, 4)), ValueError, "'nrows' parameter"),
    (lambda: plotting.image_grid(IMGS, 2, 3.0, shape=(4, 4)), TypeError, "'ncols' parameter"),
    (lambda: plotting.image_grid(IMGS, 2, 3, pad=-1, shape=(4, 4)), ValueError, "'pad' parameter"),
    (lambda: plotting.image_grid(IMGS, 2, 3, shape=16), TypeError, "'shape' parameter"),
    (lambda: plotting.image_grid(IMGS, 2, 3, shape=(4, 4, 1)), TypeError, r"'shape' .*a pair"),
    (lambda: plotting.image_grid(IMGS[0], 1, 1, shape=(4, 4)), ValueError,
     r"images must have shape \(n, h\*w\) or \(n, h, w\).*images\[None\]"),
    (lambda: plotting.image_grid(np.zeros((0, 16)), 1, 1, shape=(4, 4)), ValueError, "is empty"),
    (lambda: plotting.plot_images(IMGS, 2, 3), ValueError, "pass shape=\\(4, 4\\)"),
    (lambda: plotting.plot_images(IMGS, 2, 3, shape=(4, 4), title=3), TypeError,
     "'title' parameter"),
    (lambda: plotting.plot_images(IMGS, 2, 3, shape=(4, 4), ax="left"), TypeError,
     "'ax' parameter of plot_images must be a matplotlib Axes or None"),
    (lambda: plotting.plot_reconstructions(IMGS, IMGS[:, :9], shape=(4, 4)), ValueError,
     "X_rec have 9 pixels"),
    (lambda: plotting.plot_reconstructions(IMGS, IMGS[:5], n=3, shape=(4, 4)), ValueError,
     "X and X_rec differ"),
    (lambda: plotting.plot_reconstructions(IMGS, IMGS, n=7, shape=(4, 4)), ValueError,
     r"'n' parameter of plot_reconstructions must be an int in the range \[1, 6\].*6 images"),
    (lambda: plotting.plot_image_rows([IMGS, IMGS[:4]], ["a", "b"], shape=(4, 4)), ValueError,
     "same number of images"),
    (lambda: plotting.plot_image_rows([IMGS, IMGS[:, :9]], ["a", "b"], shape=(4, 4)), ValueError,
     r"rows\[1\] have 9 pixels"),
    (lambda: plotting.plot_image_rows([], [], shape=(4, 4)), TypeError, "'rows' parameter"),
    (lambda: plotting.plot_image_rows([IMGS], "a", shape=(4, 4)), TypeError, "'row_labels'"),
    # the latent scatter
    (lambda: plotting.plot_latent_scatter(np.zeros((5, 1)), np.arange(5)), ValueError,
     "draws two coordinates, but Z has 1"),
    (lambda: plotting.plot_latent_scatter(np.zeros((5, 2)), np.arange(4)), ValueError,
     r"labels must hold one integer .*per row of Z \(5\), got 4"),
    (lambda: plotting.plot_latent_scatter(np.zeros((5, 2)), np.linspace(0, 1, 5)), ValueError,
     "of dtype float64"),
    (lambda: plotting.plot_latent_scatter(np.zeros((5, 2)), list("abcde")), ValueError,
     "labels must be a numeric array"),
    (lambda: plotting.plot_latent_scatter(np.zeros((5, 2)), np.arange(5), s=0), ValueError,
     "'s' parameter"),
    # the manifold
    (lambda: plotting.manifold_grid(0), ValueError, "'n' parameter of manifold_grid"),
    (lambda: plotting.manifold_grid(5, lo=0.0), ValueError, "'lo' parameter"),
    (lambda: plotting.manifold_grid(5, lo=0.6, hi=0.4), ValueError, r"'hi' parameter.*0 < lo <= hi"),
    (lambda: plotting.plot_manifold(vae_np.VAE(16, [4], 3)), ValueError, "needs a 2-D latent"),
    # histories and curves
    (lambda: plotting.plot_history(vae_np.History()), ValueError, "history\\['epoch'\\] must be a "
                                                                  "non-empty"),
    (lambda: plotting.plot_history({"epoch": [1, 2], "train_loss": [1.0]}), ValueError,
     r"history\['train_loss'\] has shape \(1,\) but history\['epoch'\] has \(2,\)"),
    (lambda: plotting.plot_history({"loss": [1.0]}), TypeError, "'history' parameter"),
    (lambda: plotting.plot_history("history"), TypeError, "'history' parameter"),
    (lambda: plotting.plot_curves([1, 2, 3], {"a": [1, 2]}), ValueError,
     r"curves\['a'\] has shape \(2,\) but x has \(3,\)"),
    (lambda: plotting.plot_curves([1, 2], [1, 2]), TypeError, "'curves' parameter"),
    (lambda: plotting.plot_curves([1, 2], {"a": [1, 2]}, styles={"a": "r-"}), TypeError,
     "'styles' parameter"),
    (lambda: plotting.plot_curves(np.zeros((2, 2)), {"a": [1, 2]}), ValueError, "x must be a "
                                                                               "non-empty 1-D"),
    # mixtures and densities
    (lambda: plotting.plot_mixture_1d(GMM2, np.zeros(3)), ValueError, "has 2 dimensions"),
    (lambda: plotting.plot_mixture_1d(GMM1, np.zeros((3, 2))), ValueError, r"x must have shape"),
    (lambda: plotting.plot_mixture_1d(GMM1, np.zeros(0)), ValueError, "x is empty"),
    (lambda: plotting.plot_mixture_1d(GMM1, np.zeros(3), bins=0), ValueError, "'bins' parameter"),
    (lambda: plotting.plot_mixture_1d(GMM1, np.zeros(3), n_grid=1), ValueError, "'n_grid'"),
    (lambda: plotting.plot_density_2d(3, np.zeros((3, 2))), TypeError, "'log_density' parameter"),
    (lambda: plotting.plot_density_2d(GMM2.score_samples, np.zeros((3, 3))), ValueError,
     "X must have 2 features"),
    (lambda: plotting.plot_density_2d(GMM2.score_samples, lim=((1, 0), (0, 1))), ValueError,
     "with lo < hi"),
    (lambda: plotting.plot_density_2d(GMM2.score_samples, lim=(0, 1)), ValueError, "lim must be"),
    (lambda: plotting.plot_density_2d(lambda P: P, lim=((0, 1), (0, 1))), ValueError,
     "log_density must return one value per point"),
    (lambda: plotting.plot_density_2d(GMM2.score_samples, lim=((0, 1), (0, 1)), levels=0),
     ValueError, "'levels' parameter"),
])
def test_plot_arguments_are_checked(plt, call, exc, fragment):
    with pytest.raises(exc, match=fragment):
        call()
    assert not plt.get_fignums() or all(not plt.figure(n).axes[0].has_data()
                                        for n in plt.get_fignums() if plt.figure(n).axes)


def test_good_figures_still_draw(plt):
    plotting.plot_images(IMGS, 2, 3, shape=(4, 4))
    plotting.plot_images(IMGS.reshape(6, 4, 4), 2, 3)
    plotting.plot_reconstructions(IMGS, IMGS, n=6, shape=(4, 4))
    plotting.plot_latent_scatter(np.zeros((5, 3)), np.array([0, 1, 1, 2, 0]))
    plotting.plot_history(_history())
    plotting.plot_history(_history().as_dict())          # a dict works too
    h = _history()
    h.val_loss = []
    assert len(plotting.plot_history(h).lines) == 1
    plotting.plot_mixture_1d(GMM1, np.random.default_rng(0).standard_normal((50, 1)))
    plotting.plot_density_2d(GMM2.score_samples, np.random.default_rng(0).standard_normal((9, 2)))
    plotting.plot_density_2d(GMM2.score_samples, lim=((-1, 1), (-1, 1)), levels=[0.05, 0.1])

"""vae_np.diagrams: the conceptual figures draw (Agg backend), return their Axes, show what they
claim to show, and refuse bad arguments before drawing."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.patches import Circle, Rectangle  # noqa: E402

from vae_np import diagrams as dg  # noqa: E402
from vae_np._validation import InvalidParameterError  # noqa: E402

POST_MEAN, POST_COV = np.array([-1.0, -0.2]), np.array([[0.04, 0.018], [0.018, 0.021]])
Q_MEAN, Q_VAR = np.array([-1.0, -0.2]), np.array([0.026, 0.0137])


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_graphical_model_has_the_plate_the_nodes_and_dashed_inference_arrows():
    ax = dg.draw_graphical_model()
    assert isinstance(ax, Axes)
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == 4                                   # z, x, theta, phi
    shaded = [c for c in circles if c.get_facecolor()[:3] != (1.0, 1.0, 1.0)]
    assert len(shaded) == 1                                    # only x is observed
    assert any(isinstance(p, Rectangle) for p in ax.patches)   # the plate
    texts = _texts(ax)
    for label in ("$z$", "$x$", r"$\theta$", r"$\phi$", "$N$"):
        assert label in texts
    styles = [a.arrow_patch.get_linestyle() for a in ax.texts if hasattr(a, "arrow_patch")
              and a.arrow_patch is not None]
    assert styles.count("--") == 2 and styles.count("-") == 3   # q: x -> z, phi -> z; p: 3 solid
    ax.figure.canvas.draw()


def test_computation_graph_marks_eps_as_receiving_no_gradient():
    fig, ax = plt.subplots()
    assert dg.draw_computation_graph(ax=ax) is ax
    arrows = [a.arrow_patch for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
    red = [a for a in arrows if np.allclose(a.get_edgecolor()[:3], matplotlib.colors.to_rgb("C3"))]
    blue = [a for a in arrows if np.allclose(a.get_edgecolor()[:3],
                                             matplotlib.colors.to_rgb("C0"))]
    assert len(blue) == 1                          # eps enters z, forward only
    assert len(red) == 7                           # every parameter-dependent edge sends gradient back
    assert all(a.get_linestyle() == "--" for a in red)
    assert any("no gradient" in t for t in _texts(ax))
    fig.canvas.draw()


def test_covariance_ellipse_is_the_mahalanobis_contour():
    pts = dg.covariance_ellipse(POST_MEAN, POST_COV, n_std=2.0, n_points=400)
    d = pts - POST_MEAN
    maha = np.einsum("ni,ij,nj->n", d, np.linalg.inv(POST_COV), d)
    assert pts.shape == (400, 2) and np.allclose(maha, 4.0)
    # its extent along z_1 is mean +/- 2 sqrt(cov_11)
    assert np.isclose(pts[:, 0].max(), POST_MEAN[0] + 2 * np.sqrt(POST_COV[0, 0]), rtol=1e-4)


def test_posterior_vs_meanfield_draws_both_contours():
    ax = dg.plot_posterior_vs_meanfield(POST_MEAN, POST_COV, Q_MEAN, Q_VAR, n_std=[1.0])
    lines = [ln for ln in ax.lines if len(ln.get_xdata()) > 10]
    assert len(lines) == 2
    (px, _), (qx, _) = [(ln.get_xdata(), ln.get_ydata()) for ln in lines]
    assert np.isclose(px.max() - POST_MEAN[0], np.sqrt(POST_COV[0, 0]), rtol=1e-3)
    assert np.isclose(qx.max() - Q_MEAN[0], np.sqrt(Q_VAR[0]), rtol=1e-3)
    assert ax.get_xlabel() == "$z_1$"
    ax.figure.canvas.draw()


@pytest.mark.parametrize("kwargs, match", [
    (dict(post_mean=[0.0, 0.0, 0.0]), "shape"),
    (dict(post_cov=[[1.0, 2.0], [2.0, 1.0]]), "positive definite"),
    (dict(post_cov=[[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
    (dict(q_var=[0.1, -0.1]), "positive variances"),
    (dict(q_var=[0.1, np.nan]), "NaN"),
    (dict(n_std=[]), "non-empty"),
    (dict(n_std=[1.0, 0.0]), "positive"),
])
def test_posterior_vs_meanfield_rejects_bad_arguments(kwargs, match):
    args = dict(post_mean=POST_MEAN, post_cov=POST_COV, q_mean=Q_MEAN, q_var=Q_VAR) | kwargs
    with pytest.raises(ValueError, match=match):
        dg.plot_posterior_vs_meanfield(**args)
    assert not plt.get_fignums()                    # refused before anything was drawn


@pytest.mark.parametrize("draw", [dg.draw_graphical_model, dg.draw_computation_graph])
def test_diagrams_reject_bad_arguments(draw):
    with pytest.raises(InvalidParameterError, match="'title'"):
        draw(title=3)
    with pytest.raises(InvalidParameterError, match="'ax'"):
        draw(ax="axes")
    with pytest.raises(InvalidParameterError, match="'ax'"):
        draw(ax=Axes)


def test_ellipse_and_axes_arguments_are_checked():
    with pytest.raises(InvalidParameterError, match="'n_std'"):
        dg.covariance_ellipse(POST_MEAN, POST_COV, n_std=-1.0)
    with pytest.raises(InvalidParameterError, match="'n_points'"):
        dg.covariance_ellipse(POST_MEAN, POST_COV, n_points=2)
    with pytest.raises(InvalidParameterError, match="'n_points'"):
        dg.covariance_ellipse(POST_MEAN, POST_COV, n_points=10.0)
    with pytest.raises(InvalidParameterError, match="'xlabel'"):
        dg.plot_posterior_vs_meanfield(POST_MEAN, POST_COV, Q_MEAN, Q_VAR, xlabel=1)

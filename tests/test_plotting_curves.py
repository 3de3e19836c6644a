"""Test for vae_np.plotting.plot_curves (added with chapters 3-4)."""
import numpy as np

from vae_np.plotting import plot_curves


def test_plot_curves_labels_scales_and_legend(plt):
    x = np.array([1.0, 10.0, 100.0])
    ax = plot_curves(x, {"a": 1 / x, "b": 2 / x}, title="t", xlabel="n", ylabel="err",
                     logx=True, logy=True, styles={"a": {"color": "k"}})
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_title() == "t" and ax.get_xlabel() == "n" and ax.get_legend() is not None
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), 2 / x)
    ax1 = plot_curves(x, {"only": x})
    assert ax1.get_legend() is None

"""The latent explorer of ``book/06_latent_explorer`` computes in the browser what vae_np computes.

On the built page, in headless Chromium with no network (``tests/browser_helpers.py``; which
build and which table of contents as in ``tests/test_book_browser.py``):

* pointer events (moves without a button, a press, a drag, a release) at several points of the
  2-D latent map: the image drawn is ``vae_np``'s decode of the ``z`` under the pointer, computed
  here from the pointer position with the page's mapping (``book/_static/latent_explorer.js``)
  and decoded with the decoder exported into the page, read back by
  ``vae_np.export.load_decoder_export``; every pixel within 1/255; the readout shows that ``z``
  and its prior density;
* slider changes (set from script, and by the arrow keys) and the "random prior sample" button
  of the 8-D explorer: the image is the decode of the sliders' values;
* the walk: each step is the decode of ``(1 - t) mu_a + t mu_b`` for the chosen test images and
  model, the film strip holds every step, and "play" visits the steps one after the other;
* no request leaves the book's own folder, and the console shows no error.
"""
from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from browser_helpers import built_book, html_of, start_browser, toc_pages

from vae_np.export import array_from_base64, load_decoder_export

PAGE = "book/06_latent_explorer"
TOL = 1 / 255 + 1e-9               # one grey level


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    if PAGE not in toc_pages():
        pytest.skip(f"{PAGE} is not in the table of contents being tested")
    book = built_book()
    html = html_of(book, PAGE)
    browser = start_browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        browser.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900,
                     "deviceScaleFactor": 1, "mobile": False}, session=True)
        browser.open(html.as_uri())
        ready = browser.evaluate("""(async () => {
            for (let i = 0; i < 200; i++) {
              if (['map', 'sliders', 'walk'].every(w =>
                    (document.querySelector(`.vae-explorer[data-widget="${w}"]`) || {dataset: {}})
                    .dataset.z)) return true;
              await new Promise(r => setTimeout(r, 50));
            }
            return false; })()""")
        assert ready, f"{html}: the three explorers did not start: {browser.console_errors()}"
        data = json.loads(browser.evaluate(
            "document.getElementById('vae-latent-data').textContent"))
        decoders = {key: load_decoder_export(m["decoder"]) for key, m in data["models"].items()}
        yield browser, data, decoders, book
    finally:
        browser.close()


def _pixels(browser, selector):
    """The R channel of a 28x28 digit canvas, as grey levels in [0, 1] (1 = white)."""
    rgba = browser.evaluate(f"""(() => {{
        const c = document.querySelector({json.dumps(selector)});
        return Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data); }})()""")
    rgba = np.array(rgba, dtype=float).reshape(784, 4)
    assert (rgba[:, 3] == 255).all() and (rgba[:, 0] == rgba[:, 1]).all() \
        and (rgba[:, 1] == rgba[:, 2]).all()
    return rgba[:, 0] / 255


def _assert_draws(browser, selector, decoder, z, where):
    """The canvas shows decoder.decode(z), black ink (p = 1) on white, within one grey level."""
    want = 1 - decoder.decode(np.asarray(z, dtype=np.float64)[None].astype(np.float32))[0]
    got = _pixels(browser, selector)
    err = np.abs(got - want)
    assert err.max() <= TOL, (f"{where}: pixel {int(err.argmax())} is {got[err.argmax()]:.4f}, "
                              f"vae_np decodes {want[err.argmax()]:.4f} (z = {list(z)})")
    assert np.mean(err <= 0.5 / 255 + 1e-6) > 0.99     # nearly all pixels round the same way


def _page_z(browser, widget):
    text = browser.evaluate(f"document.querySelector('.vae-explorer[data-widget=\"{widget}\"]')"
                            ".dataset.z")
    return np.array([float(v) for v in text.split(",")])


def _signed(v):
    """A number as the page prints it, with a minus sign (U+2212) and three decimals."""
    return ("\u2212" if v < 0 else "") + f"{abs(v):.3f}"


def _mouse(browser, kind, x, y, buttons=0):
    button = "left" if kind in ("mousePressed", "mouseReleased") or buttons else "none"
    browser.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": button,
                                              "buttons": buttons, "clickCount": 1}, session=True)


def _assert_quiet(browser, book):
    browser.drain(0.2)
    errors = browser.console_errors()
    assert not errors, f"the browser console shows errors: {errors}"
    own = book.as_uri() + "/"
    outside = [u for u in browser.requests() if not u.startswith((own, "data:"))]
    assert not outside, f"the page made requests outside the book's folder: {outside}"


def test_map_decodes_the_point_under_the_pointer(explorer):
    browser, data, decoders, book = explorer
    dec = decoders["2d"]
    root = '.vae-explorer[data-widget="map"]'
    R = float(browser.evaluate(f"document.querySelector('{root}').dataset.range"))
    browser.evaluate(f"document.querySelector('{root} canvas.vae-map')"
                     ".scrollIntoView({block: 'center'})")
    rect = browser.evaluate(f"""(() => {{ const r = document.querySelector('{root} canvas.vae-map')
        .getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }})()""")
    left, top, width, height = rect
    assert width > 100 and height > 100

    def z_of(x, y):                          # the page's mapping (latent_explorer.js)
        return np.array([-R + 2 * R * (x - left) / width, R - 2 * R * (y - top) / height])

    def check(x, y, where):
        z = z_of(x, y)
        np.testing.assert_allclose(_page_z(browser, "map"), z, atol=1e-9, err_msg=where)
        _assert_draws(browser, f"{root} canvas.vae-digit", dec, z, where)
        readout = browser.evaluate(f"document.querySelector('{root} .vae-readout').textContent")
        shown = re.search(r"p\(z\) = ([0-9.e+-]+)", readout)
        assert shown, readout
        density = np.exp(-0.5 * (z ** 2).sum()) / (2 * np.pi)
        assert float(shown.group(1)) == pytest.approx(density, rel=6e-3), (readout, z)
        shown_z = f"z = ({_signed(z[0])}, {_signed(z[1])})"
        assert shown_z in readout, (readout, z)

    points = [(0.5, 0.5), (0.23, 0.31), (0.81, 0.74), (0.12, 0.88), (0.66, 0.17), (0.5, 0.95)]
    for fx, fy in points:                    # hover: moves without a button
        x, y = round(left + fx * width), round(top + fy * height)
        _mouse(browser, "mouseMoved", x, y)
        check(x, y, f"pointer moved to ({fx}, {fy}) of the map")
    # a drag: press, move with the button held, release
    path = [(0.3, 0.6), (0.4, 0.55), (0.55, 0.45), (0.7, 0.35)]
    x, y = round(left + path[0][0] * width), round(top + path[0][1] * height)
    _mouse(browser, "mousePressed", x, y, buttons=1)
    check(x, y, "pointer pressed")
    for fx, fy in path[1:]:
        x, y = round(left + fx * width), round(top + fy * height)
        _mouse(browser, "mouseMoved", x, y, buttons=1)
        check(x, y, f"pointer dragged to ({fx}, {fy})")
    _mouse(browser, "mouseReleased", x, y)
    check(x, y, "pointer released")
    _assert_quiet(browser, book)


def test_sliders_decode_their_values(explorer):
    browser, data, decoders, book = explorer
    root = '.vae-explorer[data-widget="sliders"]'
    key = browser.evaluate(f"document.querySelector('{root}').dataset.model")
    dec = decoders[key]
    n = browser.evaluate(f"document.querySelectorAll('{root} input.vae-slider').length")
    assert n == dec.latent_dim

    def slider_values():
        return np.array(browser.evaluate(
            f"[...document.querySelectorAll('{root} input.vae-slider')].map(s => s.valueAsNumber)"))

    def check(where):
        z = slider_values()
        np.testing.assert_allclose(_page_z(browser, "sliders"), z, atol=1e-12, err_msg=where)
        _assert_draws(browser, f"{root} canvas.vae-digit", dec, z, where)
        return z

    z = check("at the start")
    assert not z.any()
    rng = np.random.default_rng(0)
    for trial in range(3):                   # change the sliders one by one, from script
        values = np.round(rng.uniform(-3, 3, n), 2)
        for i, v in enumerate(values):
            browser.evaluate(f"""(() => {{
                const s = document.querySelectorAll('{root} input.vae-slider')[{i}];
                s.value = '{v}'; s.dispatchEvent(new Event('input', {{bubbles: true}})); }})()""")
            if i in (0, n - 1):
                check(f"trial {trial}, after slider {i}")
        np.testing.assert_allclose(check(f"trial {trial}"), values, atol=1e-12)
    # the keyboard: focus the third slider and press the right arrow five times
    browser.evaluate(f"document.querySelectorAll('{root} input.vae-slider')[2].focus()")
    before = slider_values()[2]
    for _ in range(5):
        for kind in ("keyDown", "keyUp"):
            browser.call("Input.dispatchKeyEvent", {"type": kind, "key": "ArrowRight",
                         "code": "ArrowRight", "windowsVirtualKeyCode": 39}, session=True)
    assert slider_values()[2] == pytest.approx(before + 0.05)
    check("after five presses of the right arrow")
    samples = []
    for trial in range(4):                   # the random prior sample button
        browser.evaluate(f"[...document.querySelectorAll('{root} button')]"
                         ".find(b => b.textContent.includes('random')).click()")
        samples.append(check(f"random prior sample {trial}"))
    samples = np.array(samples)
    assert len({tuple(s) for s in samples}) == 4 and np.abs(samples).max() <= 4
    browser.evaluate(f"[...document.querySelectorAll('{root} button')]"
                     ".find(b => b.textContent.includes('origin')).click()")
    assert not check("back to the origin").any()
    _assert_quiet(browser, book)


def test_walk_decodes_each_step_and_plays(explorer):
    browser, data, decoders, book = explorer
    root = '.vae-explorer[data-widget="walk"]'
    walk = data["walk"]
    N, labels = walk["steps"], walk["labels"]
    mu = {key: array_from_base64(walk[f"mu_{key}"], (len(labels), decoders[key].latent_dim))
          for key in decoders}

    def choose(key, i, j):
        browser.evaluate(f"""(() => {{
            const r = document.querySelector('{root}');
            const [from, to] = r.querySelectorAll('select');
            from.value = '{i}'; from.dispatchEvent(new Event('change'));
            to.value = '{j}'; to.dispatchEvent(new Event('change'));
            r.querySelector('input[type=radio][value="{key}"]').click(); }})()""")

    def set_step(s):
        browser.evaluate(f"""(() => {{ const s = document.querySelector('{root} input.vae-step');
            s.value = '{s}'; s.dispatchEvent(new Event('input', {{bubbles: true}})); }})()""")

    def z_at(key, i, j, s):                  # the page's z_t, in float64 then rounded
        t = s / N
        a, b = mu[key][i].astype(np.float64), mu[key][j].astype(np.float64)
        return ((1 - t) * a + t * b).astype(np.float32)

    for key, i, j in [("2d", walk["start"], walk["end"]), ("8d", 6, 16), ("2d", 9, 18)]:
        choose(key, i, j)
        for s in (0, 1, N // 2, N - 1, N):
            set_step(s)
            z = z_at(key, i, j, s)
            where = f"{key} walk from {labels[i]} to {labels[j]}, step {s}"
            np.testing.assert_allclose(_page_z(browser, "walk"), z, rtol=0, atol=0, err_msg=where)
            _assert_draws(browser, f"{root} canvas.vae-frame", decoders[key], z, where)
            _assert_draws(browser, f"{root} canvas.vae-strip:nth-of-type({s + 1})",
                          decoders[key], z, where + " (film strip)")

    # play: the steps come one after the other, and the walk ends on the second image's code
    key, i, j = "8d", 6, 16
    choose(key, i, j)
    set_step(0)
    seen = browser.evaluate(f"""(async () => {{
        const r = document.querySelector('{root}'), seen = [r.dataset.step];
        r.querySelector('button.vae-play').click();
        const t0 = Date.now();
        while (Date.now() - t0 < 30000) {{
          await new Promise(res => setTimeout(res, 20));
          if (r.dataset.step !== seen[seen.length - 1]) seen.push(r.dataset.step);
          if (r.dataset.step === '{N}' && r.querySelector('button.vae-play')
                .textContent.includes('play')) break;
        }}
        return seen; }})()""", timeout=60)
    assert [int(s) for s in seen] == list(range(N + 1)), f"play visited the steps {seen}"
    _assert_draws(browser, f"{root} canvas.vae-frame", decoders[key], z_at(key, i, j, N),
                  "the end of the played walk")
    time.sleep(0.1)
    _assert_quiet(browser, book)

"""The built book renders with no network, checked in a real (headless) browser.

What is checked, page by page (every page listed in ``_toc.yml``):

* MathJax is loaded from the book's own ``_static/mathjax`` (the ``sphinx-mathjax-offline``
  extension), never from a CDN; the browser runs with every host name unresolvable, so a CDN
  MathJax would not load at all.
* Every equation is typeset: the number of math elements in the page is at least the number of
  math blocks in the source (parsed with the same MyST parser and extensions as the book), each
  holds an ``mjx-container``, MathJax reports no TeX error, and no raw ``\\(``, ``\\[``, ``$$`` or
  ``\\begin{`` is left in the rendered text.
* Every ``<img>`` loaded (``complete`` and a non-zero natural width) from a local file.
* The browser console is clean: no uncaught exception, no ``console.error`` and no error entry
  of the browser's own log (such as a resource that failed to load) while the page loads and
  typesets. (Two errors that every page once logged were fixed in ``_config.yml``: thebe's
  configuration script emitted twice, and pydata-sphinx-theme's empty default mode.)

Static checks of the sources and the build (no browser needed): the intro links every chapter,
every page has a title and a short "What you will learn" list, every citation key exists in
``book/references.bib`` and the glossary holds the core terms with their Chinese equivalents.

Which build is tested:

* ``VAE_NP_BOOK_HTML=/path/to/_build/html``: that build (CI builds the book first with
  ``-W -n --keep-going`` and then runs this file against it, so nothing is built twice);
* ``VAE_NP_BOOK_TOC=/tmp/toc_mine.yml``: check only the pages of that table of contents (the
  build must have been made with it: ``jupyter-book build . --toc /tmp/toc_mine.yml``);
* otherwise ``_build/html`` of this repository, as the README's first command builds it; when
  there is none, the browser tests are skipped with that reason (building the book here would
  execute every notebook a second time during ``pytest --nbval``).

The browser is Debian's ``chromium`` (``apt-get install -y chromium``; ``VAE_NP_CHROMIUM`` may
name another binary). Without it the browser tests are skipped with a reason, except when
``CI=true``, where a missing browser is a failure. The browser is driven through the DevTools
protocol over a pipe (``--remote-debugging-pipe``), so no extra Python package is needed; the
helpers for all of this live in ``tests/browser_helpers.py``, shared with
``tests/test_explorer_browser.py``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from browser_helpers import ROOT, built_book, html_of, start_browser, toc_pages

# ------------------------------------------------------------------------------------ the book
PAGES = toc_pages()


def source_of(docname):
    for ext in (".md", ".ipynb"):
        p = ROOT / (docname + ext)
        if p.exists():
            return p
    raise FileNotFoundError(f"_toc.yml lists {docname!r} but neither {docname}.md nor "
                            f"{docname}.ipynb exists")


def markdown_texts(path):
    """The Markdown of a page: the whole .md file, or the notebook's markdown cells."""
    if path.suffix == ".md":
        return [path.read_text(encoding="utf-8")]
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def _md_parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser
    conf = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    ext = set(conf.get("parse", {}).get("myst_enable_extensions", []))
    return create_md_parser(MdParserConfig(enable_extensions=ext), RendererHTML)


MATH_TOKENS = {"math_inline", "math_inline_double", "math_block", "math_block_label", "amsmath"}


def count_source_math(path):
    """Number of math blocks (inline and display) in a page's Markdown, as MyST parses them.

    Math inside directives (e.g. a ``{glossary}`` or an admonition) is parsed by Sphinx later, so
    directive bodies are parsed recursively here as well.
    """
    md = _md_parser()

    def count(text):
        n = 0
        stack = list(md.parse(text))
        while stack:
            t = stack.pop()
            if t.type in MATH_TOKENS:
                n += 1
            if t.children:
                stack.extend(t.children)
            if t.type == "fence" and t.info.startswith("{") and t.info.split("}")[0] not in (
                    "{code-cell", "{code-block", "{code", "{literalinclude"):
                body = "\n".join(line for line in t.content.splitlines()
                                 if not line.startswith(":"))
                n += count(body)
        return n

    return sum(count(text) for text in markdown_texts(path))


@pytest.fixture(scope="session")
def book_html():
    """The ``_build/html`` folder to test (see the module docstring)."""
    return built_book()


# ------------------------------------------------------------------------------------ static
def test_toc_pages_exist():
    for page in PAGES:
        source_of(page)


@pytest.mark.parametrize("page", PAGES)
def test_page_has_title_and_what_you_will_learn(page):
    path = source_of(page)
    text = markdown_texts(path)[0].lstrip()
    assert text.startswith("# ") and len(text.splitlines()[0]) > 3, (
        f"{path.name}: the first {'cell' if path.suffix == '.ipynb' else 'line'} must start with "
        "a '# Title'")
    m = re.search(r"what you will learn", text, re.IGNORECASE)
    assert m, f"{path.name}: the opening text needs a 'What you will learn' list"
    after = text[m.end():].splitlines()[1:]
    items = []
    for line in after:
        if re.match(r"\s*([-*+]|\d+[.)])\s+\S", line):
            items.append(line)
        elif line.strip() and not items:
            continue          # e.g. a blank line or a lead-in sentence before the list
        elif line.strip() and not line.startswith((" ", "\t")):
            break             # the list has ended
    assert 2 <= len(items) <= 10, (
        f"{path.name}: 'What you will learn' should be followed by a short bulleted list "
        f"(2 to 10 items), found {len(items)}")


def test_intro_links_every_page(book_html):
    intro = html_of(book_html, PAGES[0]).read_text(encoding="utf-8")
    body = intro.split('<article', 1)[-1]
    hrefs = {h.split("#")[0] for h in re.findall(r'href="([^"]+)"', body)}
    base = Path(PAGES[0]).parent
    for page in PAGES[1:]:
        rel = os.path.relpath(page + ".html", base)
        assert rel in hrefs, f"the intro page does not link {page} (expected a link to {rel})"


def _bib_keys():
    return set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text(
        encoding="utf-8"), re.MULTILINE))


@pytest.mark.parametrize("page", PAGES)
def test_citations_exist(page):
    keys = _bib_keys()
    text = "\n".join(markdown_texts(source_of(page)))
    cited = set()
    for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
        cited.update(k.strip() for k in group.split(","))
    missing = sorted(cited - keys)
    assert not missing, f"{page} cites {missing}, which are not in book/references.bib"


def test_citations_resolve_in_build(book_html):
    for page in PAGES:
        html = html_of(book_html, page).read_text(encoding="utf-8")
        assert "[?]" not in html and 'class="pending_xref' not in html, (
            f"{page}: an unresolved citation or reference is left in the built page")


def test_mathjax_is_local_in_every_page(book_html):
    assert (book_html / "_static" / "mathjax" / "tex-chtml.js").exists(), (
        "the build has no _static/mathjax/tex-chtml.js: is sphinx-mathjax-offline in "
        "_config.yml sphinx.extra_extensions (spelled 'sphinx-mathjax-offline')?")
    for page in PAGES:
        html = html_of(book_html, page).read_text(encoding="utf-8")
        srcs = [s for s in re.findall(r'<script[^>]*src="([^"]+)"', html) if "mathjax" in s.lower()]
        assert srcs, f"{page}: no MathJax script"
        for s in srcs:
            assert not re.match(r"(https?:)?//", s), f"{page}: MathJax is loaded from {s}"


def test_glossary_terms():
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    assert "```{glossary}" in text
    for zh, en in [("潜在编码", "latent code"), ("重参数化", "reparameterization"),
                   ("变分下界", "variational lower bound"), ("编码器", "encoder"),
                   ("解码器", "decoder"), ("KL 散度", "KL divergence"),
                   ("变分自编码器", "variational autoencoder"), ("先验", "prior")]:
        assert zh in text and en in text, f"the glossary lacks {en} ({zh})"
    assert "book/glossary" in (ROOT / "_toc.yml").read_text(encoding="utf-8"), (
        "book/glossary is not in _toc.yml")
    assert "{doc}`glossary`" in (ROOT / "book" / "intro.md").read_text(encoding="utf-8"), (
        "book/intro.md does not link the glossary")


# ------------------------------------------------------------------------------------ browser
# Runs in the page once it has loaded: waits for MathJax's first typesetting pass and for every
# image, then reports what the checks need.
INSPECT_JS = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const deadline = Date.now() + %(wait_ms)d;
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() < deadline)
    await sleep(50);
  const mathjaxStarted = !!(window.MathJax && MathJax.startup && MathJax.startup.promise);
  if (mathjaxStarted) await MathJax.startup.promise;
  const article = document.querySelector('article') || document.querySelector('main')
                  || document.body;
  const imgs = [...article.querySelectorAll('img')];
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null
      : new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })));
  const maths = [...article.querySelectorAll('.math')];
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, .highlight, mjx-container, script, style')
       .forEach(e => e.remove());
  const text = clone.textContent;
  const raw = ['\\(', '\\[', '$$', '\\begin{'].filter(s => text.includes(s));
  return {
    mathjaxStarted,
    mathjaxScripts: [...document.scripts].map(s => s.src).filter(s => /mathjax/i.test(s)),
    remoteResources: performance.getEntriesByType('resource').map(e => e.name)
                     .filter(n => !n.startsWith('file:') && !n.startsWith('data:')),
    nMath: maths.length,
    nTypeset: maths.filter(m => m.querySelector('mjx-container')).length,
    untypeset: maths.filter(m => !m.querySelector('mjx-container'))
                    .slice(0, 3).map(m => m.textContent.slice(0, 80)),
    nContainers: article.querySelectorAll('mjx-container').length,
    texErrors: [...article.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error')
                                                                    || e.textContent).slice(0, 3),
    raw,
    rawContext: raw.map(s => text.slice(Math.max(0, text.indexOf(s) - 60), text.indexOf(s) + 60)),
    images: imgs.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0,
                            width: i.naturalWidth})),
    title: document.title,
    h1: (article.querySelector('h1') || {textContent: ''}).textContent.trim(),
  };
})()
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = start_browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_offline(page, browser, book_html):  # no build when no browser
    html = html_of(book_html, page)
    browser.open(html.as_uri())
    r = browser.evaluate(INSPECT_JS % {"wait_ms": 15000})
    where = f"{page} ({html})"

    assert r["mathjaxScripts"], f"{where}: no MathJax script in the page"
    for src in r["mathjaxScripts"]:
        assert src.startswith("file:") and "/_static/mathjax/" in src, (
            f"{where}: MathJax is loaded from {src}, not from the book's _static folder; "
            "offline readers would see raw TeX (is sphinx-mathjax-offline in _config.yml?)")
    assert not r["remoteResources"], f"{where}: the page fetched {r['remoteResources']}"
    assert r["mathjaxStarted"], f"{where}: MathJax did not start (script missing or broken)"

    n_source = count_source_math(source_of(page))
    assert r["nMath"] >= n_source, (
        f"{where}: the source has {n_source} math blocks but the page only {r['nMath']} math "
        "elements (is dollarmath/amsmath enabled?)")
    assert r["nTypeset"] == r["nMath"], (
        f"{where}: {r['nMath'] - r['nTypeset']} of {r['nMath']} equations were not typeset, "
        f"e.g. {r['untypeset']}")
    assert r["nContainers"] >= n_source
    assert not r["texErrors"], f"{where}: MathJax reports TeX errors: {r['texErrors']}"
    assert not r["raw"], f"{where}: raw TeX left in the text: {r['rawContext']}"

    bad = [i for i in r["images"] if not i["ok"]]
    assert not bad, f"{where}: images that did not load: {bad}"
    for i in r["images"]:
        assert i["src"].startswith(("file:", "data:")), f"{where}: remote image {i['src']}"

    assert r["h1"], f"{where}: the page has no <h1> title"
    assert r["title"].strip(), f"{where}: the page has no <title>"

    browser.drain(0.3)                   # late messages, e.g. from a timer
    errors = browser.console_errors()
    assert not errors, f"{where}: the browser console shows errors: {errors}"

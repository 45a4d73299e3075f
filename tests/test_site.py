"""The course website, built and then read in a real browser (headless Chromium).

Builds the site as `make site` does (tools/site.py, then `mkdocs build --strict`),
serves it on 127.0.0.1 and checks what a learner would hit: every lesson and
exercise page loads without a console error, every plot on it is drawn, its math
is typeset, its "Open in Colab" and "Download notebook" links are right, search
finds "attention", and no internal link is broken. Screenshots of the home page
and a lesson go to test-artifacts/. The API reference has an entry for every public
name, of the right kind (a function documented as a function, not as a submodule).

Needs Chromium and its driver: `apt-get install chromium chromium-driver`.
"""

import functools
import http.server
import importlib
import inspect
import re
import shutil
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
REPO_URL = re.search(r"^repo_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(), flags=re.M).group(1)
OWNER_REPO = REPO_URL.removeprefix("https://github.com/").rstrip("/")
NOTEBOOKS = sorted(
    f"{folder}/{path.stem}"
    for folder in ("course", "exercises")
    for path in (ROOT / folder).glob("[0-9][0-9]_*.ipynb")
)

# The modules whose public names the API reference must document: the library, then the
# course tooling. A public name is one in the module's `__all__`.
PUBLIC_MODULES = (
    "keraskit",
    "keraskit.layers",
    "keraskit.models",
    "keraskit.training",
    "keraskit.validation",
    "keraskit.course.data",
    "keraskit.course.viz",
    "keraskit.course.grading",
)

# True once KaTeX has typeset every formula that pymdownx.arithmatex marked on the page.
MATH_TYPESET = "[...document.querySelectorAll('.arithmatex')].every(e => e.querySelector('.katex'))"


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The built site: its folder and the address it is served at."""
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python", "nbconvert", "selenium"):
        try:
            __import__(module)
        except ImportError:
            pytest.fail(f"`{module}` is missing: pip install -e '.[site]'")
    folder = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "tools/site.py"], cwd=ROOT, check=True)
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stderr[-4000:]}"

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: the site test drives headless Chromium. "
            "Install it with `apt-get install chromium chromium-driver` (as root)."
        )
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(driver, script, timeout=20):
    """Waits until the JavaScript expression `script` is true in the page."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(f"return {script}"))


def console_errors(driver):
    """Severe console messages. Offline, Material's request for the repository's
    star count (to api.github.com) cannot succeed; that one is not the site's fault."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "api.github.com" not in entry["message"]
    ]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_page(site, browser, notebook):
    folder, base = site
    browser.get_log("browser")  # forget the previous page's messages
    browser.get(f"{base}{notebook}/")
    number = notebook.split("/")[1][:2]
    assert f"{number} · " in browser.title, f"the page's title is not the notebook's: {browser.title}"

    # Every plot is drawn: loaded, and not a broken-image placeholder.
    wait_for(browser, "[...document.images].every(img => img.complete)")
    images = browser.execute_script(
        "return [...document.querySelectorAll('article img')].map(i => [i.src, i.naturalWidth])"
    )
    assert [src for src, width in images if width == 0] == [], "images that did not load"

    # Every formula is typeset by KaTeX, none left as raw TeX or shown as an error.
    formulas = browser.execute_script("return document.querySelectorAll('.arithmatex').length")
    if notebook.startswith("course/"):
        assert formulas > 0, "a lesson without math? arithmatex found no $...$"
    wait_for(browser, MATH_TYPESET)
    assert browser.execute_script("return document.querySelectorAll('.katex-error').length") == 0
    toc = browser.execute_script("return document.querySelector('.md-sidebar--secondary').innerText")
    assert "\\(" not in toc, f"raw TeX in the table of contents: {toc}"

    # "Open in Colab" opens this notebook of this repository; "Download notebook" is on the site.
    links = dict(
        browser.execute_script(
            "return [...document.querySelectorAll('a.md-button')].map(a => [a.textContent.trim(), a.href])"
        )
    )
    assert links["Open in Colab"] == (
        f"https://colab.research.google.com/github/{OWNER_REPO}/blob/main/{notebook}.ipynb"
    )
    download = urlsplit(links["Download notebook"]).path
    assert download == f"/{notebook}.ipynb"
    assert (folder / download.lstrip("/")).read_bytes() == (ROOT / f"{notebook}.ipynb").read_bytes()

    assert console_errors(browser) == []


def test_search_finds_attention(site, browser):
    _, base = site
    browser.get(base)
    box = browser.find_element("css selector", "input.md-search__input")
    box.click()  # the search box in the header, as a learner would
    box.send_keys("attention")
    wait_for(browser, "document.querySelectorAll('.md-search-result__item').length > 0", timeout=30)
    results = browser.execute_script(
        "return [...document.querySelectorAll('.md-search-result__item a')].map(a => a.href)"
    )
    assert any("/course/03_attention/" in url for url in results), results
    assert console_errors(browser) == []


def test_home_and_lesson_screenshots(site, browser):
    """Screenshots for a person to look at, in test-artifacts/."""
    _, base = site
    ARTIFACTS.mkdir(exist_ok=True)
    shots = (
        ("site-home.png", "", None),
        ("site-lesson-03.png", "course/03_attention/", None),
        ("site-lesson-03-plot.png", "course/03_attention/", "article img"),
    )
    for name, path, scroll_to in shots:
        browser.get(base + path)
        wait_for(browser, "[...document.images].every(img => img.complete)")
        wait_for(browser, MATH_TYPESET)
        if scroll_to:
            top = browser.execute_script(f"return document.querySelector('{scroll_to}').offsetTop")
            browser.execute_script(f"scrollTo(0, {top} - 80)")  # its top just under the header
            time.sleep(0.5)  # the header's title changes as the page scrolls
        assert browser.save_screenshot(str(ARTIFACTS / name))
    assert console_errors(browser) == []


class Links(HTMLParser):
    """The href and src attributes of a page, and the stylesheets and scripts it loads."""

    def __init__(self):
        super().__init__()
        self.links, self.assets = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in ("img", "script") and attrs.get("src"):
            self.assets.append(attrs["src"])
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.assets.append(attrs["href"])


def test_no_broken_internal_link_and_no_cdn(site):
    folder, base = site
    pages = sorted(folder.rglob("*.html"))
    assert len(pages) >= len(NOTEBOOKS) + 3
    broken, external = [], []
    for page in pages:
        parser = Links()
        parser.feed(page.read_text())
        url = base + page.relative_to(folder).as_posix()
        for link in parser.links + parser.assets:
            target = urlsplit(urljoin(url, link))
            if not url.startswith(f"{target.scheme}://{target.netloc}/"):
                if link in parser.assets:
                    external.append(f"{page.relative_to(folder)}: {link}")
                continue
            path = folder / unquote(target.path).lstrip("/")
            if not (path / "index.html" if path.is_dir() else path).is_file():
                broken.append(f"{page.relative_to(folder)}: {link}")
    assert broken == [], "internal links to nothing"
    assert external == [], "scripts, styles or images from another site (the site must work offline)"


def public_names(module_name):
    """{"keraskit.layers.Patches": "class", ...}: each public name of the module, imported,
    with the kind of heading mkdocstrings gives it. A module without `__all__` exports the
    functions and classes it defines (tools/site.py reads `__all__` the same way)."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, obj in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module_name
        ]
    kinds = {}
    for name in names:
        obj = getattr(module, name)
        kinds[f"{module_name}.{name}"] = (
            "module"
            if inspect.ismodule(obj)
            else "class"
            if inspect.isclass(obj)
            else "function"
            if inspect.isfunction(obj)
            else "attribute"
        )
    return kinds


def documented(folder):
    """{"keraskit.layers.Patches": "class", ...}: every entry of the built API reference,
    from mkdocstrings' headings (`<h2 id="..." class="doc doc-heading">` followed by the
    symbol badge `doc-symbol-class`)."""
    heading = re.compile(
        r'<h\d id="([^"]+)" class="doc doc-heading">\s*'
        r'<code class="doc-symbol doc-symbol-heading doc-symbol-(\w+)">'
    )
    return {
        name: kind
        for page in (folder / "api").rglob("index.html")
        for name, kind in heading.findall(page.read_text())
    }


def not_in_reference(expected, entries):
    """The names of `expected` that `entries` lacks, or documents as another kind."""
    return sorted(
        f"{name} ({kind}, documented as {entries[name]})" if name in entries else name
        for name, kind in expected.items()
        if entries.get(name) != kind
    )


def test_api_reference_documents_every_public_name(site):
    folder, _ = site
    entries = documented(folder)
    expected = {}
    for module in PUBLIC_MODULES:
        expected.update(public_names(module))
    assert len(expected) > 60, f"too few public names found: {sorted(expected)}"
    missing = not_in_reference(expected, entries)
    assert missing == [], (
        f"public names without their entry in the API reference (site/api/): {missing}. "
        "Is `__all__` a literal list, and does no submodule share the name? See tools/site.py."
    )

    # The check itself can fail: a name that is not documented, a function documented as a
    # submodule of the same name (the 0.1 reference's `keraskit.models.vit`).
    assert not_in_reference({"keraskit.layers.NotALayer": "class"}, entries) == ["keraskit.layers.NotALayer"]
    assert not_in_reference({"keraskit.models.vit": "module"}, entries) == [
        "keraskit.models.vit (module, documented as function)"
    ]

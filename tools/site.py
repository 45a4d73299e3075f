"""Turn the course notebooks into Markdown pages for the website.

    python tools/site.py        # then: mkdocs build --strict   (or just `make site`)

Every notebook in course/ and exercises/ becomes docs/<folder>/<name>.md, with its
plots in docs/<folder>/<name>_files/. nbconvert's MarkdownExporter converts the
outputs *stored* in the notebook: nothing is executed here, so the site shows exactly
what `make notebooks` stored, and rendering all of them takes seconds. solutions/ is
never rendered.

Each page starts with an "Open in Colab" and a "Download notebook" link. Both come
from `repo_url` in mkdocs.yml, so a fork changes that one line. A copy of the
notebook sits next to its page, so the download link works on the site itself.

docs/course/ and docs/exercises/ are generated (and git-ignored): edit the notebooks.
"""

import posixpath
import re
import shutil
from pathlib import Path

import jinja2
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FOLDERS = ("course", "exercises")  # never solutions/
COLAB = "https://colab.research.google.com/github"

# nbconvert's Markdown, with what a cell printed in ```output blocks, so that the site can
# show it apart from the code (docs/assets/stylesheets/extra.css).
TEMPLATE = """{% extends 'markdown/index.md.j2' %}
{% block stream %}
```output
{{ output.text.rstrip() | strip_ansi }}
```
{% endblock stream %}
{% block data_text scoped %}
```output
{{ output.data['text/plain'].rstrip() | strip_ansi }}
```
{% endblock data_text %}
"""


def repo_url():
    """`repo_url` from mkdocs.yml, e.g. https://github.com/keraskit/keraskit."""
    match = re.search(r"^repo_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(), flags=re.M)
    return match.group(1).rstrip("/")


def fix_links(markdown, folder, repo):
    """Links between notebooks become links between pages; any other relative link
    (a folder or a file of the repository) goes to the file on GitHub."""

    def replace(match):
        text, target = match.group(1), match.group(2)
        if re.match(r"[a-z]+:|#", target):  # https:, mailto:, an anchor: keep
            return match.group(0)
        path = posixpath.normpath(f"{folder}/{target}")  # e.g. course/../bench/ -> bench
        top, _, name = path.partition("/")
        if top in FOLDERS and name.endswith(".ipynb") and (ROOT / path).exists():
            return f"[{text}]({target[: -len('.ipynb')]}.md)"
        return f"[{text}]({repo}/blob/main/{path})"

    return re.sub(r"\[([^\]]*)\]\(([^)\s]+)\)", replace, markdown)


def blank_line_before_lists(source):
    """Jupyter starts a list right after a line of text; Python-Markdown needs a blank line."""
    return re.sub(r"^([^\s\-*>|].*)\n(\s{0,3}(?:[-*]|\d+\.) )", r"\1\n\n\2", source, flags=re.M)


def header(notebook, repo):
    """The two links under the title, as Material buttons."""
    owner_repo = repo.removeprefix("https://github.com/")
    colab = f"{COLAB}/{owner_repo}/blob/main/{notebook.parent.name}/{notebook.name}"
    download = notebook.name  # the copy next to the page
    return (
        f"[:simple-googlecolab: Open in Colab]({colab}){{ .md-button .md-button--primary }}\n"
        f"[:material-download: Download notebook]({download}){{ .md-button download='{download}' }}\n"
    )


def render(notebook, out_dir, repo, exporter):
    """One notebook -> out_dir/<name>.md, its images, and a copy of the .ipynb."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = fix_links(blank_line_before_lists(cell.source), notebook.parent.name, repo)
    body, resources = exporter.from_notebook_node(
        nb, resources={"output_files_dir": f"{notebook.stem}_files", "unique_key": notebook.stem}
    )
    for filename, data in resources["outputs"].items():
        (out_dir / filename).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / filename).write_bytes(data)
    shutil.copy(notebook, out_dir / notebook.name)

    title, _, rest = body.lstrip().partition("\n")  # the `# NN · Title` line stays first
    note = ""
    has_outputs = any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
    if notebook.parent.name == "course" and not has_outputs:
        note = ("\n!!! note \"Outputs not stored yet\"\n    This page shows the lesson's code "
                "without its results: run the notebook to see them.\n")
    (out_dir / f"{notebook.stem}.md").write_text(f"{title}\n\n{header(notebook, repo)}{note}\n{rest}")


def main():
    repo = repo_url()
    exporter = MarkdownExporter(extra_loaders=[jinja2.DictLoader({"site.md.j2": TEMPLATE})],
                                template_file="site.md.j2")
    for folder in FOLDERS:
        out_dir = DOCS / folder
        shutil.rmtree(out_dir, ignore_errors=True)  # no page left over from a renamed notebook
        out_dir.mkdir(parents=True)
        notebooks = sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))
        for notebook in notebooks:
            render(notebook, out_dir, repo, exporter)
        print(f"{folder}/: {len(notebooks)} notebooks -> {out_dir.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()

"""A Griffe extension for the API reference: show docstring examples as Python code.

keraskit writes its `>>>` examples flush under `Example:` (pytest runs them as
doctests). mkdocstrings would hand them to Markdown as text, where `>>>` means a
quote in a quote in a quote; this fences each one as a `pycon` code block instead.
Loaded by mkdocs.yml (plugins -> mkdocstrings -> extensions).
"""

import re

import griffe

# An example: from a `>>>` line to the next blank line.
DOCTEST = re.compile(r"^>>> .*(?:\n.+)*", flags=re.M)


class DoctestExamples(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring:
            obj.docstring.value = DOCTEST.sub(lambda m: f"```pycon\n{m.group(0)}\n```", obj.docstring.value)

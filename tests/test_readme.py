"""Every Python block of the README runs, on every backend."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the examples save files
    for index, block in enumerate(BLOCKS):
        try:
            exec(compile(block, f"README.md python block {index + 1}", "exec"), {})
        except Exception as error:
            raise AssertionError(f"README python block {index + 1} failed: {error!r}\n{block}") from error
    printed = capsys.readouterr().out
    assert "(8, 10)" in printed and "(4, 2)" in printed and "(1, 2, 5, 5)" in printed

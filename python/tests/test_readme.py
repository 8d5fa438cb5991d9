"""The Python examples of the READMEs run as written: every ```python
block of README.md's "## Python" section and of python/README.md, each in a
fresh namespace, with its output captured. An example that raises fails
the test."""

import contextlib
import io
import re

import pytest

from conftest import ROOT


def python_blocks(path, section=None):
    text = path.read_text(encoding="utf-8")
    if section is not None:
        # From the section's heading to the next heading of its level.
        start = text.index(section + "\n")
        level = section.split(" ")[0]
        end = text.find("\n" + level + " ", start + len(section))
        text = text[start : end if end != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


EXAMPLES = [("README.md", block) for block in python_blocks(ROOT / "README.md", "## Python")] + [
    ("python/README.md", block) for block in python_blocks(ROOT / "python" / "README.md")
]


def test_there_are_examples():
    assert {source for source, _ in EXAMPLES} == {"README.md", "python/README.md"}


@pytest.mark.parametrize("source,code", EXAMPLES, ids=[f"{s}-{i}" for i, (s, _) in enumerate(EXAMPLES)])
def test_the_example_runs(source, code):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, source, "exec"), {"__name__": "readme_example"})
    # Every example prints what it read: one line per event at least.
    assert out.getvalue().strip(), f"the example of {source} printed nothing"

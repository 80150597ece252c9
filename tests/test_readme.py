"""The README's Python examples run as written against a live server."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_it_runs_every_python_example_in_order(live_index, capsys):
    live = live_index("movies", dimension=2)
    blocks = python_blocks()
    assert blocks, "the README shows SDK examples"
    scope: dict[str, object] = {}
    for block in blocks:
        code = block.replace('"http://127.0.0.1:8000/v1"', repr(live.url)).replace('"vs_..."', repr(live.token))
        exec(compile(code, str(README), "exec"), scope)  # noqa: S102 - our own README
    assert "dune" in capsys.readouterr().out

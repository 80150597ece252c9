"""The README's Python examples run as written against a live server."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_it_runs_every_python_example_in_order(live_index, capsys):
    tokens = {
        '"vs_..."': live_index("movies", dimension=2),
        '"vs_terms..."': live_index("terms", dimension=None, index_type="SPARSE"),
        '"vs_mixed..."': live_index("mixed", dimension=3, index_type="HYBRID"),
        '"vs_docs..."': live_index(
            "docs",
            dimension=None,
            index_type="HYBRID",
            embedding_model="ALL_MINILM_L6_V2",
            sparse_embedding_model="BM25",
        ),
    }
    blocks = python_blocks()
    assert blocks, "the README shows SDK examples"
    scope: dict[str, object] = {}
    for block in blocks:
        code = block.replace('"http://127.0.0.1:8000/v1"', repr(tokens['"vs_..."'].url))
        for placeholder, live in tokens.items():
            code = code.replace(placeholder, repr(live.token))
        exec(compile(code, str(README), "exec"), scope)
    out = capsys.readouterr().out
    assert "dune" in out and "id='d1'" in out

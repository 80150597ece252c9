"""`import_vectors`: what a load stores is what the API stores, a bad record stops its
batch, counters and range cursors stay right, and the HNSW index comes back the same."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.core.management import CommandError

from search.imports.jobs import ImportEvents, ImportOptions, import_run
from search.imports.sources import JsonLinesSource
from search.models import ImportJob, Namespace, Vector
from tests.imports.conftest import hnsw_definition, run_import, stored, write_jsonl

pytestmark = pytest.mark.django_db

# Values whose float32 rounding must come out as the API's does.
AWKWARD = [0.1, 1 / 3, -2.5e-8, 3.4e38, 7, 1e-45]


def dense_items(count: int, dim: int = 6, seed: int = 1, prefix: str = "r") -> list[dict]:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(count):
        item: dict = {"id": f"{prefix}{i}", "vector": [float(x) for x in rng.standard_normal(dim)]}
        if i % 3 == 0:
            item["metadata"] = {"n": i, "tags": ["a", "ü"], "nested": {"x": 1.5}}
        if i % 4 == 0:
            item["data"] = f"text {i}"
        items.append(item)
    return items


def test_it_stores_dense_records_exactly_as_the_api_upsert_does(tmp_path, make_index, upsert_via_api):
    loaded = make_index("loaded", dimension=6).index
    reference = make_index("reference", dimension=6)
    items = [{"id": "awkward", "vector": AWKWARD, "metadata": {"k": "v"}}, {"id": 42, "vector": [1, 2, 3, 4, 5, 6]}]
    items += dense_items(30)
    items.append({"id": "r3", "vector": [1, 0, 0, 0, 0, 0]})  # a later line with the same id wins

    out = run_import("loaded", str(write_jsonl(tmp_path / "dense.jsonl", items)), "--batch-size", "7")
    upsert_via_api(reference.token, items)

    assert stored(loaded) == stored(reference.index)
    assert [record.id for record in stored(loaded)][:3] == ["awkward", "42", "r0"]
    assert "Loaded 33 records into loaded/: 32 new, 1 replaced" in out


def test_it_stores_sparse_and_hybrid_records_as_the_api_does(tmp_path, make_index, upsert_via_api):
    items = [
        # repeated indices are summed, zero entries dropped, as the API does
        {"id": "a", "sparseVector": {"indices": [5, 1, 5, 9], "values": [0.5, 0.25, 0.5, 0.0]}},
        {"id": "b", "sparseVector": {"indices": [999999999], "values": [1 / 3]}, "metadata": {"m": 1}},
    ]
    for index_type, extra in (("SPARSE", {}), ("HYBRID", {"vector": [0.6, 0.8]})):
        loaded = make_index(f"{index_type.lower()}-loaded", dimension=2, index_type=index_type).index
        reference = make_index(f"{index_type.lower()}-reference", dimension=2, index_type=index_type)
        with_parts = [{**item, **extra} for item in items]

        run_import(loaded.name, str(write_jsonl(tmp_path / f"{index_type}.jsonl", with_parts)), "--namespace", "ns")
        upsert_via_api(reference.token, with_parts, namespace="ns")

        assert stored(loaded, "ns") == stored(reference.index, "ns")
        first = stored(loaded, "ns")[0]
        assert first.sparse is not None and first.sparse.indices == [1, 5]


def test_it_embeds_text_records_as_upsert_data_does(tmp_path, make_index, upsert_via_api):
    spec = {"dimension": None, "index_type": "HYBRID", "embedding_model": "ALL_MINILM_L6_V2"}
    loaded = make_index("text-loaded", sparse_embedding_model="BM25", **spec).index
    reference = make_index("text-reference", sparse_embedding_model="BM25", **spec)
    texts = [
        {"id": "cat", "data": "Cats purr when they are content.", "metadata": {"kind": "animal"}},
        {"id": "rust", "data": "Rust is a systems programming language."},
    ]

    run_import(loaded.name, str(write_jsonl(tmp_path / "text.jsonl", texts)))
    upsert_via_api(reference.token, texts, command="upsert-data")

    records = stored(loaded)
    assert records == stored(reference.index)
    cat = records[0]
    assert cat.vector is not None and len(cat.vector) == 384
    assert cat.sparse is not None and cat.sparse.indices and cat.data == "Cats purr when they are content."


def test_it_loads_a_numpy_array_with_its_ids_and_metadata(tmp_path, make_index, upsert_via_api):
    loaded = make_index("npy-loaded", dimension=4).index
    reference = make_index("npy-reference", dimension=4)
    vectors = np.random.default_rng(3).standard_normal((25, 4)).astype(np.float32)
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "ids.txt").write_text("".join(f"doc-{i}\n" for i in range(25)))
    (tmp_path / "meta.jsonl").write_text("".join(f'{{"i": {i}}}\n' if i % 2 else "null\n" for i in range(25)))

    run_import(
        "npy-loaded", str(tmp_path / "v.npy"), "--ids", str(tmp_path / "ids.txt"),
        "--metadata", str(tmp_path / "meta.jsonl"), "--batch-size", "10",
    )  # fmt: skip
    upsert_via_api(
        reference.token,
        [
            {"id": f"doc-{i}", "vector": vectors[i].tolist(), **({"metadata": {"i": i}} if i % 2 else {})}
            for i in range(25)
        ],
    )

    assert stored(loaded) == stored(reference.index)
    assert len(stored(loaded)) == 25


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "x", "vector": [1, 2, 3]}', "line 13: vector: Invalid vector dimension: 3, expected: 6"),
        ('{"id": "x", "vector": [0, 0, 0, 0, 0, 0]}', "line 13: vector: a zero vector has no direction"),
        ('{"id": "", "vector": [1, 1, 1, 1, 1, 1]}', "line 13: id: must be a non-empty string or an integer"),
        ('{"id": "x", "vector": [1, 1, 1, 1, 1, "1"]}', "line 13: vector: must be an array of numbers"),
        ('{"id": "x", "vector": [1, 1, 1, 1, 1, 1], "metadata": [1]}', "line 13: metadata: must be a JSON object"),
        ('{"id": "x", "vector": [1, 1, 1, 1, 1, NaN]}', "line 13: malformed JSON"),
        ('["x", [1, 1, 1, 1, 1, 1]]', "line 13: must be a JSON object"),
        ('{"id": "x", "sparseVector": {"indices": [1], "values": [1]}}', "line 13: vector: this DENSE index needs"),
    ],
)
def test_it_stops_at_a_bad_record_naming_its_line_and_field_and_writes_nothing_of_its_batch(
    tmp_path, make_index, bad_line, message
):
    index = make_index("strict", dimension=6).index
    path = tmp_path / "bad.jsonl"
    lines = write_jsonl(path, dense_items(20)).read_text().splitlines()
    lines.insert(12, bad_line)  # line 13: in the second batch of 10
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(CommandError, match=re.escape(f"bad.jsonl: {message}")):
        run_import("strict", str(path), "--batch-size", "10")

    assert [record.id for record in stored(index)] == [f"r{i}" for i in range(10)]
    assert Namespace.objects.get(index=index, name="").vector_count == 10
    job = ImportJob.objects.get(index=index)
    assert (job.state, job.lines_done) == (ImportJob.State.FAILED, 10)
    assert job.error.startswith(message.split(":")[0])


def test_it_leaves_the_hnsw_index_alone_when_the_first_batch_is_bad(tmp_path, make_index):
    index = make_index("untouched", dimension=6).index
    before = hnsw_definition(index)

    with pytest.raises(CommandError, match="line 1: vector"):
        run_import("untouched", str(write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "vector": [1]}])))

    assert hnsw_definition(index) == before is not None


def test_it_resumes_an_interrupted_load_after_its_last_written_batch(tmp_path, make_index):
    index = make_index("resumed", dimension=6).index
    definition = hnsw_definition(index)
    source = JsonLinesSource(write_jsonl(tmp_path / "load.jsonl", dense_items(50)))
    batches = 0

    def interrupt_after_two_batches(lines: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise KeyboardInterrupt

    options = ImportOptions(batch_size=8)
    with pytest.raises(KeyboardInterrupt):
        import_run(
            index=index, namespace="", source=source, options=options,
            events=ImportEvents(on_lines=interrupt_after_two_batches),
        )  # fmt: skip
    # Interrupted: two batches written, the HNSW index still dropped, the job says so.
    job = ImportJob.objects.get(index=index)
    assert (job.state, job.lines_done, job.records_done) == (ImportJob.State.RUNNING, 16, 16)
    assert hnsw_definition(index) is None and job.hnsw_definition == definition

    result = import_run(index=index, namespace="", source=source, options=options)

    assert result.resumed_at_line == 16 and result.inserted == 34
    assert [record.id for record in stored(index)] == [f"r{i}" for i in range(50)]
    assert list(Vector.objects.filter(index=index).order_by("number").values_list("number", flat=True)) == list(
        range(1, 51)
    )
    job.refresh_from_db()
    assert (job.state, job.records_done, job.hnsw_definition) == (ImportJob.State.DONE, 50, "")
    assert hnsw_definition(index) == definition


def test_it_keeps_counters_and_range_cursors_right_beside_existing_records(tmp_path, make_index, upsert_via_api, api):
    created = make_index("counted", dimension=6)
    index = created.index
    upsert_via_api(created.token, dense_items(5, prefix="old"), namespace="ns")
    # Re-upserts old1 and old3 (they keep numbers 2 and 4), adds 12 new ones after number 5.
    items = dense_items(12, seed=9, prefix="new")
    items[4:4] = [{"id": "old3", "vector": [1] * 6}, {"id": "old1", "vector": [2] * 6, "data": "replaced"}]

    run_import("counted", str(write_jsonl(tmp_path / "more.jsonl", items)), "--namespace", "ns", "--batch-size", "5")

    ns = Namespace.objects.get(index=index, name="ns")
    assert (ns.vector_count, ns.last_number) == (17, 17)
    numbers = dict(Vector.objects.filter(namespace=ns).values_list("key", "number"))
    assert [numbers[f"old{i}"] for i in range(5)] == [1, 2, 3, 4, 5]
    assert [numbers[f"new{i}"] for i in range(12)] == list(range(6, 18))
    old1 = next(record for record in stored(index, "ns") if record.id == "old1")
    assert (old1.vector, old1.metadata, old1.data) == ([2.0] * 6, None, "replaced")
    pages = []
    cursor = "0"
    while cursor != "":
        body = api("range/ns", {"cursor": cursor, "limit": 5}, token=created.token).json()["result"]
        pages.append(([vector["id"] for vector in body["vectors"]], body["nextCursor"]))
        cursor = body["nextCursor"]
    assert [cursor for _, cursor in pages] == ["5", "10", "15", ""]
    assert [key for keys, _ in pages for key in keys] == [f"old{i}" for i in range(5)] + [f"new{i}" for i in range(12)]
    info = api("info", token=created.token).json()["result"]
    assert info["vectorCount"] == 17 and info["namespaces"]["ns"]["vectorCount"] == 17


def test_it_builds_the_hnsw_index_again_with_its_own_definition(tmp_path, make_index, settings):
    index = make_index("rebuilt", dimension=6).index
    definition = hnsw_definition(index)
    assert definition is not None and "m='24'" in definition
    settings.VECSITE_HNSW_M, settings.VECSITE_HNSW_EF_CONSTRUCTION = 5, 9  # changed since the index was made

    out = run_import("rebuilt", str(write_jsonl(tmp_path / "a.jsonl", dense_items(40))), "--batch-size", "10")

    assert "Dropped the HNSW index of rebuilt" in out and "HNSW index built in" in out
    assert hnsw_definition(index) == definition


def test_it_keeps_the_hnsw_index_for_a_load_small_beside_the_index(tmp_path, make_index, upsert_via_api):
    created = make_index("big", dimension=6)
    upsert_via_api(created.token, dense_items(30))

    out = run_import("big", str(write_jsonl(tmp_path / "small.jsonl", dense_items(9, prefix="s"))))

    assert "Dropped" not in out and "HNSW index built" not in out
    assert hnsw_definition(created.index) is not None
    out = run_import("big", str(write_jsonl(tmp_path / "more.jsonl", dense_items(13, prefix="t"))))
    assert "Dropped" in out  # a third of the 39 stored


def test_abandon_builds_the_dropped_hnsw_index_again(tmp_path, make_index):
    index = make_index("given-up", dimension=6).index
    definition = hnsw_definition(index)
    path = write_jsonl(tmp_path / "bad.jsonl", [*dense_items(10), {}])
    with pytest.raises(CommandError, match="line 11: id: This field is required"):
        run_import("given-up", str(path), "--batch-size", "5")
    assert hnsw_definition(index) is None

    out = run_import("given-up", "--abandon")

    assert "Abandoned the load" in out
    assert hnsw_definition(index) == definition
    assert ImportJob.objects.get(index=index).state == ImportJob.State.ABANDONED
    assert len(stored(index)) == 10

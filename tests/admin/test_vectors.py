"""Vectors and namespaces in the admin: read-only browsing that stays fast on big namespaces."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from search.models import Namespace, Vector
from tests.admin.conftest import start_query, upsert

LIST = "/admin/search/vector/"


def keys(response) -> list[str]:
    assert response.status_code == 200
    return [vector.key for vector in response.context["cl"].result_list]


def test_it_lists_vectors_newest_first_with_short_previews(staff: Client, books) -> None:
    Vector.objects.filter(key="doc-11").update(data="x" * 5000, metadata={"long": "y" * 500})
    response = staff.get(LIST)
    assert keys(response)[:3] == ["livre-4", "livre-3", "livre-2"]
    html = response.content.decode()
    assert "books" in html and "(default)" in html
    assert "&quot;genre&quot;: &quot;poetry&quot;" in html
    assert "text of doc-3" in html
    assert "x" * 79 + "…" in html and "x" * 81 not in html
    assert "y" * 200 not in html


def test_it_filters_by_index_and_namespace(staff: Client, books, make_index) -> None:
    other = make_index("other", dimension=2).index
    upsert(other, "", 2, prefix="o-")
    fr = Namespace.objects.get(index=books, name="fr")
    assert sorted(keys(staff.get(f"{LIST}?index__id__exact={other.pk}"))) == ["o-0", "o-1"]
    response = staff.get(f"{LIST}?index__id__exact={books.pk}&namespace={fr.pk}")
    assert sorted(keys(response)) == [f"livre-{i}" for i in range(5)]
    assert response.context["cl"].result_count == 5
    assert b"5 vectors" in response.content


def test_it_searches_ids_by_prefix_or_exactly(staff: Client, books) -> None:
    assert sorted(keys(staff.get(f"{LIST}?q=doc-1"))) == ["doc-1", "doc-10", "doc-11"]
    assert keys(staff.get(f'{LIST}?q="doc-1"')) == ["doc-1"]
    assert keys(staff.get(f"{LIST}?q=nothing")) == []
    # A LIKE wildcard in the search is literal text, not a pattern.
    assert keys(staff.get(f"{LIST}?q=doc-%25")) == []


def test_it_shows_one_vector_readably(staff: Client, books) -> None:
    vector = Vector.objects.get(key="doc-3")
    Vector.objects.filter(pk=vector.pk).update(
        metadata={"title": "<b>Odes</b>", "tags": ["a", "b"]}, data="line 1\nline 2"
    )
    page = staff.get(f"{LIST}{vector.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<pre class="vecsite-pre">{\n  &quot;tags&quot;: [\n    &quot;a&quot;,' in html
    assert "\n  &quot;title&quot;: &quot;&lt;b&gt;Odes&lt;/b&gt;&quot;\n}</pre>" in html
    assert '<pre class="vecsite-pre">line 1\nline 2</pre>' in html
    assert "[1, 3.5] (2 dimensions)" in html
    assert page.context["adminform"].form.fields == {}


def test_it_cannot_add_change_or_delete_vectors(staff: Client, books) -> None:
    vector = Vector.objects.get(key="doc-3")
    assert staff.get(f"{LIST}add/").status_code == 403
    assert staff.post(f"{LIST}{vector.pk}/delete/", {"post": "yes"}).status_code == 403
    staff.post(f"{LIST}{vector.pk}/change/", {"key": "changed"})
    assert Vector.objects.filter(key="doc-3").exists()
    assert staff.get(LIST).context["action_form"] is None


def test_it_pages_a_big_namespace_without_counting_its_rows(staff: Client, make_index) -> None:
    index = make_index("big", dimension=2).index
    upsert(index, "big", 3000, prefix="k")
    upsert(index, "", 10)
    namespace = Namespace.objects.get(index=index, name="big")
    for url in (
        f"{LIST}?index__id__exact={index.pk}&namespace={namespace.pk}",
        f"{LIST}?index__id__exact={index.pk}&namespace={namespace.pk}&p=7",
        f"{LIST}?index__id__exact={index.pk}",
        LIST,
    ):
        with CaptureQueriesContext(connection) as captured:
            response = staff.get(url)
        assert response.status_code == 200
        counts = [
            q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper() and "search_vector" in q["sql"]
        ]
        assert counts == [], url
        assert len(captured.captured_queries) <= 6, [q["sql"] for q in captured.captured_queries]
    cl = response.context["cl"]
    assert (cl.result_count, cl.paginator.num_pages, len(cl.result_list)) == (3010, 31, 100)
    assert b"3010 vectors" in response.content


def test_it_trusts_no_counter_that_would_put_a_whole_namespace_on_one_page(staff: Client, books) -> None:
    fr = Namespace.objects.get(index=books, name="fr")
    Namespace.objects.filter(pk=fr.pk).update(vector_count=0)  # drifted
    response = staff.get(f"{LIST}?namespace={fr.pk}")
    assert len(keys(response)) == 5


def test_it_counts_search_results_up_to_a_cap(staff: Client, make_index) -> None:
    index = make_index("big", dimension=2).index
    upsert(index, "", 250, prefix="k")
    response = staff.get(f"{LIST}?q=k1")
    assert response.context["cl"].result_count == 111  # k1, k10-k19, k100-k199
    assert len(keys(response)) == 100


def test_it_lists_namespaces_with_counts(staff: Client, books, make_index) -> None:
    start_query(books, "fr")
    make_index("other", dimension=2)
    response = staff.get("/admin/search/namespace/")
    assert response.status_code == 200
    rows = {
        (ns.index.name, ns.name): (ns.vector_count, ns.active_query_total) for ns in response.context["cl"].result_list
    }
    assert rows == {("books", ""): (12, 0), ("books", "fr"): (5, 1), ("other", ""): (0, 0)}
    fr = Namespace.objects.get(index=books, name="fr")
    assert f"/admin/search/vector/?index__id__exact={books.pk}&amp;namespace={fr.pk}".encode() in response.content
    filtered = staff.get(f"/admin/search/namespace/?index__id__exact={books.pk}&q=fr")
    assert [ns.name for ns in filtered.context["cl"].result_list] == ["fr"]
    page = staff.get(f"/admin/search/namespace/{fr.pk}/change/")
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    assert staff.get("/admin/search/namespace/add/").status_code == 403


def test_it_shows_a_sparse_vector(staff: Client, make_index) -> None:
    from search.services.records import RecordInput, SparseValue
    from search.services.vectors import vectors_upsert

    index = make_index("terms", dimension=None, index_type="SPARSE").index
    vectors_upsert(
        index=index, namespace="", records=[RecordInput(id="s", sparse=SparseValue(indices=[3, 7], values=[0.5, 0.25]))]
    )
    vector = Vector.objects.get(key="s")
    page = staff.get(f"{LIST}{vector.pk}/change/")
    assert "{3: 0.5, 7: 0.25} (2 non-zero)" in page.content.decode()

"""Resumable queries in the admin: their state read-only, filters, search, and stopping."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from search.models import ResumableQuery
from tests.admin.conftest import start_query, upsert

LIST = "/admin/search/resumablequery/"


def column(staff: Client, name: str) -> int:
    return staff.get(LIST).context["cl"].list_display.index(name)


def listed(response) -> list:
    assert response.status_code == 200
    return [query.uuid for query in response.context["cl"].result_list]


def expire(handle) -> None:
    ResumableQuery.objects.filter(uuid=handle).update(expires_at=timezone.now() - timedelta(seconds=5))


def test_it_lists_queries_with_their_state(staff: Client, books) -> None:
    handle = start_query(books, top_k=3, filter_text="genre = 'poetry'", max_idle=900)
    expired = start_query(books, "fr")
    expire(expired)
    response = staff.get(LIST)
    assert set(listed(response)) == {handle, expired}
    html = response.content.decode()
    for text in (str(handle), "books", "(default)", "fr", "vector", "genre = &#x27;poetry&#x27;", "15m 00s"):
        assert text in html, text
    assert "expired, not yet swept" in html
    assert "expired 5s ago" in html or "expired 6s ago" in html
    row = next(q for q in response.context["cl"].result_list if q.uuid == handle)
    assert (row.top_k, row.returned_count) == (3, 3)


def test_it_lists_queries_in_a_fixed_number_of_queries(staff: Client, books, django_assert_max_num_queries) -> None:
    for _ in range(10):
        start_query(books)
    with django_assert_max_num_queries(9):
        assert len(listed(staff.get(LIST))) == 10


def test_it_filters_by_state(staff: Client, books) -> None:
    active, expired = start_query(books), start_query(books)
    expire(expired)
    assert listed(staff.get(f"{LIST}?state=active")) == [active]
    assert listed(staff.get(f"{LIST}?state=expired")) == [expired]


def test_it_filters_by_index_and_namespace(staff: Client, books, make_index) -> None:
    other = make_index("other", dimension=2).index
    upsert(other, "", 3)
    in_default, in_fr, elsewhere = start_query(books), start_query(books, "fr"), start_query(other)
    assert set(listed(staff.get(f"{LIST}?index__id__exact={books.pk}"))) == {in_default, in_fr}
    assert listed(staff.get(f"{LIST}?index__id__exact={other.pk}")) == [elsewhere]
    fr = books.namespaces.get(name="fr")
    response = staff.get(f"{LIST}?index__id__exact={books.pk}&namespace={fr.pk}")
    assert listed(response) == [in_fr]
    # The namespace choices are narrowed to the chosen index.
    choices = [
        choice["display"]
        for spec in response.context["cl"].filter_specs
        for choice in spec.choices(response.context["cl"])
    ]
    assert "(default)" in choices and "fr" in choices and "other/(default)" not in choices
    assert staff.get(f"{LIST}?namespace=nope").status_code == 302  # an invalid lookup: "?e=1"


def test_it_searches_by_whole_or_partial_uuid(staff: Client, books) -> None:
    handle, other = start_query(books), start_query(books)
    assert listed(staff.get(f"{LIST}?q={handle}")) == [handle]
    assert listed(staff.get(f"{LIST}?q={str(handle)[:13]}")) == [handle]
    assert listed(staff.get(f"{LIST}?q=zzz")) == []
    assert other not in listed(staff.get(f"{LIST}?q={handle}"))


def test_it_sorts_by_idle_time_and_expiry(staff: Client, books) -> None:
    now = timezone.now()
    fresh, stale = start_query(books, max_idle=600), start_query(books, max_idle=600)
    ResumableQuery.objects.filter(uuid=stale).update(
        last_used_at=now - timedelta(minutes=5), expires_at=now + timedelta(minutes=5)
    )
    ResumableQuery.objects.filter(uuid=fresh).update(last_used_at=now, expires_at=now + timedelta(minutes=10))
    idle = column(staff, "idle_for")
    expires = column(staff, "expires_in")
    assert listed(staff.get(f"{LIST}?o={idle}")) == [fresh, stale]
    assert listed(staff.get(f"{LIST}?o=-{idle}")) == [stale, fresh]
    assert listed(staff.get(f"{LIST}?o={expires}")) == [stale, fresh]
    assert listed(staff.get(f"{LIST}?o=-{expires}")) == [fresh, stale]


def test_it_shows_a_query_read_only(staff: Client, books) -> None:
    handle = start_query(books, top_k=4, filter_text="n > 1")
    page = staff.get(f"{LIST}{handle}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    for text in (str(handle), "n &gt; 1", "metadata", "Stop this query", "(2 dimensions)", "Progress"):
        assert text in html, text
    assert page.context["adminform"].form.fields == {}
    assert 'name="_save"' not in html
    before = ResumableQuery.objects.get(uuid=handle)
    staff.post(f"{LIST}{handle}/change/", {"consumed": "0", "returned_count": "0", "top_k": "99"})
    after = ResumableQuery.objects.get(uuid=handle)
    assert (after.progress, after.returned_count, after.top_k) == (before.progress, before.returned_count, 4)


def test_it_cannot_add_or_delete_queries_by_hand(staff: Client, books) -> None:
    handle = start_query(books)
    assert staff.get(f"{LIST}add/").status_code == 403
    assert staff.post(f"{LIST}{handle}/delete/", {"post": "yes"}).status_code == 403
    actions = [name for name, _ in staff.get(LIST).context["action_form"].fields["action"].choices]
    assert actions == ["", "stop_queries"]


def test_it_stops_selected_queries_like_the_client_would(staff: Client, books, api) -> None:
    stopped, kept = start_query(books), start_query(books)
    response = staff.post(
        LIST, {"action": "stop_queries", "_selected_action": [str(stopped)], "index": "0"}, follow=True
    )
    assert b"Stopped 1 resumable query." in response.content
    assert listed(response) == [kept]


def test_it_makes_next_fail_after_the_stop_action(staff: Client, make_index, api) -> None:
    credentials = make_index("live", dimension=2)
    api("upsert", [{"id": f"v{i}", "vector": [1, i + 1]} for i in range(5)], token=credentials.token)
    first = api("resumable-query", {"vector": [1, 1], "topK": 1}, token=credentials.token).json()["result"]
    handle = first["uuid"]
    assert api("resumable-query-next", {"uuid": handle, "additionalK": 1}, token=credentials.token).status_code == 200

    staff.post(LIST, {"action": "stop_queries", "_selected_action": [handle], "index": "0"})

    after = api("resumable-query-next", {"uuid": handle, "additionalK": 1}, token=credentials.token)
    assert after.status_code == 404
    assert "does not exist, was stopped, or has expired" in after.json()["error"]
    assert api("resumable-query-end", {"uuid": handle}, token=credentials.token).status_code == 404


def test_it_stops_one_query_with_the_button(staff: Client, make_index, api) -> None:
    credentials = make_index("live", dimension=2)
    api("upsert", [{"id": f"v{i}", "vector": [1, i + 1]} for i in range(5)], token=credentials.token)
    handle = api("resumable-query", {"vector": [1, 1], "topK": 1}, token=credentials.token).json()["result"]["uuid"]
    assert staff.get(f"{LIST}{handle}/stop/").status_code == 405  # only a POST stops
    response = staff.post(f"{LIST}{handle}/stop/", follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert f"Stopped resumable query {handle}.".encode() in response.content
    assert not ResumableQuery.objects.filter(uuid=handle).exists()
    assert api("resumable-query-next", {"uuid": handle, "additionalK": 1}, token=credentials.token).status_code == 404
    again = staff.post(f"{LIST}{handle}/stop/", follow=True)
    assert b"had already ended" in again.content


def test_it_leaves_stopping_to_users_allowed_to_delete(client: Client, books) -> None:
    handle = start_query(books)
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_resumablequery"))
    client.force_login(viewer)
    page = client.get(f"{LIST}{handle}/change/")
    assert page.status_code == 200
    assert b"Stop this query" not in page.content
    assert client.post(f"{LIST}{handle}/stop/").status_code == 403
    assert client.get(LIST).context["action_form"] is None  # no action left to offer
    assert ResumableQuery.objects.filter(uuid=handle).exists()

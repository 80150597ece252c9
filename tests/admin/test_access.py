"""Only staff users reach any admin page; everyone else is sent to the login page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

PAGES = [
    "/admin/",
    "/admin/search/index/",
    "/admin/search/index/add/",
    "/admin/search/index/tokens/",
    "/admin/search/resumablequery/",
    "/admin/search/vector/",
    "/admin/search/namespace/",
    "/admin/search/sweeprun/",
]


@pytest.mark.parametrize("url", PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(client: Client, db: None, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", PAGES)
def test_it_sends_non_staff_users_to_the_login_page(client: Client, db: None, url: str) -> None:
    user = User.objects.create_user("reader", password="not-staff-pw-123")
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_refuses_the_login_form_to_non_staff_users(client: Client, db: None) -> None:
    User.objects.create_user("reader", password="not-staff-pw-123")
    response = client.post("/admin/login/", {"username": "reader", "password": "not-staff-pw-123"})
    assert response.status_code == 200
    assert b"Please enter the correct username and password for a staff account" in response.content


def test_it_refuses_the_sweep_and_stop_buttons_to_anonymous_posts(client: Client, db: None) -> None:
    for url in (
        "/admin/search/sweeprun/sweep-now/",
        "/admin/search/resumablequery/9d0cbd5b-8a1e-4c0a-9d44-000000000000/stop/",
        "/admin/search/index/1/rotate-tokens/",
    ):
        response = client.post(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_it_shows_every_section_to_a_staff_superuser(admin_client: Client) -> None:
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    for name in (b"Indexes", b"Namespaces", b"Resumable queries", b"Sweep runs", b"Vectors"):
        assert name in response.content


def test_it_lets_staff_without_permissions_see_nothing(client: Client, db: None) -> None:
    user = User.objects.create_user("intern", password="staff-no-perms-1", is_staff=True)
    client.force_login(user)
    assert client.get("/admin/search/index/").status_code == 403
    assert client.post("/admin/search/sweeprun/sweep-now/").status_code == 403

"""What gunicorn itself answers, with vecsite's configuration (vecsite/gunicorn_config.py):
requests it refuses before Django sees them get the JSON envelope, and chunked request
bodies reach the API whole."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bench.load_servers import Gunicorn, WebConfig, child_env
from search.models import Vector
from tests.resumable.processes import database_url

pytestmark = pytest.mark.django_db(transaction=True)
BODY_LIMIT = 4096


@pytest.fixture(scope="module")
def server(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[str]:
    """One gunicorn (one gthread worker) on the test database for the module's tests."""
    with django_db_blocker.unblock():
        url = database_url()
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    extra = {"VECSITE_MAX_BODY_BYTES": str(BODY_LIMIT), "VECSITE_RESUMABLE_BACKGROUND_REFILL": "0"}
    web = Gunicorn(WebConfig("gthread", 1, 2), child_env(url, "memory://", tmp_path, extra), tmp_path / "gunicorn.log")
    try:
        web.wait_ready()
        yield web.url
    finally:
        web.stop()


def raw_request(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body


def chunks(body: bytes, size: int = 7) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_it_reads_a_chunked_body_whole(server, make_index):
    credentials = make_index("chunked", dimension=2)
    body = b'[{"id": "a", "vector": [0.1, 0.2], "metadata": {"sent": "chunked"}}]'
    response = httpx.post(
        f"{server}/v1/upsert", content=chunks(body), headers={"Authorization": f"Bearer {credentials.token}"}
    )
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.json() == {"result": "Success"}
    assert Vector.objects.get(index=credentials.index, key="a").metadata == {"sent": "chunked"}


def test_it_refuses_a_chunked_body_over_the_limit_and_writes_nothing(server, make_index):
    credentials = make_index("chunked-big", dimension=2)
    records = ",".join(f'{{"id": "v{i}", "vector": [0.1, 0.2]}}' for i in range(200))
    body = f"[{records}]".encode()
    assert len(body) > BODY_LIMIT
    response = httpx.post(
        f"{server}/v1/upsert", content=chunks(body, 512), headers={"Authorization": f"Bearer {credentials.token}"}
    )
    assert response.status_code == 413
    assert response.json() == {"error": f"body: larger than the {BODY_LIMIT} bytes this server accepts", "status": 413}
    assert not Vector.objects.filter(index=credentials.index).exists()


@pytest.mark.parametrize("path", ["/v1/info", "/"])
def test_an_over_long_header_gets_the_json_envelope(server, path):
    status, headers, body = raw_request(
        server, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: {'a' * 9000}\r\n\r\n".encode()
    )
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert httpx.Response(431, content=body).json() == {
        "error": "headers: a header is longer than 8190 bytes",
        "status": 431,
    }


def test_too_many_headers_get_the_json_envelope(server):
    many = "".join(f"X-H{i}: {i}\r\n" for i in range(101))
    status, _, body = raw_request(server, f"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}\r\n".encode())
    assert status == 431
    assert httpx.Response(431, content=body).json() == {"error": "headers: more than 100 headers", "status": 431}


def test_a_nul_in_a_header_gets_the_json_envelope_naming_the_header(server):
    # gunicorn names the header as it reads it, upper-cased.
    status, headers, body = raw_request(server, b"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad: a\x00b\r\n\r\n")
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert httpx.Response(400, content=body).json() == {
        "error": "Bad Request: Invalid HTTP Header: 'X-BAD'",
        "status": 400,
    }

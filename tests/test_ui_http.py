"""The review app through Starlette's test client: its pages, its changes and its guard."""

from __future__ import annotations

import asyncio
import io
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from evidence_archiver import Archive
from evidence_archiver.ui import UiConfig, create_app
from evidence_archiver.ui.security import MAX_FORM_BODY, csrf_token
from ui_support import HOSTILE_SUBJECT, build_archive, copy_archive

PORT = 8765
SECRET = "test-secret-token"
BASE = f"http://127.0.0.1:{PORT}"
CSRF = csrf_token(SECRET)
CASE = "lender-x-extension"


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archive(tmp_path_factory.mktemp("ui-demo"))


@pytest.fixture
def db(demo_archive: Path, tmp_path: Path) -> Path:
    return copy_archive(demo_archive, tmp_path / "archive.db")


@pytest.fixture
def anonymous(db: Path, tmp_path: Path) -> Iterator[TestClient]:
    """A client that has not opened the secret link."""
    config = UiConfig(archive=db, port=PORT, secret=SECRET, work_folder=tmp_path)
    with TestClient(create_app(config), base_url=BASE, follow_redirects=False) as client:
        yield client


@pytest.fixture
def client(anonymous: TestClient) -> TestClient:
    """A client that opened the secret link (and so holds the cookie)."""
    assert anonymous.get(f"/?token={SECRET}").status_code == 303
    return anonymous


def item_id_of(db: Path, query: str) -> int:
    with Archive(db) as archive:
        return archive.search(query)[0].id


def hostile_id(db: Path) -> int:
    return item_id_of(db, '"final notice"')


# -- the guard ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/items/1", "/search?q=展期", "/static/style.css"])
def test_a_request_without_the_token_is_refused(anonymous: TestClient, url: str) -> None:
    response = anonymous.get(url)
    assert response.status_code == 403
    assert "evidence ui" in response.text


def test_a_wrong_token_is_refused(anonymous: TestClient) -> None:
    assert anonymous.get("/?token=guess").status_code == 403
    anonymous.cookies.set(f"evidence-ui-{PORT}", "guess")
    assert anonymous.get("/").status_code == 403


def test_the_token_becomes_a_strict_cookie_and_leaves_the_address(anonymous: TestClient) -> None:
    response = anonymous.get(f"/search?q=loan&token={SECRET}")
    assert response.status_code == 303
    assert response.headers["location"] == "/search?q=loan"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"evidence-ui-{PORT}={SECRET};")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert anonymous.get("/search?q=loan").status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1:9999", "", f"127.0.0.2:{PORT}"]
)
def test_a_host_that_is_not_this_server_is_refused(client: TestClient, host: str) -> None:
    # DNS rebinding: a page on evil.example whose name now points at 127.0.0.1.
    response = client.get("/", headers={"host": host})
    assert response.status_code == 403
    assert f"{SECRET}" not in response.text


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}"])
def test_the_loopback_names_of_this_server_are_served(client: TestClient, host: str) -> None:
    assert client.get("/", headers={"host": host}).status_code == 200


def test_a_change_without_the_csrf_token_is_refused(client: TestClient, db: Path) -> None:
    for form in ({"tag": "promise"}, {"tag": "promise", "csrf": "forged"}):
        assert client.post("/items/1/tags", data=form).status_code == 403
    with Archive(db) as archive:
        assert "promise" not in archive.item(1).tags


def test_a_change_from_another_site_is_refused(client: TestClient, db: Path) -> None:
    response = client.post(
        "/items/1/tags",
        data={"tag": "promise", "csrf": CSRF},
        headers={"origin": "http://evil.example"},
    )
    assert response.status_code == 403
    with Archive(db) as archive:
        assert archive.item(1).tags == ()


@pytest.mark.parametrize(
    "url",
    [
        "/items/1/tags",
        "/items/1/tags/remove",
        "/items/1/notes",
        f"/cases/{CASE}/export",
        f"/cases/{CASE}/unlink",
        f"/cases/{CASE}/link",
        f"/cases/{CASE}/rules",
        f"/cases/{CASE}/rules/remove",
    ],
)
def test_a_state_changing_route_refuses_get(client: TestClient, url: str) -> None:
    assert client.get(f"{url}?tag=promise&csrf={CSRF}&item=1").status_code == 405


@pytest.mark.parametrize(
    "url",
    [
        "/items/..%2F..%2F..%2Fetc%2Fpasswd",
        "/items/../../etc/passwd",
        "/items/1/attachments/..%2F..%2Fetc%2Fpasswd",
        "/items/-1",
        "/items/1/attachments/999999",
        "/static/..%2Fapp.py",
        "/static/../app.py",
        "/static/%2Fetc%2Fpasswd",
        "/exports/..%2F..%2Fetc%2Fpasswd/download",
        "/exports/%2Fetc%2Fpasswd/download",
        "/cases/..%2F..%2Fetc%2Fpasswd",
        "/cases/%2Fetc%2Fpasswd/timeline",
    ],
)
def test_a_path_traversal_id_finds_nothing(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert "root:" not in response.text
    assert "import" not in response.text


def test_an_attachment_is_served_only_under_its_own_item(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        with_attachment = next(i for i in archive.timeline() if i.attachments)
        other = next(i for i in archive.timeline() if not i.attachments)
    attachment = with_attachment.attachments[0].id
    assert client.get(f"/items/{with_attachment.id}/attachments/{attachment}").status_code == 200
    assert client.get(f"/items/{other.id}/attachments/{attachment}").status_code == 404


def test_a_hostile_html_mail_is_shown_as_text(client: TestClient, db: Path) -> None:
    response = client.get(f"/items/{hostile_id(db)}")
    assert response.status_code == 200
    page = response.text
    assert "<script" not in page.lower()
    assert "onerror" not in re.sub(r"&[a-z]+;|&#\d+;", "", page.replace("onerror=&#34;", ""))
    assert not re.search(r"<[^>]+\son\w+\s*=", page)  # no element carries an event handler
    assert "&lt;script&gt;alert(&#39;text&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=" in page  # the subject, as the text it is
    assert "tracker.example" not in page  # the mail's remote image is never loaded
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script" not in csp


def test_the_hostile_mail_in_search_results_is_text_too(client: TestClient) -> None:
    page = client.get("/search?q=notice").text
    assert HOSTILE_SUBJECT not in page
    assert not re.search(r"<[^>]+\son\w+\s*=", page)


def test_a_10_mb_query_string_is_refused_cleanly(client: TestClient) -> None:
    # httpx refuses to send such an address, so it goes to the app as the server hands it over.
    query = ("q=" + "展" * (10 * 1024 * 1024 // 9)).encode()
    status, body = _asgi_get(client, "/search", query)
    assert status == 414
    assert b"too long" in body
    assert client.get("/search?q=展期").status_code == 200  # and the app goes on


def _asgi_get(client: TestClient, path: str, query: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", f"127.0.0.1:{PORT}".encode()),
            (b"cookie", f"evidence-ui-{PORT}={SECRET}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", PORT),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_body_over_the_form_limit_is_refused(client: TestClient, db: Path) -> None:
    response = client.post("/items/1/notes", data={"csrf": CSRF, "text": "x" * (MAX_FORM_BODY + 1)})
    assert response.status_code == 413
    with Archive(db) as archive:
        assert archive.item(1).notes == ()


def test_an_upload_over_its_limit_is_refused(db: Path, tmp_path: Path) -> None:
    config = UiConfig(archive=db, port=PORT, secret=SECRET, work_folder=tmp_path, max_upload=4096)
    with TestClient(create_app(config), base_url=BASE, follow_redirects=False) as small:
        small.get(f"/?token={SECRET}")
        response = small.post(
            "/verify", data={"csrf": CSRF}, files={"bundle": ("b.zip", b"\0" * 10_000)}
        )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "url", ["/", "/items/1", "/nowhere", "/static/style.css", "/items/1/original", "/?token=x"]
)
def test_every_response_carries_the_strict_headers(client: TestClient, url: str) -> None:
    headers = client.get(url).headers
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"


# -- pages -------------------------------------------------------------------------------------


def test_the_overview_counts_kinds_and_sources_and_lists_import_problems(
    client: TestClient, db: Path
) -> None:
    with Archive(db) as archive:
        kinds = archive.kind_counts()
    page = client.get("/").text
    assert f"{sum(kinds.values())} items in total" in page
    assert f'<span class="count">{kinds["sms"]}</span><span class="label">Text message' in page
    assert "Text message" in page
    assert "Email" in page
    assert "lenderx.mbox" in page
    assert "broken.eml" in page
    assert "empty file" in page
    assert "Lender X extension" in page


def test_search_highlights_chinese_and_english(client: TestClient) -> None:
    page = client.get("/search", params={"q": "展期"}).text
    assert "<mark>展期</mark>" in page
    page = client.get("/search", params={"q": "extension", "kind": "email"}).text
    assert re.search(r"<mark>extension</mark>", page, re.IGNORECASE)
    assert "Text message</span>" not in page


def test_a_query_the_engine_refuses_is_explained(client: TestClient) -> None:
    response = client.get("/search", params={"q": '"'})
    assert response.status_code == 200
    assert 'class="error"' in response.text or "Nothing found" in response.text


def test_the_item_page_shows_headers_text_attachments_and_custody(
    client: TestClient, db: Path
) -> None:
    with Archive(db) as archive:
        item = next(i for i in archive.timeline() if i.attachments and i.kind == "email")
    page = client.get(f"/items/{item.id}").text
    assert item.sender in page
    assert item.attachments[0].filename in page
    assert item.attachments[0].sha256 in page
    assert item.original_sha256 is not None
    assert item.original_sha256 in page
    assert "lenderx.mbox" in page or "saved" in page
    custody = client.get(f"/items/{item.id}/custody").text
    assert "acquired" in custody


def test_the_custody_page_shows_the_items_own_events_only(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        archive.tag(1, "promise")
        expected = [e.hash for e in archive.custody.events_about("item:1")]
        others = [e.hash for e in archive.custody.events("item:1") if e.subject != "item:1"]
    page = client.get("/items/1/custody").text
    assert expected
    assert all(h in page for h in expected)
    assert others
    assert not any(h in page for h in others)


def test_a_document_page_shows_its_tables(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        document = next(i for i in archive.timeline() if i.details.get("tables"))
        first_cell = str(document.details["tables"][0]["rows"][0][0])
    page = client.get(f"/items/{document.id}").text
    assert '<table class="grid">' in page
    assert f"<th>{first_cell}</th>" in page


def test_an_original_is_downloaded_byte_for_byte_as_an_attachment(
    client: TestClient, db: Path
) -> None:
    with Archive(db) as archive:
        item = archive.item(hostile_id(db))
        assert item.original_sha256 is not None
        original = archive.read_original(item.original_sha256)
    response = client.get(f"/items/{item.id}/original")
    assert response.status_code == 200
    assert response.content == original
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-type"] == "application/octet-stream"


def test_a_picture_gets_a_thumbnail(client: TestClient, db: Path) -> None:
    with Archive(db) as archive:
        picture = next(
            i
            for i in archive.timeline()
            if i.original_sha256
            and archive.original_info(i.original_sha256).media_type.startswith("image/")
        )
    assert f'src="/items/{picture.id}/thumbnail"' in client.get(f"/items/{picture.id}").text
    response = client.get(f"/items/{picture.id}/thumbnail")
    assert response.status_code == 200
    assert response.content.startswith(b"\x89PNG")
    assert client.get(f"/items/{hostile_id(db)}/thumbnail").status_code == 404


def test_tags_and_notes_are_edited_through_the_forms(client: TestClient, db: Path) -> None:
    item = hostile_id(db)
    assert client.post(f"/items/{item}/tags", data={"csrf": CSRF, "tag": "威胁"}).status_code == 303
    assert client.post(f"/items/{item}/notes", data={"csrf": CSRF, "text": "called twice"})
    page = client.get(f"/items/{item}").text
    assert "威胁" in page
    assert "called twice" in page
    assert "tagged" in client.get(f"/items/{item}/custody").text
    with Archive(db) as archive:
        assert archive.item(item).tags == ("威胁",)
        assert [n.text for n in archive.item(item).notes] == ["called twice"]
    client.post(f"/items/{item}/tags/remove", data={"csrf": CSRF, "tag": "威胁"})
    with Archive(db) as archive:
        assert archive.item(item).tags == ()
    assert client.post(f"/items/{item}/tags", data={"csrf": CSRF, "tag": " "}).status_code == 400


def test_a_case_is_created_given_rules_and_its_items_linked_and_unlinked(
    client: TestClient, db: Path
) -> None:
    response = client.post(
        "/cases",
        data={"csrf": CSRF, "title": "Collector calls", "counterparties": "collect@lenderx.com"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/cases/collector-calls"
    item = hostile_id(db)
    page = client.get("/cases/collector-calls").text
    assert "collect@lenderx.com" in page
    assert f'href="/items/{item}"' in page
    client.post("/cases/collector-calls/unlink", data={"csrf": CSRF, "item": str(item)})
    with Archive(db) as archive:
        assert "collector-calls" not in archive.item(item).cases
    client.post(
        "/cases/collector-calls/link",
        data={"csrf": CSRF, "item": str(item), "next": "https://evil.example/"},
    )
    with Archive(db) as archive:
        assert "collector-calls" in archive.item(item).cases
    client.post("/cases/collector-calls/rules", data={"csrf": CSRF, "value": "95555"})
    client.post(
        "/cases/collector-calls/rules/remove",
        data={"csrf": CSRF, "kind": "address", "value": "collect@lenderx.com"},
    )
    with Archive(db) as archive:
        assert archive.case("collector-calls").rules == (("phone", "95555"),)
    duplicate = client.post("/cases", data={"csrf": CSRF, "title": "Collector calls"})
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.text


def test_the_timeline_filters_by_kind_and_date(client: TestClient) -> None:
    page = client.get(f"/cases/{CASE}/timeline", params={"kind": "sms"}).text
    assert "Text message</span>" in page
    assert "Email</span>" not in page
    page = client.get(
        f"/cases/{CASE}/timeline", params={"since": "2024-09-01", "until": "2024-09-30"}
    ).text
    assert all(d.startswith("2024-09") for d in re.findall(r'class="when">(\S+)', page))
    bad = client.get(f"/cases/{CASE}/timeline", params={"since": "yesterday"})
    assert bad.status_code == 200
    assert 'class="error"' in bad.text


def test_an_unknown_case_is_a_404(client: TestClient) -> None:
    assert client.get("/cases/nope").status_code == 404
    assert client.get("/cases/nope/timeline").status_code == 404


def test_export_runs_in_the_background_and_offers_the_bundle(
    client: TestClient, anonymous: TestClient
) -> None:
    response = client.post(f"/cases/{CASE}/export", data={"csrf": CSRF})
    assert response.status_code == 303
    job_page = response.headers["location"]
    assert re.fullmatch(r"/exports/[0-9a-f]{24}", job_page)
    deadline = time.monotonic() + 120
    while "Download the bundle" not in (page := client.get(job_page).text):
        assert 'http-equiv="refresh"' in page
        assert time.monotonic() < deadline, page
        time.sleep(0.3)
    bundle = client.get(job_page + "/download")
    assert bundle.status_code == 200
    assert bundle.headers["content-disposition"].startswith("attachment;")
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert any(n.endswith("/bagit.txt") for n in names)
    assert any(n.endswith("/data/index.html") for n in names)

    # Verifying that very bundle, dropped into the verify page: intact; one byte flipped: not.
    ok = client.post("/verify", data={"csrf": CSRF}, files={"bundle": ("case.zip", bundle.content)})
    assert ok.status_code == 200
    assert "is intact" in ok.text
    tampered = _flip_a_byte_of_an_original(bundle.content)
    bad = client.post("/verify", data={"csrf": CSRF}, files={"bundle": ("case.zip", tampered)})
    assert "has problems" in bad.text
    assert "originals/" in bad.text


def _flip_a_byte_of_an_original(bundle: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(bundle))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        flipped = False
        for info in source.infolist():
            data = source.read(info)
            if not flipped and "/data/originals/" in info.filename and data:
                data = bytes([data[0] ^ 1]) + data[1:]
                flipped = True
            target.writestr(info, data)
    return out.getvalue()


def test_verify_without_a_file_or_with_junk_says_so(client: TestClient) -> None:
    assert client.get("/verify").status_code == 200
    empty = client.post("/verify", data={"csrf": CSRF}, files={"bundle": ("", b"")})
    assert empty.status_code == 400
    assert "Choose a bundle" in empty.text
    junk = client.post("/verify", data={"csrf": CSRF}, files={"bundle": ("x.zip", b"not a zip")})
    assert junk.status_code in (200, 400)
    assert "intact" not in junk.text
    forged = client.post("/verify", data={"csrf": "no"}, files={"bundle": ("x.zip", b"PK")})
    assert forged.status_code == 403


def test_an_export_job_id_that_was_never_made_is_a_404(client: TestClient) -> None:
    assert client.get("/exports/" + "0" * 24).status_code == 404
    assert client.get("/exports/" + "0" * 24 + "/download").status_code == 404


# -- languages ---------------------------------------------------------------------------------


def test_pages_follow_the_interface_language(
    client: TestClient, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Archive(db) as archive:
        total = sum(archive.kind_counts().values())
    assert '<html lang="en">' in client.get("/").text
    monkeypatch.setenv("EVIDENCE_LANG", "zh_CN")
    page = client.get("/").text
    assert '<html lang="zh-CN">' in page
    assert "档案里有什么" in page
    assert f"{total} 条记录" in page
    assert "短信" in page  # kinds too
    item = client.get("/items/1").text
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", item)  # dates as Chinese write them
    refused = client.get("/", headers={"host": "evil.example"})
    assert "这个地址不由本程序提供" in refused.text


def test_every_message_of_the_review_app_has_a_chinese_translation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from babel.messages.extract import extract_from_dir

    from evidence_archiver import i18n

    source = Path(i18n.__file__).parent / "ui"
    monkeypatch.setenv("EVIDENCE_LANG", "zh_CN")
    catalogue = i18n.translations()
    missing = []
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(source),
        [("**/templates/**.html", "jinja2"), ("**.py", "python")],
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    ):
        if isinstance(message, tuple):
            translated = catalogue.ngettext(message[0], message[1], 2)
            english = message[1]
        else:
            translated, english = catalogue.gettext(message), message
        if translated == english and not english.startswith(("Message-ID", "e.g. 展期")):
            missing.append(english)
    assert not missing


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "/x\r\nSet-Cookie: a"],
)
def test_a_change_never_sends_the_browser_to_another_site(client: TestClient, target: str) -> None:
    response = client.post(f"/cases/{CASE}/link", data={"csrf": CSRF, "item": "1", "next": target})
    assert response.status_code == 303
    assert response.headers["location"] == "/items/1"

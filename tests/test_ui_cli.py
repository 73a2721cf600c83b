"""`evidence ui` as a user starts it: a subprocess serving the real server on 127.0.0.1."""

from __future__ import annotations

import http.cookiejar
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evidence_archiver.cli import app
from ui_support import build_archive


def test_ui_has_help_with_an_example() -> None:
    result = CliRunner().invoke(app, ["ui", "--help"])
    assert result.exit_code == 0
    assert "--no-browser" in result.output
    assert "--port" in result.output
    assert "Example: evidence ui" in result.output


def test_ui_on_a_missing_archive_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ui", "--no-browser", "--archive", str(tmp_path / "no.db")])
    assert result.exit_code == 2
    assert "evidence init" in result.output


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    db = build_archive(tmp_path / "archive")
    proc = subprocess.Popen(
        [sys.executable, "-m", "evidence_archiver", "ui", "--no-browser", "--archive", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    url = ""
    while not url:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, "evidence ui stopped before it served"
        assert time.monotonic() < deadline, "evidence ui did not print its address"
        found = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        url = found.group(0) if found else ""
    try:
        yield proc, url
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl+C, as a user stops it
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_the_server_serves_the_secret_link_and_refuses_anything_else(
    running: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = running
    base = url.split("/?")[0]
    port = int(base.rsplit(":", 1)[1])
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(base + "/", timeout=10)
    assert refused.value.code == 403
    refused.value.close()

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(url, timeout=10) as page:
        assert page.status == 200
        assert page.url == base + "/"  # the token left the address
        assert "What this archive holds" in page.read().decode()
    with opener.open(base + "/search?q=%E5%B1%95%E6%9C%9F", timeout=10) as page:
        assert "<mark>展期</mark>" in page.read().decode()

    # Only loopback: the port is not open on any other address of this machine.
    with socket.socket() as probe:
        probe.settimeout(2)
        other = socket.gethostbyname(socket.gethostname())
        if not other.startswith("127."):
            assert probe.connect_ex((other, port)) != 0

    # A 10 MB address: refused by the server without harm, and the app goes on.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        try:
            raw.sendall(b"GET /search?q=" + b"a" * (10 << 20) + b" HTTP/1.1\r\n")
            raw.sendall(f"Host: 127.0.0.1:{port}\r\n\r\n".encode())
            answer = raw.recv(200)
        except (BrokenPipeError, ConnectionResetError):
            answer = b""  # the server hung up on it
    assert answer == b"" or re.match(rb"HTTP/1\.1 4\d\d", answer)
    with opener.open(base + "/", timeout=10) as page:
        assert page.status == 200
    assert proc.poll() is None


def test_the_browser_is_sent_on_by_a_private_local_page(tmp_path: Path) -> None:
    from evidence_archiver.ui.server import launch_page

    url = "http://127.0.0.1:8765/?token=abc&x=1"
    page = launch_page(url, tmp_path / "open")
    assert page.stat().st_mode & 0o077 == 0  # this user's only
    assert (tmp_path / "open").stat().st_mode & 0o077 == 0
    text = page.read_text()
    assert 'http-equiv="refresh" content="0;url=http://127.0.0.1:8765/?token=abc&amp;x=1"' in text

"""The review app's real pages in headless Chromium (Debian's, driven by its chromedriver).

On the demo archive, through the real server: search for 展期, open a result, tag it, export
the case and download the bundle; and a screenshot check that Chinese is drawn with real
glyphs, not as "tofu" boxes. Skipped on a machine without Chromium, a failure in CI.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import IN_CI
from evidence_archiver import Archive
from evidence_archiver.export import verify_bundle
from evidence_archiver.ui import UiConfig
from evidence_archiver.ui.server import Prepared, prepare
from ui_support import build_archive

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The network is closed and the profile throwaway: nothing may reach out or update itself.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
    "--lang=zh-CN",
]

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def chromium() -> None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = f"Chromium and its driver are needed at {CHROMIUM} and {CHROMEDRIVER}"
        if IN_CI:
            pytest.fail(reason + " (apt install chromium chromium-driver)")
        pytest.skip(reason)


@pytest.fixture
def server(tmp_path: Path, chromium: None) -> Iterator[Prepared]:
    db = build_archive(tmp_path / "archive")
    prepared = prepare(UiConfig(archive=db, port=0, work_folder=tmp_path))
    thread = threading.Thread(target=prepared.run, name="test-ui-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not prepared.server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield prepared
    prepared.stop()
    thread.join(timeout=30)


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(tmp_path: Path, downloads: Path) -> Iterator[WebDriver]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, css: str, timeout: float = 30) -> object:
    return WebDriverWait(driver, timeout).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))


def test_search_open_tag_and_export_in_a_real_browser(
    server: Prepared, browser: WebDriver, downloads: Path
) -> None:
    browser.get(server.config.url)
    assert "token=" not in browser.current_url  # the secret left the address bar
    assert "What this archive holds" in browser.page_source

    box = browser.find_element(By.CSS_SELECTOR, ".quick-search input[name=q]")
    box.send_keys("展期")
    box.submit()
    wait_for(browser, "ol.hits")
    marks = [m.text for m in browser.find_elements(By.CSS_SELECTOR, "ol.hits mark")]
    assert marks
    assert set(marks) == {"展期"}

    browser.find_element(By.CSS_SELECTOR, "ol.hits a.hit").click()
    wait_for(browser, "article.item")
    item_id = int(browser.current_url.rstrip("/").rsplit("/", 1)[1])
    assert "展期" in browser.find_element(By.CSS_SELECTOR, "article.item").text

    tag_box = browser.find_element(By.CSS_SELECTOR, "input[name=tag]")
    tag_box.send_keys("承诺")
    browser.find_element(By.CSS_SELECTOR, "button[name=add-tag]").click()
    wait_for(browser, ".tags .tag")
    assert [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".tags .tag")] == ["承诺"]
    with Archive(server.config.archive) as archive:
        assert archive.item(item_id).tags == ("承诺",)

    browser.get(f"http://127.0.0.1:{server.config.port}/cases/lender-x-extension")
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    link = WebDriverWait(browser, 180).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "a#download")
    )[0]
    link.click()
    deadline = time.monotonic() + 60
    while not (bundles := list(downloads.glob("*.zip"))):
        assert time.monotonic() < deadline, "the bundle was not downloaded"
        time.sleep(0.2)
    time.sleep(0.5)  # Chromium renames the finished download into place; let it settle
    report = verify_bundle(bundles[0])
    assert report.ok, report.problems


TOFU = "\ue000\ue001\ue002\ue003"  # private-use characters: no font has them, always boxes


def test_chinese_is_drawn_with_real_glyphs(server: Prepared, browser: WebDriver) -> None:
    from PIL import Image, ImageChops

    # Tags of four characters each, side by side in the same style. Drawn as missing glyphs
    # ("tofu") two different Chinese words would be the same four boxes pixel for pixel, and
    # the same as four characters no font has.
    with Archive(server.config.archive) as archive:
        item = archive.search("展期")[0].id
        for tag in ("逾期罚息", "展期还款", TOFU):
            archive.tag(item, tag)
    browser.get(server.config.url)
    browser.get(f"http://127.0.0.1:{server.config.port}/items/{item}")
    tags = {t.text: t for t in browser.find_elements(By.CSS_SELECTOR, ".tags .tag")}
    assert set(tags) == {"逾期罚息", "展期还款", TOFU}
    shots = {
        text: Image.open(io.BytesIO(el.screenshot_as_png)).convert("L") for text, el in tags.items()
    }

    def differ(a: Image.Image, b: Image.Image) -> bool:
        size = (min(a.width, b.width), min(a.height, b.height))
        return (
            a.size != b.size
            or ImageChops.difference(a.crop((0, 0, *size)), b.crop((0, 0, *size))).getbbox()
            is not None
        )

    assert differ(shots["逾期罚息"], shots["展期还款"]), "two Chinese words look the same: tofu"
    assert differ(shots["逾期罚息"], shots[TOFU]), "Chinese looks like missing glyphs: tofu"
    assert min(shots["逾期罚息"].getextrema()) < 100  # dark strokes were drawn at all
    if keep := os.environ.get("EVIDENCE_UI_SCREENSHOTS"):  # a copy to look at
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "item-zh.png").write_bytes(browser.get_screenshot_as_png())
        for name, text in (("tag-zh.png", "逾期罚息"), ("tag-tofu.png", TOFU)):
            (Path(keep) / name).write_bytes(tags[text].screenshot_as_png)
    if shutil.which("fc-list"):
        fonts = subprocess.run(
            ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True
        ).stdout
        assert fonts.strip(), "fontconfig knows no font for Chinese (apt install fonts-wqy-zenhei)"

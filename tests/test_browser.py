"""The report in a real headless browser (Debian's chromium + chromedriver, via selenium).

Every page of the site is opened both from the file system (file://) and through the
``qa serve`` server on 127.0.0.1: no console errors, charts laid out with a real size,
and on call pages a click on an evidence time stamp moves the audio player there (which
over HTTP needs the server's Range support). A full-page screenshot of every page is
saved under ``test-artifacts/browser/``.

CI installs the browser with ``apt-get install -y chromium chromium-driver``; without
it these tests skip and say so.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from test_reports import make_report_workspace

from qa.reports import ReportOptions, build_site, make_server
from qa.store import Workspace

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
# The machine has no network: these flags stop Chromium's background calls home.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900",
)


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromedriver are not installed: apt-get install -y chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is missing: pip install -e '.[dev]' (or pip install selenium)")
    profile = tempfile.mkdtemp(prefix="qa-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    d.set_page_load_timeout(30)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _serve(root: Path) -> tuple[str, object, threading.Thread]:
    server = make_server(root, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_address[1]}/", server, thread


def _errors(driver) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _screenshot(driver, path: Path) -> None:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(600, min(int(height), 4000)))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)


def _check_charts(driver) -> int:  # type: ignore[no-untyped-def]
    """Every chart has a real size on screen, and bars with data have a real size too."""
    sizes = driver.execute_script(
        """return Array.from(document.querySelectorAll('svg.chart')).map(function (s) {
             var r = s.getBoundingClientRect();
             var bars = Array.from(s.querySelectorAll('rect.bar, circle.point')).filter(function (b) {
               return b.getAttribute('data-count') !== '0' && b.getAttribute('data-value') !== '0'; });
             var drawn = bars.filter(function (b) {
               var q = b.getBoundingClientRect(); return q.width > 0 && q.height > 0; });
             return [s.getAttribute('class'), r.width, r.height, bars.length, drawn.length];
           });"""
    )
    for cls, width, height, marks, drawn in sizes:
        assert width > 200 and height > 40, f"{cls} drawn {width}x{height}"
        assert drawn == marks, f"{cls}: {marks - drawn} of {marks} bars/points have no size"
    return len(sizes)


def _check_seek(driver, where: str) -> list[float]:  # type: ignore[no-untyped-def]
    """Click evidence time stamps; the player must move to each one's time."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    player = driver.find_element(By.ID, "player")
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("var a = arguments[0]; return a.error || a.readyState >= 1;", player)
    )
    error = driver.execute_script("var e = arguments[0].error; return e && (e.code + ' ' + e.message);", player)
    assert not error, f"{where}: the recording does not load in the browser: {error}"
    duration = driver.execute_script("return arguments[0].duration", player)
    # Seekable over the whole recording: from file://, and over HTTP only when the server
    # answers Range requests (a plain static server leaves this [0, 0] and seeks go to 0).
    seekable = driver.execute_script(
        "var s = arguments[0].seekable, out = [];"
        "for (var i = 0; i < s.length; i++) { out.push([s.start(i), s.end(i)]); } return out;", player)
    assert len(seekable) == 1 and seekable[0][0] == 0 and seekable[0][1] >= duration - 0.5, (
        f"{where}: recording not seekable: {seekable} of {duration} s"
    )
    buttons = [b for b in driver.find_elements(By.CSS_SELECTOR, "button.ts.evidence")
               if 0.5 < float(b.get_attribute("data-t")) < duration - 0.5]
    assert buttons, f"{where}: no evidence time stamp inside the recording"
    # The latest moment first (seeking forward from 0), then the earliest (seeking back).
    picks = [max(buttons, key=lambda b: float(b.get_attribute("data-t")))]
    if len(buttons) > 1:
        picks.append(min(buttons, key=lambda b: float(b.get_attribute("data-t"))))
    seen = []
    for button in picks:
        t = float(button.get_attribute("data-t"))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        button.click()
        WebDriverWait(driver, 10).until(
            lambda d, t=t: t - 0.05 <= d.execute_script("return arguments[0].currentTime", player) <= t + 2.0,
            message=f"{where}: the player did not move to {t}",
        )
        now = driver.execute_script("var a = arguments[0]; a.pause(); return a.currentTime;", player)
        assert t - 0.05 <= now <= t + 2.0
        seen.append(t)
    target = picks[-1].get_attribute("data-u")
    if target:
        # The utterance the evidence belongs to is scrolled into view (smoothly: wait).
        WebDriverWait(driver, 5).until(
            lambda d: d.execute_script(
                "var r = document.getElementById(arguments[0]).getBoundingClientRect();"
                "return r.bottom > 0 && r.top < window.innerHeight;", target),
            message=f"{where}: utterance {target} not scrolled into view",
        )
    return seen


def crawl(driver, start: str, shots: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Open the index, then every page it links to (and theirs), checking each one."""
    from selenium.webdriver.common.by import By

    base = start.rsplit("/", 1)[0] + "/"
    queue, seen = [start], set()
    report: dict[str, object] = {"pages": 0, "charts": 0, "seeks": {}, "errors": {}}
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        driver.get(url)
        assert driver.execute_script("return document.readyState") == "complete"
        rel = unquote(url[len(base):]) or "index.html"
        report["pages"] = int(report["pages"]) + 1  # type: ignore[call-overload]
        report["charts"] = int(report["charts"]) + _check_charts(driver)  # type: ignore[call-overload]
        if driver.find_elements(By.ID, "player"):
            report["seeks"][rel] = _check_seek(driver, rel)  # type: ignore[index]
        _screenshot(driver, shots / (rel.replace("/", "__") + ".png"))
        errors = _errors(driver)
        if errors:
            report["errors"][rel] = errors  # type: ignore[index]
        for a in driver.find_elements(By.CSS_SELECTOR, "a[href$='.html'], a[href*='.html#']"):
            href = a.get_attribute("href")
            link = href.split("#", 1)[0]
            if link.startswith(base) and link not in seen:
                queue.append(link)
    return report


def _check_site(driver, site_dir: Path, name: str, calls: int, managers: int) -> None:  # type: ignore[no-untyped-def]
    for mode in ("file", "http"):
        if mode == "file":
            report = crawl(driver, (site_dir / "index.html").resolve().as_uri(), ARTIFACTS / name / mode)
        else:
            url, server, thread = _serve(site_dir)
            try:
                report = crawl(driver, url + "index.html", ARTIFACTS / name / mode)
            finally:
                server.shutdown()  # type: ignore[attr-defined]
                server.server_close()  # type: ignore[attr-defined]
                thread.join(5)
        assert report["errors"] == {}, f"{mode}: console errors {report['errors']}"
        assert report["pages"] == 1 + managers + calls, report
        assert int(report["charts"]) >= 2 + 2 * managers  # type: ignore[call-overload]
        assert report["seeks"], f"{mode}: no call page had a player"


def test_synthetic_report_in_browser(driver, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The Russian call's recording is IMA ADPCM: the page must play the MP3 made of it.
    ws_path = make_report_workspace(tmp_path, adpcm=True)
    with Workspace(ws_path) as ws:
        site = build_site(ws, tmp_path / "site", options=ReportOptions(lang="ru"))
    assert site.converted == 1
    _check_site(driver, site.out_dir, "synthetic", site.calls, len(site.managers))
    assert (ARTIFACTS / "synthetic/file/calls__ru-1.html.png").is_file()


@pytest.mark.model
def test_sample_recordings_report_in_browser(driver, scored_samples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws_path, _ = scored_samples
    with Workspace(ws_path) as ws:
        site = build_site(ws, tmp_path / "site")
    assert site.audio_files == 9 and not site.missing_audio
    _check_site(driver, site.out_dir, "samples", site.calls, len(site.managers))


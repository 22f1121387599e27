"""The page in a real browser: headless Chromium driven by Selenium, against the real
``codecstyle serve`` in a subprocess.

A clip is uploaded through the file input and rendered; the progress bar reaches 100 %, the job
is followed again after a reload mid-render, and the result plays in the page's ``<video>``.
A text file named ``.mp4`` and a missing server path end in readable messages, and the server
keeps serving. Screenshots go to ``$CODECSTYLE_SCREENSHOTS`` (else the test's temporary folder).

Needs Debian's ``chromium`` and ``chromium-driver`` (system binaries; Selenium is never allowed
to download a browser or a driver): skipped without them.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("fastapi")

from clips import make_clip  # noqa: E402

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # the test extra is not installed
    webdriver = None

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(webdriver is None, reason="selenium is not installed (pip install '.[test]')"),
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="needs the system's chromium and chromedriver (apt-get install chromium chromium-driver)"),
]

#: Seconds a render of the small clip may take, from the click to the result.
RENDER_TIMEOUT = 120


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, dict(response.headers), response.read()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Where screenshots go: ``$CODECSTYLE_SCREENSHOTS`` when set."""
    folder = os.environ.get("CODECSTYLE_SCREENSHOTS") or str(tmp_path_factory.mktemp("screenshots"))
    os.makedirs(folder, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """128x96, 2 s at 25 fps, with a 440 Hz AAC track."""
    return make_clip(str(tmp_path_factory.mktemp("clips") / "moving pattern.mp4"), frames=50, audio=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real ``codecstyle serve`` on a free loopback port; yields its base URL."""
    root = tmp_path_factory.mktemp("serve")
    port = free_port()
    script = os.path.join(os.path.dirname(sys.executable), "codecstyle")
    command = [script] if os.path.exists(script) else [shutil.which("codecstyle") or "codecstyle"]
    log = open(root / "serve.log", "w")
    proc = subprocess.Popen(command + ["serve", "--port", str(port), "--jobs", str(root / "jobs")],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(root))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(url + "/", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("codecstyle serve did not answer:\n" + (root / "serve.log").read_text())
                time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--mute-audio", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    # An explicit driver path: Selenium Manager (which could download one) never runs.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(what, check, timeout, step=0.1):
    """``check()``'s first truthy answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


def panel(driver):
    """What the page shows of the current job."""
    return driver.execute_script("""
        const p = document.getElementById('progress');
        return {percent: Number(p.dataset.percent), value: p.value, state: document.getElementById('stage').className,
                status: document.getElementById('status').textContent,
                details: document.getElementById('details').textContent,
                error: document.getElementById('error').hidden ? '' : document.getElementById('error').textContent};""")


def finished_or(seen, state=None, percent=0):
    """``seen`` when the job is finished (or an error shows), or is in ``state`` with at least
    ``percent`` done; else None."""
    if any(f"is-{end}" in seen["state"] for end in ("done", "failed", "cancelled")) or seen["error"]:
        return seen
    if state and state in seen["state"] and seen["percent"] >= percent:
        return seen
    return None


def screenshot(driver, folder, name, full=False):
    """A PNG of the window, or of the whole page's height (``full``)."""
    path = os.path.join(folder, name)
    if not full:
        driver.save_screenshot(path)
        return path
    import base64

    width, height = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollHeight]")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    with open(path, "wb") as handle:
        handle.write(base64.b64decode(shot["data"]))
    return path


def open_page(driver, url):
    driver.get(url + "/")
    wait_for("the style thumbnails", lambda: driver.find_elements(
        By.CSS_SELECTOR, '.style-thumb[data-style="19"][aria-pressed="true"]'), 15)


def assert_no_script_errors(driver):
    errors = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and entry.get("source") != "network"]
    assert not errors, errors


def source_duration(path):
    import av

    with av.open(path) as container:
        return container.duration / 1e6


def test_upload_render_follow_and_play(server, browser, clip, shots):
    driver = browser
    started = time.monotonic()
    open_page(driver, server)
    assert len(driver.find_elements(By.CSS_SELECTOR, ".style-thumb")) == 26
    assert driver.find_element(By.CSS_SELECTOR, '.style-thumb[data-style="19"] img').get_attribute("loading") == "lazy"
    # The thumbnails render on their first request: let the visible ones arrive for the picture.
    try:
        wait_for("thumbnails", lambda: driver.execute_script(
            "return [...document.querySelectorAll('.style-thumb img')].slice(0, 12)"
            ".every(img => img.complete && img.naturalWidth > 0)"), 30, step=0.25)
    except AssertionError:
        pass  # a slow machine: the screenshot shows grey tiles, the test goes on
    screenshot(driver, shots, "1-loaded.png")

    driver.find_element(By.ID, "video-file").send_keys(clip)
    chosen = driver.find_element(By.ID, "video-chosen")
    wait_for("the chosen file's name", lambda: chosen.is_displayed() and "moving pattern.mp4" in chosen.text, 5)
    driver.find_element(By.CSS_SELECTOR, '.style-thumb[data-style="3"]').click()
    assert driver.find_element(By.CSS_SELECTOR, '.style-thumb[data-style="3"]').get_attribute("aria-pressed") == "true"
    driver.find_element(By.ID, "render").click()

    # Mid-render: catch the job running, then close and reopen the page: the unfinished job is
    # followed again (over its event stream: the list is only re-read every 10 s).
    seen = wait_for("the job to start", lambda: finished_or(panel(driver), "is-running"), 60)
    assert not seen["error"], seen
    if "is-running" in seen["state"]:
        screenshot(driver, shots, "2-starting.png")
        driver.refresh()
        seen = wait_for("the job again after a reload", lambda: finished_or(panel(driver), "is-running", 1), 60,
                        step=0.05)
        if "is-running" in seen["state"]:
            screenshot(driver, shots, "2-rendering.png")
    done = wait_for("the render to finish", lambda: finished_or(panel(driver)), RENDER_TIMEOUT, step=0.2)
    assert "is-done" in done["state"], done
    assert done["percent"] == 100 and done["value"] == 100, done
    assert done["status"].startswith("Done: 50 frames"), done
    row = driver.find_element(By.CSS_SELECTOR, "#jobs .job")
    assert "moving pattern.mp4" in row.text and "done" in row.text and "full" in row.text.lower()

    player = wait_for("the result in the player", lambda: (lambda v: v if v["readyState"] >= 1 else None)(
        driver.execute_script("const v = document.getElementById('player');"
                              "return {src: v.currentSrc, readyState: v.readyState, duration: v.duration,"
                              "        width: v.videoWidth, height: v.videoHeight};")), 20)
    assert player["src"].startswith(server + "/api/jobs/") and player["src"].endswith("/result"), player
    assert abs(player["duration"] - source_duration(clip)) <= 0.15, player
    assert (player["width"], player["height"]) == (128, 96), player
    href = driver.find_element(By.ID, "download").get_attribute("href")
    assert href == player["src"] + "?download=1"
    status, headers, body = get(href)
    assert status == 200 and headers["content-disposition"].startswith("attachment") and len(body) > 1000
    screenshot(driver, shots, "3-done.png")

    # A phone: 390x844 CSS pixels, a mobile viewport.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    try:
        wait_for("the narrow layout", lambda: driver.execute_script("return window.innerWidth") == 390, 5)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px at phone size"
        driver.execute_script("document.getElementById('stage').scrollIntoView()")
        screenshot(driver, shots, "4-phone.png")
        screenshot(driver, shots, "4-phone-full.png", full=True)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert_no_script_errors(driver)
    print(f"render test: {time.monotonic() - started:.1f} s; screenshots in {shots}")


def test_bad_upload_and_bad_path_show_readable_errors(server, browser, tmp_path, shots):
    driver = browser
    open_page(driver, server)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    driver.find_element(By.ID, "video-file").send_keys(str(text))
    driver.find_element(By.ID, "render").click()
    error = driver.find_element(By.ID, "error")
    wait_for("the failure message", lambda: error.is_displayed() and error.text, 60)
    message = error.text
    assert message.startswith("The render failed: ") and "not a readable video" in message, message
    assert "notes.mp4" in message and "/jobs/" not in message, message  # the server's folder is not shown
    assert "Traceback" not in message and "{" not in message
    assert "failed" in driver.find_element(By.CSS_SELECTOR, "#jobs .job.is-failed").text
    screenshot(driver, shots, "5-bad-upload.png", full=True)

    # A refused submission (422) shows the server's one line near the buttons.
    driver.find_element(By.ID, "video-clear").click()
    driver.find_element(By.ID, "server-path").send_keys("/no/such/film.mp4")
    driver.find_element(By.ID, "preview").click()
    wait_for("the refusal", lambda: error.is_displayed() and error.text == "no such file: /no/such/film.mp4", 10)

    status, _, body = get(server + "/api/jobs")
    assert status == 200 and len(json.loads(body)["jobs"]) >= 1
    status, _, body = get(server + "/")
    assert status == 200 and b'id="render"' in body


def test_preview_plays_from_the_chosen_time(server, browser, clip, shots):
    driver = browser
    open_page(driver, server)
    driver.find_element(By.ID, "video-file").send_keys(clip)
    start = driver.find_element(By.ID, "preview-start")
    start.clear()
    start.send_keys("0:00.5")
    driver.find_element(By.ID, "preview").click()
    done = wait_for("the preview", lambda: finished_or(panel(driver)), RENDER_TIMEOUT, step=0.2)
    assert "is-done" in done["state"] and done["percent"] == 100, done
    player = wait_for("the preview in the player", lambda: (lambda v: v if v["readyState"] >= 1 else None)(
        driver.execute_script("const v = document.getElementById('player');"
                              "return {src: v.currentSrc, readyState: v.readyState, duration: v.duration, loop: v.loop};")),
        20)
    assert player["loop"], player  # a preview loops
    assert abs(player["duration"] - (source_duration(clip) - 0.5)) <= 0.15, player
    title = driver.find_element(By.ID, "current-title").text.lower()
    assert "preview from 00:00.5" in title, title
    row = driver.find_element(By.CSS_SELECTOR, "#jobs .job.is-current")
    assert "preview" in row.text.lower() and "done" in row.text, row.text
    job_id = row.get_attribute("data-id")
    _, _, body = get(f"{server}/api/jobs/{job_id}")
    job = json.loads(body)
    assert job["preview"] and job["options"]["start"] == 0.5 and job["options"]["duration"] == 3.0, job
    screenshot(driver, shots, "6-preview.png")
    assert_no_script_errors(driver)

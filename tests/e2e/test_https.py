"""The app on a ward network, in a real Chromium: opened by a host name that is not localhost (Chromium's
``--host-resolver-rules`` maps it to 127.0.0.1), over HTTPS with a certificate from a private CA that the
browser trusts only through the CA's SPKI hash (``--ignore-certificate-errors-spki-list``, as a tablet that
installed the CA would), the Live tab streams Chromium's fake camera and gets acks over wss. The same page
over plain HTTP on that name is not a secure context: the camera cannot start, and the page says why."""
from __future__ import annotations

import os
import tempfile
from typing import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from deploy.certificates import ensure_certificates, spki_sha256
from tests import synthetic
from tests.e2e.browser import Browser, page_errors, require_browser, write_y4m
from tests.server_process import ServerProcess

WARD_HOST = "painscope.ward.test"  # .test: reserved, never a real name (RFC 2606)
WAIT_S = 90  # generous: CI machines are slow and shared; nothing asserts a duration
ACKS = 5


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return ensure_certificates(tmp_path_factory.mktemp("tls"), [WARD_HOST])


@pytest.fixture(scope="module")
def https_server(certificates) -> Iterator[ServerProcess]:
    require_browser()
    env = {"PAINSCOPE_TLS_CERT": str(certificates.server_chain), "PAINSCOPE_TLS_KEY": str(certificates.server_key)}
    with ServerProcess(env=env, ca_file=str(certificates.ca)) as process:
        yield process


@pytest.fixture(scope="module")
def camera_file() -> Iterator[str]:
    handle = tempfile.NamedTemporaryFile(suffix=".y4m", delete=False)
    handle.close()
    write_y4m(handle.name, [synthetic.camera_frame(synthetic.astronaut_face())] * 30)
    yield handle.name
    os.unlink(handle.name)


def _ward_browser(camera_file: str, certificates, port: int, language: str = "en-GB,en") -> Browser:
    return Browser(camera_y4m=camera_file, flags=(
        f"--host-resolver-rules=MAP {WARD_HOST} 127.0.0.1",
        f"--ignore-certificate-errors-spki-list={spki_sha256(certificates.ca)}",
        f"--accept-lang={language}",
    ))


def _wait(driver, condition, message):
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(condition, message)


def test_over_https_by_its_ward_name_the_live_tab_streams_the_camera_over_wss(https_server, camera_file,
                                                                             certificates):
    browser = _ward_browser(camera_file, certificates, https_server.port)
    try:
        url = f"https://{WARD_HOST}:{https_server.port}"
        browser.log_in(url, https_server.user, https_server.password)
        driver = browser.driver
        assert driver.execute_script("return window.isSecureContext && location.protocol") == "https:"
        driver.find_element(By.ID, "tab-live").click()
        driver.find_element(By.ID, "live-start").click()
        _wait(driver, lambda d: d.execute_script("return window.painscope.liveResultCount") >= ACKS,
              "no live acks over HTTPS")
        assert not driver.find_element(By.ID, "live-error").is_displayed()
        socket_url = driver.execute_script("return window.painscope.liveSocketUrl")
        assert socket_url.startswith(f"wss://{WARD_HOST}:{https_server.port}/socket.io/"), socket_url
        driver.find_element(By.ID, "live-stop").click()
        assert page_errors(driver) == []
    finally:
        browser.close()


def test_over_plain_http_by_its_ward_name_the_camera_cannot_start_and_the_page_says_why(server, camera_file,
                                                                                       certificates):
    browser = _ward_browser(camera_file, certificates, server.port)
    try:
        url = f"http://{WARD_HOST}:{server.port}"
        browser.log_in(url, server.user, server.password)
        driver = browser.driver
        assert driver.execute_script("return window.isSecureContext") is False
        driver.find_element(By.ID, "tab-live").click()
        driver.find_element(By.ID, "live-start").click()
        error = _wait(driver, EC.visibility_of_element_located((By.ID, "live-error")), "no reason was shown")
        assert "HTTPS" in error.text and "https://" in error.text, error.text
        assert driver.execute_script("return window.painscope.liveResultCount || 0") == 0
    finally:
        browser.close()


def test_a_german_browser_is_told_why_in_german(server, camera_file, certificates):
    browser = _ward_browser(camera_file, certificates, server.port, language="de-DE,de")
    try:
        browser.log_in(f"http://{WARD_HOST}:{server.port}", server.user, server.password)
        driver = browser.driver
        assert driver.find_element(By.ID, "tab-live").text == "Live-Kamera"
        driver.find_element(By.ID, "tab-live").click()
        driver.find_element(By.ID, "live-start").click()
        error = _wait(driver, EC.visibility_of_element_located((By.ID, "live-error")), "no reason was shown")
        assert error.text.startswith("Diese Seite wurde über unverschlüsseltes HTTP geöffnet"), error.text
        assert f"https://{WARD_HOST}/" in error.text
        assert driver.find_element(By.ID, "live-status").text == "Kamera braucht HTTPS"
    finally:
        browser.close()

"""Headless Debian Chromium driven by chromedriver, with a fake webcam playing a test video."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Sequence

import cv2
import numpy as np

from tests.prerequisites import missing
from tests.synthetic import CAMERA_SIZE

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CAMERA_FPS = 15
LOGIN_WAIT_S = 30  # generous on a busy CI machine; nothing asserts a duration

# Records every phrase handed to speechSynthesis.speak (headless Chromium has no voices).
SPEECH_SPY = """
window.__spoken = [];
if (window.speechSynthesis) {
  const original = window.speechSynthesis.speak.bind(window.speechSynthesis);
  window.speechSynthesis.speak = (utterance) => { window.__spoken.push(utterance.text); return original(utterance); };
}
"""


# Records what the page's own scripts report as errors (console.error, uncaught errors and
# rejections) and every Content-Security-Policy violation; a failed request's network line is
# the browser's, not the page's, and is not counted. Read with page_errors().
PAGE_ERROR_SPY = """
window.__pageErrors = [];
const reportError = console.error.bind(console);
console.error = (...args) => { window.__pageErrors.push(args.map(String).join(' ')); reportError(...args); };
window.addEventListener('error', (event) => window.__pageErrors.push(String(event.message)));
window.addEventListener('unhandledrejection', (event) => window.__pageErrors.push(String(event.reason)));
document.addEventListener('securitypolicyviolation',
  (event) => window.__pageErrors.push(`CSP blocked ${event.blockedURI} (${event.violatedDirective})`));
"""


def page_errors(driver) -> list[str]:
    """What PAGE_ERROR_SPY recorded on the current page."""
    return driver.execute_script("return window.__pageErrors")


def require_browser() -> None:
    """Skip without a browser, except in CI, where a missing browser is a failure."""
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return
    message = f"{CHROMIUM} and {CHROMEDRIVER} are needed (Debian packages chromium, chromium-driver)"
    missing(message)


def write_y4m(path: str, frames: Sequence[np.ndarray], fps: int = CAMERA_FPS) -> None:
    """Write RGB frames as a YUV4MPEG2 (4:2:0) file, the format Chromium's fake camera plays."""
    width, height = CAMERA_SIZE
    with open(path, "wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            handle.write(b"FRAME\n")
            handle.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())


class Browser:
    """A Chromium session with a fresh profile; ``close()`` removes the profile."""

    def __init__(self, camera_y4m: str | None = None, flags: Sequence[str] = ()) -> None:
        """``flags``: more Chromium switches (a host-resolver rule, a trusted certificate's SPKI hash, ...)."""
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="painscope-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-quic", f"--user-data-dir={self.profile}", "--window-size=1280,900",
            "--autoplay-policy=no-user-gesture-required",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        ):
            options.add_argument(flag)
        if camera_y4m:
            options.add_argument(f"--use-file-for-fake-video-capture={camera_y4m}")
        for flag in flags:
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        for spy in (SPEECH_SPY, PAGE_ERROR_SPY):
            self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": spy})

    def log_in(self, base_url: str, name: str, password: str) -> None:
        """Log in through the login page, as a clinician would; the session cookie stays in this profile."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.get(base_url + "/login")
        self.driver.find_element(By.ID, "login-name").send_keys(name)
        self.driver.find_element(By.ID, "login-password").send_keys(password)
        self.driver.find_element(By.ID, "login-submit").click()
        WebDriverWait(self.driver, LOGIN_WAIT_S).until(
            lambda d: d.find_elements(By.ID, "logout"), "the login did not lead to the page"
        )

    def close(self) -> None:
        """Quit the browser and delete its profile."""
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

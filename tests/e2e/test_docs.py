"""/docs in a real headless Chromium against the real server: Swagger UI lists the API under the site's CSP."""
from __future__ import annotations

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.browser import page_errors

WAIT_S = 60  # generous: CI machines are slow and shared; nothing asserts a duration


def _wait(driver, condition, message):
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(condition, message)


def test_swagger_ui_lists_every_operation_without_a_csp_violation(server, browser):
    document = requests.get(server.base_url + "/openapi.json", headers=server.headers, timeout=30).json()
    expected = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    driver = browser.driver
    driver.find_element(By.ID, "nav-docs").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#swagger-ui .opblock"), "Swagger UI listed nothing")
    _wait(driver, lambda d: d.execute_script("return document.getElementById('swagger-ui').dataset.ready"),
          "Swagger UI did not finish loading /openapi.json")
    shown = {
        (block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text.strip(),
         block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"))
        for block in driver.find_elements(By.CSS_SELECTOR, "#swagger-ui .opblock")
    }
    assert shown == expected
    assert driver.find_element(By.CSS_SELECTOR, "#swagger-ui .info .title").text.startswith("PainScope API")
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map((entry) => entry.name)")
    assert loaded and all(url.startswith(server.base_url + "/") for url in loaded), loaded  # nothing from elsewhere
    assert page_errors(driver) == []


def _try_it_out(driver, tag, operation_id):
    """Expand one operation of the loaded /docs, press Try it out and Execute; the status code shown."""
    block = _wait(driver, lambda d: d.find_element(By.ID, f"operations-{tag.replace(' ', '_')}-{operation_id}"),
                  f"{operation_id} is not listed")
    if not block.find_elements(By.CSS_SELECTOR, ".try-out__btn"):
        block.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    _wait(driver, lambda d: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"), "no Try it out button")
    block.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    block.find_element(By.CSS_SELECTOR, ".execute").click()
    status = ".live-responses-table tbody .response-col_status"
    cells = _wait(driver, lambda d: block.find_elements(By.CSS_SELECTOR, status), f"{operation_id}: no response")
    return cells[0].text.strip().split()[0]


def test_try_it_out_calls_the_api_with_the_login_and_its_csrf_token(server, browser):
    driver = browser.driver
    driver.get(server.base_url + "/docs")
    assert _try_it_out(driver, "patient records", "records_api_list_patients") == "200"
    # a change with the session cookie needs the X-CSRFToken header that docs.js adds
    assert _try_it_out(driver, "heart-rate sessions", "rppg_api_create_session") == "201"
    sessions = requests.get(server.base_url + "/api/v1/rppg/sessions", headers=server.headers, timeout=30).json()
    assert len(sessions["sessions"]) == 1
    assert page_errors(driver) == []

"""The operator console in Debian's headless Chromium, against a running demo.

Run by the e2e test `console.rs` (through `.ci/console-test`), which starts
the server and the demo field and passes, in the environment:
  NEXUS_BASE        the server, e.g. http://127.0.0.1:41234
  NEXUS_PASSWORD    the password of the three users below
  NEXUS_OPERATOR, NEXUS_VIEWER, NEXUS_ADMIN   their emails (tenant `demo`)
  NEXUS_SCREENSHOTS where to write the screenshots (docs/console to refresh
                    the README's)
  NEXUS_WELLS       how many wells the demo field has
It prints one line `METRICS {json}` with what it measured and exits non-zero
on the first step that does not happen.
"""

import gzip
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["NEXUS_BASE"].rstrip("/")
PASSWORD = os.environ["NEXUS_PASSWORD"]
SHOTS = os.environ["NEXUS_SCREENSHOTS"]
WELLS = int(os.environ["NEXUS_WELLS"])
os.makedirs(SHOTS, exist_ok=True)
metrics = {}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    viewport(driver, 1280, 800)
    return driver


def viewport(driver, width, height):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def wait(driver, what, condition, seconds=30):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: condition(d))
    except TimeoutException:
        shot(driver, "failed-" + what.replace(" ", "-"))
        raise SystemExit(f"timed out after {seconds} s waiting for: {what}\n{driver.current_url}\n"
                         f"{driver.find_element(By.TAG_NAME, 'main').text[:2000]}")


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def shot(driver, name):
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def login(driver, email, screenshot=None):
    driver.get(BASE + "/#/login")
    wait(driver, "the login form", lambda d: css(d, "#email"))
    css(driver, "#email")[0].send_keys(email)
    css(driver, "#password")[0].send_keys(PASSWORD)
    if screenshot:
        shot(driver, screenshot)
    css(driver, "form.login button[type=submit]")[0].click()
    wait(driver, "the field map after login", lambda d: css(d, "svg.map"))


def logout(driver):
    css(driver, "#logout")[0].click()
    wait(driver, "the login form after logout", lambda d: css(d, "#email"))


def first_load(driver):
    """Bytes of the console's first load (HTML, scripts, styles) as sent:
    the compressed bodies, from the browser's resource timing."""
    entries = driver.execute_script("""
        const nav = performance.getEntriesByType('navigation').map(e => ({name: e.name, type: 'document', bytes: e.encodedBodySize, raw: e.decodedBodySize}));
        const res = performance.getEntriesByType('resource').filter(e => e.name.includes('/console/'))
          .map(e => ({name: e.name, type: e.initiatorType, bytes: e.encodedBodySize, raw: e.decodedBodySize}));
        return nav.concat(res);""")
    return entries


def run():
    driver = browser()
    try:
        # --- an operator: map, a live well, an alarm, a recommendation ---
        log("operator logs in")
        login(driver, os.environ["NEXUS_OPERATOR"], screenshot="login")
        wait(driver, f"the map with the demo's {WELLS} wells",
             lambda d: len(css(d, "svg.map a[data-well]")) == WELLS, 30)
        loaded = first_load(driver)
        metrics["first_load_files"] = len(loaded)
        metrics["first_load_bytes_sent"] = sum(e["bytes"] for e in loaded)
        metrics["first_load_bytes_raw"] = sum(e["raw"] for e in loaded)
        assert metrics["first_load_bytes_sent"] < 500_000, loaded
        # The same files fetched with gzip: what was sent is what they weigh compressed.
        gz = 0
        for e in loaded:
            req = urllib.request.Request(e["name"].split("#")[0], headers={"Accept-Encoding": "gzip"})
            with urllib.request.urlopen(req) as r:
                body = r.read()
                assert r.headers.get("Content-Encoding") == "gzip", e["name"]
                assert not r.headers.get("Content-Security-Policy") is None, e["name"]
                gz += len(body)
                gzip.decompress(body)
        metrics["first_load_bytes_gzip"] = gz
        time.sleep(1)
        shot(driver, "map")

        log("operator opens ESP-01")
        esp = [a for a in css(driver, "svg.map a[data-well]") if a.get_attribute("data-well") == "ESP-01"][0]
        esp.click()
        wait(driver, "the well's page", lambda d: "#/wells/" in d.current_url)
        href = driver.current_url
        chart = 'div.chart[data-key="flow_rate"]'
        wait(driver, "a flow-rate trend", lambda d: css(d, chart + "[data-points]"))
        before = int(css(driver, chart)[0].get_attribute("data-points"))
        wait(driver, "the trend to update live", lambda d: int(css(d, chart)[0].get_attribute("data-points")) > before + 2, 20)
        metrics["trend_points_grew"] = [before, int(css(driver, chart)[0].get_attribute("data-points"))]
        wait(driver, "the ESP operating point", lambda d: "bbl/d at" in d.find_element(By.ID, "env-h").find_element(By.XPATH, "..").text, 20)
        wait(driver, "the setpoints", lambda d: css(d, 'tr[data-setpoint="frequency_hz"]'))
        shot(driver, "well")
        driver.execute_script("document.getElementById('env-h').scrollIntoView()")
        shot(driver, "well-esp")
        # Time to first trend, from navigation to the first drawn trend, on
        # fresh loads of the well's page.
        samples = []
        for _ in range(5):
            driver.get("about:blank")
            driver.get(href)
            t = wait(driver, "the first trend", lambda d: d.execute_script("return window.nexusFirstTrend"), 20)
            samples.append(round(t["sinceNavigationMs"]))
        metrics["first_trend_ms"] = samples
        metrics["first_trend_ms_median"] = statistics.median(samples)
        log("time to first trend", samples)

        log("operator acknowledges an alarm")
        driver.get(BASE + "/#/alarms")
        unacked = 'tr[data-alarm] .b-active-unack'
        wait(driver, "an active unacknowledged alarm (the demo's first pump-off)", lambda d: css(d, unacked), 150)
        row = css(driver, unacked)[0].find_element(By.XPATH, "ancestor::tr")
        alarm_id = row.get_attribute("data-alarm")
        row.click()
        wait(driver, "the alarm's acknowledge button", lambda d: css(d, '[data-action="ack"]'))
        css(driver, '[data-action="ack"]')[0].click()
        operator_name = os.environ["NEXUS_OPERATOR"]
        wait(driver, "the acknowledgement among the alarm's events, with its actor",
             lambda d: any(operator_name in r.text for r in css(d, '[data-event="ACKNOWLEDGED"]')), 20)
        metrics["acknowledged_alarm"] = alarm_id
        shot(driver, "alarms")

        log("operator approves a gas-lift recommendation")
        driver.get(BASE + "/#/recommendations")
        proposed = 'article.rec[data-status="PROPOSED"]'
        gas_lift = lambda d: [a for a in css(d, proposed) if "gas_injection_mscf_d" in a.text]
        wait(driver, "a proposed gas-lift recommendation", gas_lift, 150)
        rec = gas_lift(driver)[0]
        rec_id = rec.get_attribute("data-recommendation")
        rec.find_element(By.CSS_SELECTOR, '[data-action="approve"]').click()
        selector = f'article.rec[data-recommendation="{rec_id}"]'
        wait(driver, "the recommendation to reach CONFIRMED",
             lambda d: css(d, selector) and css(d, selector)[0].get_attribute("data-status") == "CONFIRMED", 90)
        wait(driver, "its history to show CONFIRMED",
             lambda d: css(d, selector + ' li[data-to="CONFIRMED"]'), 20)
        metrics["confirmed_recommendation"] = rec_id
        driver.execute_script("arguments[0].scrollIntoView()", css(driver, selector)[0])
        shot(driver, "recommendations")

        driver.get(BASE + "/#/health")
        wait(driver, "the ingest rate", lambda d: "points/s" in d.find_element(By.CSS_SELECTOR, ".big").text, 20)
        time.sleep(2)
        shot(driver, "health")
        logout(driver)

        # --- a viewer: no approve or acknowledge control, and the API refuses anyway ---
        log("viewer looks")
        login(driver, os.environ["NEXUS_VIEWER"])
        driver.get(BASE + "/#/recommendations")
        wait(driver, "recommendations for the viewer", lambda d: css(d, "article.rec"), 30)
        assert not css(driver, '[data-action="approve"]'), "a viewer sees an approve button"
        assert "/#/plugins" not in [a.get_attribute("href").replace(BASE, "") for a in css(driver, "nav a") if a.is_displayed()]
        pending = [a.get_attribute("data-recommendation") for a in css(driver, proposed)]
        if pending:
            status = driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                const s = JSON.parse(sessionStorage.getItem('nexus.session'));
                fetch('/api/recommendations/' + arguments[0] + '/approve', {method: 'POST',
                  headers: {authorization: 'Bearer ' + s.access, 'content-type': 'application/json'}, body: '{}'})
                  .then(r => done(r.status));""", pending[0])
            assert status == 403, f"the API let a viewer approve: {status}"
            metrics["viewer_approve_status"] = status
        driver.get(BASE + "/#/alarms")
        wait(driver, "alarms for the viewer", lambda d: css(d, "tr[data-alarm]"), 30)
        css(driver, "tr[data-alarm]")[0].click()
        wait(driver, "the alarm's events", lambda d: css(d, "[data-event]"), 20)
        assert not css(driver, '[data-action="ack"], [data-action="clear"]'), "a viewer sees alarm actions"
        logout(driver)

        # --- a tenant admin uploads a broken component ---
        log("tenant admin uploads an invalid component")
        login(driver, os.environ["NEXUS_ADMIN"])
        driver.get(BASE + "/#/plugins")
        wait(driver, "the upload form", lambda d: css(d, "#up-file"), 30)
        wait(driver, "the plugins table", lambda d: css(d, "tr[data-plugin]"), 30)
        broken = os.path.join(tempfile.mkdtemp(), "broken.wasm")
        with open(broken, "wb") as f:
            f.write(b"\0asm\x01\0\0\0 this is not a component")
        css(driver, "#up-file")[0].send_keys(broken)
        css(driver, "#up-name")[0].send_keys("broken-rule")
        css(driver, "#up-kind option[value='alarm-rule']")[0].click()
        css(driver, "form[aria-labelledby='up-h'] button[type=submit]")[0].click()
        wait(driver, "the validator's reason", lambda d: css(d, "#upload-result .problem"), 30)
        reason = css(driver, "#upload-result .problem")[0].text
        assert "code:" in reason, reason
        metrics["upload_refusal"] = reason
        driver.execute_script("arguments[0].scrollIntoView()", css(driver, "form[aria-labelledby='up-h']")[0])
        shot(driver, "plugins")

        # --- the map on a tablet ---
        viewport(driver, 820, 1180)
        driver.get(BASE + "/#/map")
        wait(driver, "the map on a tablet", lambda d: len(css(d, "svg.map a[data-well]")) == WELLS, 30)
        time.sleep(1)
        shot(driver, "map-tablet")
    finally:
        driver.quit()


run()
print("METRICS " + json.dumps(metrics), flush=True)

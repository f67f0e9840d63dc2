#!/usr/bin/env python3
"""The coordinator's console in a real browser: Debian's Chromium, headless, driven by
python3-selenium through chromium-driver, against the real eropaf-server on loopback.

Usage: console_browser.py --build BUILD_DIR [--only NAME] [--list]

Every check is a function `check_*`; each runs against a fresh server (its own data folder) and
fails the run with a message. Screenshots of each page land in BUILD_DIR/browser-artifacts/.
axe-core (tests/browser/node_modules, installed by scripts/setup from the committed lockfile) is
injected into every page and must report no serious or critical violation.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

HERE = os.path.dirname(os.path.abspath(__file__))
AXE = os.path.join(HERE, "node_modules", "axe-core", "axe.min.js")


class Failure(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise Failure(message)


def totp(secret_b32, at=None, step=30, digits=6):
    """RFC 6238 with HMAC-SHA1, as an authenticator app computes it."""
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % (10 ** digits)
    return str(code).zfill(digits)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real eropaf-server process on a fresh data folder."""

    def __init__(self, build, extra_args=()):
        self.build = build
        self.binary = os.path.join(build, "sync-server", "eropaf-server")
        self.data = tempfile.mkdtemp(prefix="eropaf-browser-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(self.data, "server.log"), "w")
        self.proc = subprocess.Popen(
            [self.binary, "--data", self.data, "--listen", "127.0.0.1:%d" % self.port, *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/v1/health", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise Failure("eropaf-server did not answer on %s" % self.url)

    def admin(self, *args):
        out = subprocess.run([self.binary, "admin", "--data", self.data, *args],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise Failure("admin %s failed: %s" % (" ".join(args), out.stderr.strip()))
        return out.stdout.strip()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)


class Browser:
    def __init__(self, artifacts):
        self.artifacts = artifacts
        opts = Options()
        opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--lang=nl-NL"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_page_load_timeout(20)

    def open(self, url):
        self.driver.get(url)

    def wait_for(self, css, timeout=10):
        try:
            return WebDriverWait(self.driver, timeout).until(
                lambda d: d.find_element(By.CSS_SELECTOR, css))
        except TimeoutException:
            self.driver.save_screenshot(os.path.join(self.artifacts, "timeout.png"))
            main = self.driver.find_elements(By.ID, "main")
            raise Failure("no %s after %d s; the page shows: %r; console log: %s" % (
                css, timeout, main[0].text[:500] if main else "", self.driver.get_log("browser")))

    def js_errors(self):
        """Console entries of level SEVERE since the last call (JS errors, CSP refusals)."""
        # The one expected network refusal: the shell asking the session before anyone logged in
        # (401). Any other failed request, script error or CSP refusal counts.
        return [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE" and
                not (e.get("source") == "network" and "/v1/console/session" in e.get("message", "")
                     and "401" in e.get("message", ""))]

    def axe(self, name):
        """Runs axe-core on the page; returns the serious and critical violations."""
        with open(AXE, encoding="utf-8") as f:
            self.driver.execute_script(f.read())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));")
        bad = [v for v in result if v.get("impact") in ("serious", "critical")]
        with open(os.path.join(self.artifacts, name + ".axe.json"), "w") as f:
            json.dump(result, f, indent=1)
        return bad

    def page(self, name):
        """The checks every page gets: a screenshot, no JS error, no serious axe finding."""
        self.driver.save_screenshot(os.path.join(self.artifacts, name + ".png"))
        errors = self.js_errors()
        expect(not errors, "%s: JavaScript errors in the console log: %s" % (name, errors))
        bad = self.axe(name)
        expect(not bad, "%s: accessibility violations: %s" % (
            name, [(v["id"], v["impact"], v["help"]) for v in bad]))

    def quit(self):
        self.driver.quit()


def headers_of(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return {k.lower(): v for k, v in r.getheaders()}


# --- checks ----------------------------------------------------------------------------------


def check_pages_load_with_security_headers(build, artifacts):
    server = Server(build)
    browser = Browser(artifacts)
    try:
        h = headers_of(server.url + "/console/")
        csp = h.get("content-security-policy", "")
        expect("script-src 'self'" in csp and "frame-ancestors 'none'" in csp,
               "the console page's Content-Security-Policy is not strict: %r" % csp)
        expect("unsafe-inline" not in csp, "the CSP allows inline script or style: %r" % csp)
        expect(h.get("x-content-type-options") == "nosniff", "no X-Content-Type-Options: nosniff")
        expect(h.get("referrer-policy") == "no-referrer", "no Referrer-Policy: no-referrer")
        chart = urllib.request.urlopen(server.url + "/console/vendor/chart.min.js", timeout=5).read()
        with open("/usr/share/javascript/chart.js/chart.min.js", "rb") as f:
            expect(chart == f.read(), "the served Chart.js is not Debian's")
        browser.open(server.url + "/console/")
        browser.wait_for("form#login")
        browser.page("inloggen")
        browser.open(server.url + "/console/#instellen")
        browser.wait_for("form#setup")
        browser.page("instellen")
    finally:
        browser.quit()
        server.stop()


class Phone:
    """A worker's phone: the real eropaf CLI with its own store, enrolled at the server."""

    def __init__(self, server, worker_id):
        self.cli = os.path.join(server.build, "tools", "eropaf", "eropaf")
        self.home = os.path.join(server.data, "phone-" + worker_id)
        code = server.admin("enroll-code", worker_id).split()[-1]
        self.run("enroll", "--server", server.url, "--code", code, "--name", "phone")

    def run(self, *args):
        out = subprocess.run([self.cli, "--home", self.home, "--json", *args], capture_output=True,
                             text=True, check=False)
        if out.returncode != 0:
            raise Failure("eropaf %s: %s %s" % (" ".join(args), out.stdout, out.stderr))
        return json.loads(out.stdout) if out.stdout.strip() else {}


def field_day_server(build):
    server = Server(build)
    server.admin("add-wijk", "WK015301", "Centrum")
    server.admin("add-worker", "--id", "co-1", "--name", "Carla Coördinator", "--role", "coordinator",
                 "--wijk", "WK015301")
    server.admin("add-worker", "--id", "zm-1", "--name", "Zeynep Zorg", "--role", "zorgmedewerker",
                 "--wijk", "WK015301")
    server.admin("add-worker", "--id", "wc-1", "--name", "Wim Coach", "--role", "wijkcoach",
                 "--wijk", "WK015301")
    return server


def console_login(browser, server, worker_id, password="een lang wachtwoord 42"):
    """Sets up the worker's console account with a one-time code and logs in; returns the TOTP
    secret."""
    code = server.admin("enroll-code", worker_id).split()[-1]
    browser.open(server.url + "/console/#instellen")
    form = browser.wait_for("form#setup")
    form.find_element(By.NAME, "code").send_keys(code)
    form.find_element(By.NAME, "password").send_keys(password)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    secret = browser.wait_for("#totp-secret").text.strip()
    browser.page("tweede-factor-" + worker_id)
    browser.open(server.url + "/console/#")
    browser.driver.refresh()
    form = browser.wait_for("form#login")
    form.find_element(By.NAME, "worker").send_keys(worker_id)
    form.find_element(By.NAME, "password").send_keys(password)
    form.find_element(By.NAME, "totp").send_keys(totp(secret))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    browser.wait_for("#logout:not([hidden])")
    return secret


def wait_until(fn, timeout, what, browser=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if fn():
                return
        except Exception:  # noqa: BLE001 - the page may be re-rendering
            pass
        time.sleep(0.1)
    shown = ""
    if browser is not None:
        main = browser.driver.find_elements(By.ID, "main")
        shown = "; the page shows: %r" % (main[0].text[:600] if main else "")
    raise Failure("timed out after %.0f s waiting for %s%s" % (timeout, what, shown))


def check_coordinator_triages_in_the_browser(build, artifacts):
    server = field_day_server(build)
    browser = Browser(artifacts)
    try:
        zm = Phone(server, "zm-1")
        wc = Phone(server, "wc-1")
        junk = "<img src=x onerror=alert(1)>"
        zm.run("signal", "add", "--postcode", "1011AB", "--number", "12", "--street", "Dorpsstraat",
               "--city", "Amsterdam", "--category", "schulden", "--urgency", "hoog",
               "--text", "Post stapelt zich op, buren maken zich zorgen", "--informed", "yes")
        zm.run("sync")
        console_login(browser, server, "co-1")
        browser.open(server.url + "/console/#werkvoorraad")
        browser.wait_for("article.signal")
        browser.page("werkvoorraad")
        # Live: a signal the phone syncs now appears without a reload.
        t0 = time.time()
        zm.run("signal", "add", "--postcode", "1011AB", "--number", "14", "--category", "overlast",
               "--text", junk, "--informed", "yes")
        zm.run("sync")
        wait_until(lambda: len(browser.driver.find_elements(By.CSS_SELECTOR, "article.signal")) == 2,
                   10, "the second signal to appear live")
        print("     live: the pushed signal appeared after %.2f s" % (time.time() - t0))
        texts = [e.text for e in browser.driver.find_elements(By.CSS_SELECTOR, "article.signal p.text")]
        expect(junk in texts, "the signal text is not shown as text: %r" % texts)
        expect(not browser.driver.find_elements(By.CSS_SELECTOR, "article.signal img"),
               "the signal text became an element")
        articles = browser.driver.find_elements(By.CSS_SELECTOR, "article.signal")
        by_text = {a.find_element(By.CSS_SELECTOR, "p.text").text: a for a in articles}
        # Reject the junk signal.
        junk_article = by_text[junk]
        junk_article.find_element(By.TAG_NAME, "summary").click()
        reject = junk_article.find_element(By.CSS_SELECTOR, "form[id$=-reject]")
        reject.find_element(By.NAME, "reason").send_keys("geen zorgsignaal")
        reject.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_until(lambda: len(browser.driver.find_elements(By.CSS_SELECTOR, "article.signal")) == 1,
                   10, "the rejected signal to leave the werkvoorraad")
        # Open a case from the other.
        article = browser.driver.find_element(By.CSS_SELECTOR, "article.signal")
        article.find_element(By.TAG_NAME, "summary").click()
        article.find_element(By.CSS_SELECTOR, "form[id$=-open] button[type=submit]").click()
        wait_until(lambda: not browser.driver.find_elements(By.CSS_SELECTOR, "article.signal"),
                   10, "the triaged signal to leave the werkvoorraad")
        zm.run("sync")
        listed = zm.run("signals")
        listed = listed if isinstance(listed, list) else listed.get("signals", [])
        shown = json.dumps(listed)
        expect(len(listed) == 2 and "gekoppeld" in shown and "afgewezen" in shown,
               "the reporter's phone does not show gekoppeld and afgewezen: %s" % shown[:400])
        # Overzicht, then the case: assign the coach with the picker.
        browser.open(server.url + "/console/#overzicht")
        link = browser.wait_for("#overview tbody a")
        browser.page("overzicht")
        link.click()
        picker = browser.wait_for("select#assignee")
        browser.page("casus")
        offered = [o.get_attribute("value") for o in picker.find_elements(By.TAG_NAME, "option")]
        expect("zm-1" not in offered and "wc-1" in offered,
               "the picker offers %r (no zorgmedewerker, the coach)" % offered)
        for o in picker.find_elements(By.TAG_NAME, "option"):
            if o.get_attribute("value") == "wc-1":
                o.click()
        browser.driver.find_element(By.CSS_SELECTOR, "form#assign button[type=submit]").click()
        wait_until(lambda: "Wim Coach" in browser.driver.find_element(By.ID, "case-assignee").text,
                   10, "the case to show its coach", browser)
        wc.run("sync")
        mine = wc.run("cases")
        mine = mine if isinstance(mine, list) else mine.get("cases", [])
        expect(len(mine) == 1, "the coach's phone does not list the assigned case: %r" % mine)
        for name in ("conflicten", "rapportage"):
            browser.open(server.url + "/console/#" + name)
            browser.wait_for("h1")
            time.sleep(0.5)
            browser.page(name)
        log = server.admin("access-log", "--limit", "200")
        expect("console:case" in log, "the access log has no read entry for the opened case")
    finally:
        browser.quit()
        server.stop()


def check_admin_sees_beheer_without_case_content(build, artifacts):
    server = field_day_server(build)
    browser = Browser(artifacts)
    try:
        server.admin("add-worker", "--id", "adm-1", "--name", "Ada Beheer", "--role", "admin",
                     "--wijk", "WK015301")
        zm = Phone(server, "zm-1")
        secret_text = "Meneer op nummer 7 eet al dagen niet"
        zm.run("signal", "add", "--postcode", "1011AB", "--number", "7", "--street", "Geheimstraat",
               "--category", "schulden", "--text", secret_text, "--informed", "yes")
        zm.run("sync")
        console_login(browser, server, "adm-1")
        browser.open(server.url + "/console/#beheer")
        browser.wait_for("table#workers tbody tr")
        browser.page("beheer")
        html = browser.driver.page_source
        expect(secret_text not in html and "Geheimstraat" not in html,
               "the admin's console shows case content")
        status = browser.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('/v1/console/queue', {credentials: 'same-origin'}).then(r => done(r.status));")
        expect(status == 403, "an admin's session read the werkvoorraad: %r" % status)
        browser.driver.find_element(By.CSS_SELECTOR, "button[aria-label='Code voor Wim Coach']").click()
        wait_until(lambda: "Eenmalige code voor Wim Coach" in
                   browser.driver.find_element(By.ID, "code-out").text, 10,
                   "a one-time code for the coach", browser)
    finally:
        browser.quit()
        server.stop()


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--only", choices=sorted(CHECKS))
    ap.add_argument("--list", action="store_true", help="print the checks' names and stop")
    args = ap.parse_args()
    if args.list:
        print("\n".join(sorted(CHECKS)))
        return
    build = os.path.abspath(args.build)
    artifacts = os.path.join(build, "browser-artifacts")
    os.makedirs(artifacts, exist_ok=True)
    expect(os.path.exists(AXE), "axe-core is missing (%s): run scripts/setup" % AXE)
    names = [args.only] if args.only else sorted(CHECKS)
    failed = 0
    for name in names:
        t0 = time.time()
        try:
            CHECKS[name](build, artifacts)
            print("ok   %s (%.1f s)" % (name, time.time() - t0))
        except Exception as e:  # noqa: BLE001 - a Selenium timeout fails the check too
            failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

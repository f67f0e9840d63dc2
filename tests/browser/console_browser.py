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
        return WebDriverWait(self.driver, timeout).until(
            lambda d: d.find_element(By.CSS_SELECTOR, css))

    def js_errors(self):
        """Console entries of level SEVERE since the last call (JS errors, CSP refusals)."""
        return [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

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
        except Failure as e:
            failed += 1
            print("FAIL %s: %s" % (name, e))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""The tools that look at the report as a person would: headless Chromium (through
Playwright), the Nu HTML Checker and axe-core. `make test` installs them; where one
is missing the test skips with one line saying how to install it, and under
`CI=true` it fails instead, so CI can never pass by skipping the page checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository: tests/helpers/browser.py
IN_CI = os.environ.get("CI") == "true"
NPM_MODULES = ROOT / ".cache" / "npm" / "node_modules"  # where the Makefile installs vnu-jar and axe-core
VNU_JAR = NPM_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = NPM_MODULES / "axe-core" / "axe.min.js"
# The checker is one short run per page set: the quick (C1) compiler alone halves its CPU time;
# C1's larger frames need more than the default thread stack for the HTML schema's recursion.
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-Xss8m")
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_CHROMIUM = "run `sudo apt-get install chromium chromium-driver` (Debian), then `make test`"
INSTALL_NPM = "run `make test`, which installs vnu-jar and axe-core into .cache/npm"
PAGE_NOTES = "page-checks.txt"  # what the browser checks saw, per pytest-xdist worker (conftest prints them)


def missing(what: str, how: str) -> None:
    """Skip on a developer's machine, fail under CI: a page check never passes by not running."""
    message = f"{what} is not available: {how}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def chromium_path() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing(f"Chromium ({CHROMIUM})", INSTALL_CHROMIUM)
    return CHROMIUM


def java() -> str:
    found = shutil.which("java")
    if found is None:
        missing("Java (for the Nu HTML Checker)", "run `sudo apt-get install default-jre-headless`")
    return found


def vnu_jar() -> Path:
    if not VNU_JAR.is_file():
        missing(f"the Nu HTML Checker ({VNU_JAR.relative_to(ROOT)})", INSTALL_NPM)
    return VNU_JAR


def axe_source() -> str:
    if not AXE_JS.is_file():
        missing(f"axe-core ({AXE_JS.relative_to(ROOT)})", INSTALL_NPM)
    return AXE_JS.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- Nu HTML Checker


def nu_messages(*pages: Path) -> dict[Path, list[dict[str, Any]]]:
    """Every message (errors, warnings, notes) the Nu HTML Checker has about each page, in one run."""
    pages = tuple(page.resolve() for page in pages)
    out = subprocess.run(
        [java(), *JVM_FLAGS, "-jar", str(vnu_jar()), "--format", "json", "--exit-zero-always", *map(str, pages)],
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[Path, list[dict[str, Any]]] = {page: [] for page in pages}
    for message in json.loads(out.stderr)["messages"]:  # vnu writes its report to stderr
        url = message.get("url", "")  # "file:/tmp/…/report.html"
        page = Path(unquote(url.removeprefix("file:"))) if url.startswith("file:") else Path("?")
        found.setdefault(page, []).append(message)
    return found


def describe(message: dict[str, Any]) -> str:
    return (
        f"{message.get('type')}/{message.get('subType', '')} line {message.get('lastLine')}: {message.get('message')}"
    )


# --------------------------------------------------------------------------- the browser

# Runs before any page script (Playwright's init scripts are not subject to the page's CSP):
# records every CSP violation the page causes.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});
"""


@dataclass
class Visit:
    """One page opened in Chromium, with everything it did that a reader should never see."""

    page: Any  # playwright.sync_api.Page
    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @property
    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("window.__cspViolations || []"))

    @property
    def foreign_requests(self) -> list[str]:
        """Requests for anything but the page itself and data: URLs: must stay empty (offline page)."""
        page = self.url.split("#")[0]  # a request never carries the fragment
        return [url for url in self.requests if url != page and not url.startswith("data:")]

    def problems(self) -> dict[str, list[str]]:
        return {
            "console errors": self.console_errors,
            "page errors": self.page_errors,
            "CSP violations": self.csp_violations,
            "network requests": self.foreign_requests,
            "dialogs": self.dialogs,
        }


def visit(
    browser: Any, html: Path | str, *, color_scheme: str = "light", javascript: bool = True, width: int = 1280
) -> Visit:
    """Open `html` (a file, from its file:// URL, or a URL) in a fresh context and record what happens."""
    context = browser.new_context(
        color_scheme=color_scheme, java_script_enabled=javascript, viewport={"width": width, "height": 900}
    )
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    seen = Visit(page=page, url=html if isinstance(html, str) else html.resolve().as_uri())
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.page_errors.append(str(e)))
    page.on("request", lambda r: seen.requests.append(r.url))

    def dismiss(dialog: Any) -> None:
        seen.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(seen.url, wait_until="load")
    return seen


def run_axe(seen: Visit) -> list[dict[str, Any]]:
    """axe-core's violations on the open page, with their impact.

    axe is evaluated through the DevTools protocol (Playwright's evaluate), which the
    page's CSP does not govern: only this test tool is let in this way, never the page's own code.
    """
    seen.page.evaluate(axe_source() + "\n;true")
    return seen.page.evaluate(
        """async () => {
             const result = await axe.run(document, {resultTypes: ["violations"]});
             return result.violations.map(v => ({
               id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))
             }));
           }"""
    )


A4_PRINTABLE_PX = round((210 - 2 * 14) / 25.4 * 96)  # @page A4 with 14 mm side margins, in CSS px


def assert_clean(seen: Visit) -> None:
    """No console error, no CSP violation, no network request, no dialog."""
    problems = {kind: found for kind, found in seen.problems().items() if found}
    assert problems == {}, problems


PHONE = 390  # CSS px: a common phone held upright
# What reaches past the window's right edge outside a table's own scrolling region (a figure's or the
# explorer's drawing aside: they are sized to fit), and each such region as a reader meets it.
SIDEWAYS = """() => {
  const past = [...document.body.querySelectorAll("*")].filter(e => !e.closest("svg, .wide") &&
    e.getClientRects().length && e.getBoundingClientRect().right > window.innerWidth + 0.5);
  const hides = region => [...region.querySelectorAll("caption, th, td")].some(cell => {
    const text = document.createRange();
    text.selectNodeContents(cell);
    return text.getBoundingClientRect().right > region.getBoundingClientRect().right + 0.5;
  });
  return {
    width: document.documentElement.scrollWidth,
    past: past.map(e => e.tagName + (e.id ? "#" + e.id : "") + " " + e.className),
    regions: [...document.querySelectorAll(".wide")].map(region => ({
      role: region.getAttribute("role"),
      tabindex: region.getAttribute("tabindex"),
      named: document.getElementById(region.getAttribute("aria-labelledby")) === region.querySelector(":scope > table > caption"),
      caption: region.querySelector("caption").textContent,
      hides: hides(region),
    })),
    contents: [...document.querySelectorAll("nav.toc li")].filter(li => !li.hidden).map(li => li.getBoundingClientRect().left),
  };
}"""

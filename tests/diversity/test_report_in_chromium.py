"""Open report.html in real headless Chromium: it renders, logs nothing to the console, and model text stays text.

CI installs the browser with `apt-get update && apt-get install -y chromium`.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from diversity_fixtures import PLANTED

from diversity.report import build_report

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"
)


def chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    """One headless Chromium run on a local file, offline, with console messages logged to stderr."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        "--enable-logging=stderr", "--v=0", *extra, page.resolve().as_uri(),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def planted_script_ran(dom: str) -> bool:
    """What the planted script does when it runs: retitle the page and mark the <body> tag."""
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    body_tag = dom.split("<body", 1)[1].split(">", 1)[0]
    return title is None or title.group(1) == "pwned" or "data-pwned" in body_tag


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def report_page(tmp_path_factory, shared_cache) -> Path:
    from diversity_fixtures import write_run

    run = write_run(tmp_path_factory.mktemp("chromium") / "run")
    build_report(run, cache_dir=shared_cache, select_budget=4)
    return run / "report.html"


def test_report_renders_in_chromium_without_console_messages(report_page, tmp_path):
    shot = tmp_path / "report.png"
    done = chromium(report_page, tmp_path / "profile", "--window-size=1280,2400", f"--screenshot={shot}")
    assert console_lines(done.stderr) == []
    assert png_size(shot) == (1280, 2400)
    assert shot.stat().st_size > 30_000  # a blank page compresses to a few KB


def test_planted_script_stays_text_and_our_script_runs(report_page, tmp_path):
    done = chromium(report_page, tmp_path / "profile", "--dump-dom")
    dom = done.stdout
    assert not planted_script_ran(dom)
    assert "&lt;script&gt;document.title='pwned'" in dom  # shown as text in the sample browser
    assert 'data-browser-ready="1"' in dom  # the page's own script ran (the CSP lets ours through)
    assert console_lines(done.stderr) == []


def test_console_check_and_csp_catch_an_unescaped_script(report_page, tmp_path):
    """Negative control: with the planted script pasted raw into the page, the CSP blocks it and the console says so.

    A raw script without the CSP does run (so `planted_script_ran` can see it), which the last check shows.
    """
    page = tmp_path / "tampered.html"
    page.write_text(report_page.read_text().replace("<h1>", PLANTED + "<h1>", 1))
    done = chromium(page, tmp_path / "profile", "--dump-dom")
    assert not planted_script_ran(done.stdout)
    assert any("Content Security Policy" in line for line in console_lines(done.stderr))
    unprotected = tmp_path / "unprotected.html"
    unprotected.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page.read_text()))
    assert planted_script_ran(chromium(unprotected, tmp_path / "profile2", "--dump-dom").stdout)

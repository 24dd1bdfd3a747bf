"""A real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright, Run All on a
copy of notebook 01, then move its slider and check the output re-rendered without a traceback.
Everything started here (JupyterLab, its kernel, the kernel's JVM and workers, Chromium) is
stopped by the PIDs kept, and checked gone afterwards."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from helpers.core.config import LINE
from helpers.core.processes import is_running, reap, wait_for

CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_journey_of_a_row.ipynb"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the pin installs it
    sync_playwright = None

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: apt-get install chromium"
    ),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed"),
]

# Every code cell of the open notebook has run (read from its model, so cells scrolled out of view
# count too) and the kernel is idle again.
ALL_RAN = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const code = panel.content.widgets.filter(c => c.model.type === 'code');
  return code.length > 0 && code.every(c => c.model.executionCount !== null)
    && kernel && kernel.status === 'idle';
}"""


# Run All took: a code cell has run or is running, or the kernel is busy.
STARTED = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const code = panel.content.widgets.filter(c => c.model.type === 'code');
  return (kernel && kernel.status === 'busy') || code.some(c => c.model.executionCount !== null);
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root] + root.children(recursive=True)
    except psutil.Error:
        return []


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab on a random free port with a token, serving a copy of the notebook (so nothing
    it autosaves lands in the repository). Yields (base_url, token); stops everything it started."""
    nb = json.loads(NOTEBOOK.read_text())
    # this line's kernel (`make kernel` installs it into the venv JupyterLab runs from)
    nb["metadata"]["kernelspec"].update(name=LINE.kernel, display_name=LINE.label)
    (tmp_path / NOTEBOOK.name).write_text(json.dumps(nb))
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "LAB_SCALE": "ci",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp_path}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.port_retries=0",
    ] + (["--allow-root"] if os.geteuid() == 0 else [])
    log = open(tmp_path / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    seen: dict[int, psutil.Process] = {}
    try:
        url = f"{base}/api/status?token={token}"
        wait_for(lambda: server.poll() is not None or _up(url), timeout=90, interval=0.5)
        ok = server.poll() is None and _up(url)
        assert ok, (tmp_path / "jupyterlab.log").read_text()[-2000:]
        yield base, token, lambda: seen.update({p.pid: p for p in _tree(server.pid)})
    finally:
        seen.update({p.pid: p for p in _tree(server.pid)})
        try:
            for k in _get(f"{base}/api/kernels?token={token}"):
                req = urllib.request.Request(
                    f"{base}/api/kernels/{k['id']}?token={token}", method="DELETE"
                )
                urllib.request.urlopen(req, timeout=60).close()
        except OSError:
            pass
        seen.update({p.pid: p for p in _tree(server.pid)})
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()
        left = reap([p for p in seen.values() if is_running(p)], timeout=30)
        assert not left, f"had to kill {left}"


def _up(url: str) -> bool:
    try:
        _get(url)
        return True
    except OSError:
        return False


def test_run_all_then_move_the_slider(jupyterlab):
    base, token, remember = jupyterlab
    base_dir = Path(os.environ.get("LAB_UI_SHOTS", "runs/ui"))
    base_dir.mkdir(parents=True, exist_ok=True)
    mine_before = {p.pid for p in psutil.Process().children(recursive=True)}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
            page.wait_for_function(
                "() => window.jupyterapp && document.querySelector("
                "'.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]')",
                timeout=120_000,
            )
            page.locator(".jp-Notebook .jp-Cell").first.click()  # focus: the current notebook
            for _ in range(5):  # not awaited: the command's promise settles when every cell ran
                page.evaluate(
                    "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
                )
                try:
                    page.wait_for_function(STARTED, timeout=60_000, polling=1000)
                    break
                except Exception:  # the kernel was not connected yet: ask again
                    continue
            else:
                page.screenshot(path=str(base_dir / "run_all_never_started.png"))
                pytest.fail(f"Run All never started: is the kernel {LINE.kernel!r} installed?")
            try:
                page.wait_for_function(ALL_RAN, timeout=600_000, polling=2000)
            except Exception:
                page.screenshot(path=str(base_dir / "run_all_timeout.png"))
                raise
            remember()  # the kernel and its JVM/workers, while they run
            box = page.locator(".widget-vbox").filter(has=page.locator(".widget-slider")).first
            out = box.locator(".widget-output")
            out.locator("img").first.wait_for(timeout=60_000)
            before = out.inner_html()
            readout = box.locator(".widget-readout").first
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("3000")
            page.keyboard.press("Enter")
            page.wait_for_function(
                "([el, old]) => el.innerHTML !== old && el.querySelector('img')",
                arg=[out.element_handle(), before],
                timeout=180_000,
                polling=500,
            )
            text = page.locator(".jp-Notebook").inner_text()
            for bad in ("Traceback", "ConnectionRefusedError", "error:"):
                assert bad not in text, f"{bad!r} in the notebook after moving the slider"
            assert "3,000" in box.inner_text() or "3000" in box.inner_text()
        finally:
            browser.close()
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in mine_before and is_running(p) and "chrom" in p.name().lower()
    ]
    assert not left, [p.pid for p in left]

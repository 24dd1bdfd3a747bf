"""A real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright, Run All on a
copy of notebook 01, then move its slider and check the output re-rendered without a traceback.
Everything started here (JupyterLab, its kernel, the kernel's JVM and workers, Chromium) is
stopped by the PIDs kept, and checked gone afterwards. The server and browser are
`tests/ui/lab.py`'s, shared with `python -m tests.ui.labrun` (the whole series)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers.core.config import LINE
from tests.ui import lab

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_journey_of_a_row.ipynb"

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        not lab.CHROMIUM.exists(), reason=f"{lab.CHROMIUM} not found: apt-get install chromium"
    ),
    pytest.mark.skipif(lab.sync_playwright is None, reason="playwright is not installed"),
]


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab on a random free port with a token, serving a copy of the notebook (so nothing
    it autosaves lands in the repository). Yields the server; stops everything it started."""
    nb = json.loads(NOTEBOOK.read_text())
    # this line's kernel (`make kernel` installs it into the venv JupyterLab runs from)
    nb["metadata"]["kernelspec"].update(name=LINE.kernel, display_name=LINE.label)
    (tmp_path / NOTEBOOK.name).write_text(json.dumps(nb))
    server = lab.JupyterLab(tmp_path, env={"LAB_SCALE": "ci"})
    with server:
        yield server
    assert not server.killed, f"had to kill {server.killed}"


def test_run_all_then_move_the_slider(jupyterlab):
    shots = Path(os.environ.get("LAB_UI_SHOTS", "runs/ui"))
    shots.mkdir(parents=True, exist_ok=True)
    path = NOTEBOOK.name
    with lab.Browser() as browser:
        page = browser.page

        def tick():  # remember what runs; Chromium no less nice than this test
            jupyterlab.remember()
            browser.remember()

        page.goto(jupyterlab.url("/lab"))
        lab.open_notebook(page, path, timeout=120, tick=tick)
        if not lab.start_run_all(page, path, tick=tick):
            page.screenshot(path=str(shots / "run_all_never_started.png"))
            pytest.fail(f"Run All never started: is the kernel {LINE.kernel!r} installed?")
        try:
            done = lab.wait_run_all(page, path, timeout=600, tick=tick)
        except TimeoutError:
            page.screenshot(path=str(shots / "run_all_timeout.png"))
            raise
        assert done["ran"] == done["cells"], done
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
    assert not browser.left, f"had to kill Chromium processes {browser.left}"

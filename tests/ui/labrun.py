"""Run notebooks of the series in a real browser, as a learner does: JupyterLab on 127.0.0.1 and
headless Chromium (Playwright), Run All, then every ipywidgets control moved once.

    python -m tests.ui.labrun [--kernel NAME] [--scale ci|workshop] [--out DIR] NOTEBOOK...

One JupyterLab serves copies of the notebooks (the originals are never touched) with LAB_SCALE in
its environment (its kernels inherit it). For each notebook: open the copy with the chosen kernel
(default: the notebook's own), Run All, wait until every code cell has an execution count and the
kernel is idle (at most --timeout s), then find every control in the rendered page (sliders,
dropdowns, selects, toggle buttons, checkboxes, radio buttons, number boxes), move each once to
another value, wait for its output to re-render and note whether it changed and whether an error
appeared; save from the browser (the app's save command), copy the saved notebook to --out and
check it: no error output, no "Traceback" in a stream, no blank findings cell
(`tests/test_notebooks.py`'s check). The notebook's kernel is shut down (its JVM and workers with
it) before the next one opens.

Writes --out/summary.json and prints one table. Exit 0 when everything is clean, 1 when something
failed, 2 with one line on bad input, 130 on Ctrl-C; JupyterLab, its kernels (and everything under
them) and Chromium are stopped by the PIDs kept in every case."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from helpers.core.config import RUNS_DIR
from helpers.core.lines import LINES
from tests.test_notebooks import blank_findings_cells
from tests.ui import lab

SCALES = ("ci", "workshop")


class BadInput(Exception):
    """Input the run cannot start with; its message is the one line printed (exit 2)."""


# ---- the controls in the page --------------------------------------------------------------------

# Every ipywidgets control in the notebook's outputs (classes of ipywidgets 8's views), marked with
# a page-wide id (data-labrun) so later calls find the element again. Buttons are listed but not
# pressed (an action, not a value); display-only widgets (labels, HTML, progress bars) are not
# controls.
LIST_CONTROLS = lab.page_js(
    """if (!panel) return [];
  const KINDS = [
    ['.widget-slider', 'slider'], ['.widget-dropdown', 'dropdown'], ['.widget-select', 'select'],
    ['.widget-toggle-buttons', 'toggle-buttons'], ['.widget-toggle-button', 'toggle-button'],
    ['.widget-checkbox', 'checkbox'], ['.widget-radio', 'radio'], ['.widget-text', 'text'],
    ['.widget-textarea', 'text'], ['.widget-colorpicker', 'other'],
    ['.widget-datepicker', 'other'], ['.widget-tagsinput', 'other'], ['.widget-play', 'other'],
    ['.widget-upload', 'other'], ['.jupyter-button', 'button']];
  window.__labrunN = window.__labrunN || 0;
  const found = [];
  panel.content.widgets.forEach((cell, index) => {
    if (cell.model.type !== 'code') return;
    const area = cell.node.querySelector('.jp-Cell-outputArea');
    if (!area) return;
    for (const [selector, kind] of KINDS) {
      for (const el of area.querySelectorAll(selector)) {
        if (el.dataset.labrun || el.closest('[data-labrun-kind="toggle-buttons"]')) continue;
        el.dataset.labrun = String(window.__labrunN++);
        el.dataset.labrunKind = kind;
        const label = el.querySelector(':scope > .widget-label');
        const clean = t => (t || '').replace(/\u200b/g, '').trim();
        let description = label ? clean(label.textContent) : '';
        if (!description && kind === 'checkbox') {
          const basic = el.querySelector('.widget-label-basic');
          description = basic ? clean(basic.textContent) : '';
        }
        if (!description && (kind === 'toggle-button' || kind === 'button')) {
          description = clean(el.textContent);
        }
        const disabled = el.matches(':disabled, [disabled]')
          || !!el.querySelector(':disabled, .slider[disabled]');
        found.push({id: el.dataset.labrun, kind, cell: index, description, disabled});
      }
    }
  });
  found.sort((a, b) => a.cell - b.cell);
  return found;"""
)

# The control's value as shown (readout, selected option, box content, state).
VALUE = """(id) => {
  const el = document.querySelector(`[data-labrun="${id}"]`);
  if (!el) return null;
  switch (el.dataset.labrunKind) {
    case 'slider': {
      const r = el.querySelector('.widget-readout');
      if (r && r.style.display !== 'none') return r.textContent.trim();
      const h = el.querySelector('.noUi-handle');
      return h ? (h.getAttribute('aria-valuetext') || h.getAttribute('aria-valuenow')) : null;
    }
    case 'dropdown': case 'select':
      return Array.from(el.querySelector('select').selectedOptions).map(o => o.textContent)
        .join(', ');
    case 'toggle-buttons': {
      const b = el.querySelector('.mod-active');
      return b ? b.textContent.trim() : '';
    }
    case 'toggle-button': return el.classList.contains('mod-active') ? 'on' : 'off';
    case 'checkbox': return el.querySelector('input').checked ? 'checked' : 'unchecked';
    case 'radio': {
      const i = el.querySelector('input:checked');
      return i ? (i.closest('label') || i).textContent.trim() : '';
    }
    default: {
      const i = el.querySelector('input, textarea');
      return i ? i.value : el.textContent.trim();
    }
  }
}"""

# What the control's view shows: the widget Output areas of the smallest box around it that has
# one (`live`'s VBox, a panel's VBox): their content as a reader sees it (text and images, not the
# markup around them), their text, whether their images loaded, and how many "Traceback"s the
# whole cell's output holds.
OUTPUT = """(id) => {
  const el = document.querySelector(`[data-labrun="${id}"]`);
  if (!el) return null;
  const area = el.closest('.jp-Cell-outputArea');
  let box = el.parentElement;
  while (box && box !== area && !box.querySelector('.widget-output')) box = box.parentElement;
  const outs = box ? Array.from(box.querySelectorAll('.widget-output')) : [];
  const images = outs.flatMap(o => Array.from(o.querySelectorAll('img')));
  const all = area ? area.textContent : '';
  const seen = o => o.textContent + Array.from(o.querySelectorAll('img, svg'))
    .map(i => i.getAttribute('src') || i.outerHTML).join('');
  return {outputs: outs.length, content: outs.map(seen).join('\\n'),
          text: outs.map(o => o.textContent).join('\\n'),
          ready: images.every(i => i.complete),
          tracebacks: (all.match(/Traceback/g) || []).length};
}"""

# Count the comm messages the page sends to the kernel (a control's new value) and note which
# requests the kernel has finished (its idle status names the request as parent).
TRACK = lab.page_js(
    """if (!kernel) return null;
  const st = (window.__labrunMsgs = window.__labrunMsgs || {});
  if (st.kernel !== kernel) {
    st.kernel = kernel; st.sent = []; st.idle = {};
    kernel.anyMessage.connect((_, args) => {
      const m = args.msg;
      if (args.direction === 'send' && m.header.msg_type === 'comm_msg') {
        st.sent.push(m.header.msg_id);
      } else if (args.direction === 'recv' && m.header.msg_type === 'status'
                 && m.content.execution_state === 'idle' && m.parent_header
                 && m.parent_header.msg_id) {
        st.idle[m.parent_header.msg_id] = true;
      }
    });
  }
  return st.sent.length;"""
)

ROUND_TRIP = """(before) => {
  const st = window.__labrunMsgs;
  const sent = st.sent.slice(before);
  return {sent: sent.length, answered: sent.filter(id => st.idle[id]).length,
          status: st.kernel.status};
}"""

PAGE_TEXT = lab.page_js("return panel ? panel.content.node.textContent : '';")

ERROR_LINE = re.compile(
    r"^(?:error: .*|\w*(?:Error|Exception): .*|Error displaying widget.*)$", re.M
)


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except (TypeError, ValueError):
        return None


def next_number(text: str, lo: str | None, hi: str | None) -> str | None:
    """Another valid value for a number box, kept cheap as `helpers.viz.widgets.next_value` does:
    half the number, else its minimum, else one more; within the box's bounds. None if none."""
    v = _number(text)
    if v is None:
        return None
    integral = re.fullmatch(r"-?[\d,]+", text.strip()) is not None
    low = _number(lo) if lo else -math.inf
    high = _number(hi) if hi else math.inf
    low, high = (-math.inf if low is None else low), (math.inf if high is None else high)
    for new in (v // 2 if integral else v / 2, low, v + 1):
        if new != v and low <= new <= high and math.isfinite(new):
            return str(int(new)) if integral or float(new).is_integer() else repr(new)
    return None


def _act(page, control: dict) -> str | None:
    """Move `control` once in the page, as a learner does (keyboard on a slider's handle, an
    option picked, a number typed and Enter, a click); returns why it was not moved, or None."""
    loc = page.locator(f'[data-labrun="{control["id"]}"]')
    loc.scroll_into_view_if_needed(timeout=30_000)
    kind = control["kind"]
    if kind == "slider":
        handle = loc.locator(".noUi-handle").first
        now = _number(handle.get_attribute("aria-valuenow") or "")
        low = _number(handle.get_attribute("aria-valuemin") or "")
        vertical = "widget-vslider" in (loc.get_attribute("class") or "")
        down = now is None or low is None or now > low
        keys = ("ArrowDown", "ArrowUp") if vertical else ("ArrowLeft", "ArrowRight")
        handle.press(keys[0] if down else keys[1])
    elif kind in ("dropdown", "select"):
        select = loc.locator("select").first
        n = select.locator("option").count()
        at = select.evaluate("s => s.selectedIndex")
        if n < 2:
            return "no other option"
        select.select_option(index=at + 1 if at + 1 < n else at - 1)
    elif kind == "toggle-buttons":
        buttons = loc.locator("button")
        states = buttons.evaluate_all("bs => bs.map(b => b.classList.contains('mod-active'))")
        others = [i for i, active in enumerate(states) if not active]
        if not others:
            return "no other option"
        at = states.index(True) if True in states else -1
        buttons.nth(next((i for i in others if i > at), others[-1])).click()
    elif kind == "toggle-button":
        loc.click()
    elif kind == "checkbox":
        loc.locator("input[type=checkbox]").click()
    elif kind == "radio":
        free = loc.locator("input[type=radio]:not(:checked)")
        if free.count() == 0:
            return "no other option"
        free.first.click()
    elif kind == "text":
        box = loc.locator("input").first
        if box.count() == 0 or box.get_attribute("type") != "number":
            return "free text: no rule for another value"
        new = next_number(box.input_value(), box.get_attribute("min"), box.get_attribute("max"))
        if new is None:
            return "no other valid value"
        box.fill(new)
        box.press("Enter")
        box.evaluate("e => e.blur()")
    elif kind == "button":
        return "a button: an action, not a value"
    else:
        return f"no rule to move a {kind} control"
    return None


def _answered(trip: dict) -> bool:
    return trip["answered"] == trip["sent"] and trip["status"] == "idle"


def move_control(page, path: str, control: dict, timeout: float, tick=None) -> dict:
    """Move one control and wait for its view to re-render: the kernel has finished every
    message the move sent, then the view's output stops changing and its images have loaded.
    Returns the row of the summary for this control."""
    row = {
        "notebook": path,
        "cell": control["cell"],
        "kind": control["kind"],
        "description": control["description"],
        "from": page.evaluate(VALUE, control["id"]),
        "to": None,
        "moved": False,
        "changed": None,
        "error": None,
        "seconds": None,
        "note": None,
    }
    if control["disabled"]:
        return {**row, "note": "disabled"}
    before = page.evaluate(OUTPUT, control["id"])
    sent = page.evaluate(TRACK, path)
    t0 = time.monotonic()
    note = _act(page, control)
    if note:
        return {**row, "note": note}
    trip = {"sent": 0}
    try:  # the new value reaches the kernel, which finishes with it
        trip = lab.poll(page, ROUND_TRIP, sent, lambda r: r["sent"] > 0, 20, 0.2, tick)
        lab.poll(page, ROUND_TRIP, sent, _answered, timeout, 0.5, tick)
    except TimeoutError as exc:
        row["to"] = page.evaluate(VALUE, control["id"])
        row["moved"] = row["to"] != row["from"]
        what = "no re-render" if trip["sent"] else "no message reached the kernel"
        return {**row, "error": f"{what} ({exc})", "seconds": round(time.monotonic() - t0, 1)}
    last, end = None, time.monotonic() + 30  # the page draws what arrived (images decode)
    while time.monotonic() < end:
        after = page.evaluate(OUTPUT, control["id"])
        if after == last and after["ready"]:
            break
        last = after
        time.sleep(0.5)
    row["seconds"] = round(time.monotonic() - t0, 1)
    row["to"] = page.evaluate(VALUE, control["id"])
    row["moved"] = row["to"] != row["from"]
    if before["outputs"]:
        row["changed"] = after["content"] != before["content"]
    shown = ERROR_LINE.findall(after["text"])
    if "Traceback" in after["text"] or after["tracebacks"] > before["tracebacks"]:
        row["error"] = "a traceback appeared" + (f": {shown[-1]}" if shown else "")
    elif shown:
        row["error"] = shown[0][:300]
    return row


def widget_ok(row: dict) -> bool:
    """Moved, re-rendered with a different output (where it has one), no error."""
    return row["moved"] and row["error"] is None and row["changed"] is not False


def problem_of(row: dict) -> str:
    """Why a moved control is not fine, in a few words."""
    if row["error"]:
        return row["error"]
    return "its output did not change" if row["changed"] is False else "its value did not change"


# ---- one notebook --------------------------------------------------------------------------------


def only_cancelled_workers(text: str) -> bool:
    """True when every "Traceback" in `text` is pyspark's daemon reporting a worker whose task was
    cancelled (BrokenPipeError or ConnectionResetError in pyspark/daemon.py: the JVM closed its
    socket when another task of the job failed, a failure the notebook reports in one line)."""
    blocks = text.split("Traceback (most recent call last):")[1:]
    return bool(blocks) and all(
        "pyspark/daemon.py" in b and re.search(r"^(BrokenPipeError|ConnectionResetError)", b, re.M)
        for b in blocks
    )


def check_saved(nb: dict) -> dict:
    """What the saved notebook shows: error outputs, streams with a traceback, blank findings
    cells (`tests/test_notebooks.py`'s check; index and id), code cells without an execution
    count (indexes)."""
    errors, not_run = [], []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if cell.get("execution_count") is None:
            not_run.append(i)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"cell {i}: {out.get('ename')}: {str(out.get('evalue'))[:200]}")
            elif out.get("output_type") == "stream":
                text = out.get("text", "")
                text = "".join(text) if isinstance(text, list) else text
                if "Traceback" in text and not only_cancelled_workers(text):
                    errors.append(f"cell {i}: a Traceback in its {out.get('name')} stream")
    index = {cell.get("id"): i for i, cell in enumerate(nb["cells"])}
    blank = [{"cell": index.get(c), "id": c} for c in blank_findings_cells(nb)]
    return {"errors": errors, "blank_findings": blank, "not_run": not_run}


def run_notebook(page, server: lab.JupyterLab, name: str, opts, out: Path, tick) -> dict:
    """Open, Run All, move every control, save, copy and check one notebook of the served
    folder; then shut its kernel down. `tick()` runs on every round of every wait. Returns its
    record for the summary."""
    rec = {
        "notebook": name,
        "kernel": None,
        "seconds": None,
        "cells": None,
        "ran": None,
        "errors": [],
        "blank_findings": [],
        "not_run": [],
        "widgets": [],
        "page_errors": [],
        "saved": None,
        "killed": [],
        "problems": [],
    }
    try:
        rec["kernel"] = lab.open_notebook(page, name, timeout=300, tick=tick)
        if rec["kernel"] != opts.kernel_of[name]:
            rec["problems"].append(f"kernel {rec['kernel']!r}, not {opts.kernel_of[name]!r}")
        t0 = time.monotonic()
        if not lab.start_run_all(page, name, tick=tick):
            rec["problems"].append("Run All never started")
        else:
            try:
                done = lab.wait_run_all(page, name, timeout=opts.timeout, tick=tick)
                rec["seconds"] = round(time.monotonic() - t0, 1)
                rec["cells"], rec["ran"] = done["cells"], done["ran"]
                if done["ran"] < done["cells"]:
                    rec["problems"].append(f"Run All stopped: {done['ran']}/{done['cells']} ran")
            except TimeoutError:
                rec["seconds"] = round(time.monotonic() - t0, 1)
                rec["problems"].append(f"Run All not finished after {opts.timeout:.0f} s")
                page.screenshot(path=str(out / f"{Path(name).stem}.timeout.png"))
        if rec["seconds"] is not None and not rec["problems"]:
            for control in page.evaluate(LIST_CONTROLS, name):
                row = move_control(page, name, control, opts.move_timeout, tick=tick)
                rec["widgets"].append(row)
                print(f"  {name} cell {row['cell']} {row['kind']} {row['description']!r}: "
                      f"{row['from']} -> {row['to']} "
                      + ("ok" if widget_ok(row) else f"not moved: {row['note']}" if row["note"]
                         else f"FAILED: {problem_of(row)}"),
                      flush=True)  # fmt: skip
            text = page.evaluate(PAGE_TEXT, name)
            rec["page_errors"] = sorted(set(re.findall(r"Error displaying widget[^\n]*", text)))
        lab.save(page, name)
        rec["saved"] = str(out / name)
        shutil.copyfile(server.root / name, out / name)
        saved = json.loads((out / name).read_text())
        rec.update(check_saved(saved))
        rec["cells"] = rec["cells"] or sum(c["cell_type"] == "code" for c in saved["cells"])
    except (TimeoutError, RuntimeError, lab.PlaywrightError) as exc:
        rec["problems"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    finally:
        with lab.no_interrupts():
            try:
                page.evaluate(lab.CLOSE, name)
            except Exception:
                pass
            try:
                rec["killed"] = server.stop_kernel(name)
            except OSError as exc:  # the server did not answer: `JupyterLab.stop` reaps it all
                rec["problems"].append(f"shutting its kernel down failed: {exc}")
    return rec


def notebook_ok(rec: dict) -> bool:
    moved = [w for w in rec["widgets"] if w["note"] is None]
    return not (
        rec["problems"]
        or rec["errors"]
        or rec["blank_findings"]
        or rec["not_run"]
        or rec["page_errors"]
        or rec["killed"]
        or not all(widget_ok(w) for w in moved)
    )


# ---- the command ---------------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        raise BadInput(message)


def parse(argv) -> argparse.Namespace:
    p = Parser(
        prog="python -m tests.ui.labrun",
        description="Run notebooks in JupyterLab in headless Chromium: Run All, move every "
        "control once, save, check (see docs/FACILITATOR.md).",
    )
    p.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", type=Path)
    p.add_argument("--kernel", help="kernel name (default: each notebook's own)")
    p.add_argument("--scale", choices=SCALES, help="LAB_SCALE of the kernels (default: $LAB_SCALE)")
    p.add_argument("--out", type=Path, help="folder for the saved notebooks and summary.json "
                   "(default: runs/labrun-<line>/)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=900.0,
                   help="seconds Run All may take per notebook (default 900)")  # fmt: skip
    p.add_argument("--move-timeout", type=float, default=300.0,
                   help="seconds a control's re-render may take (default 300)")  # fmt: skip
    return p.parse_args(argv)


def kernel_specs() -> list[str]:
    from jupyter_client.kernelspec import KernelSpecManager

    return sorted(KernelSpecManager().find_kernel_specs())


def validate(opts: argparse.Namespace) -> argparse.Namespace:
    """Check everything before anything starts; BadInput (one line) otherwise. Adds `nbs` (name ->
    parsed notebook), `kernel_of` (name -> kernel), `scale`, `out`."""
    scale = opts.scale or os.environ.get("LAB_SCALE") or "workshop"
    if scale not in SCALES:
        raise BadInput(f"LAB_SCALE={scale!r}: this run takes --scale {' or '.join(SCALES)}")
    if opts.timeout <= 0 or opts.move_timeout <= 0:
        raise BadInput("--timeout and --move-timeout are seconds > 0")
    nbs = {}
    for path in opts.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            raise BadInput(f"{path}: no such notebook file (.ipynb)")
        try:
            nb = json.loads(path.read_text())
            nb["cells"], nb["metadata"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise BadInput(f"{path}: not a notebook ({exc})") from None
        if path.name in nbs:
            raise BadInput(f"{path.name} is given twice")
        nbs[path.name] = nb
    specs = kernel_specs()
    kernel_of = {
        name: opts.kernel or nb["metadata"].get("kernelspec", {}).get("name", "")
        for name, nb in nbs.items()
    }
    for name, kernel in kernel_of.items():
        if kernel not in specs:
            where = "" if opts.kernel else f" (the kernel of {name})"
            raise BadInput(
                f"unknown kernel {kernel!r}{where}: installed are {', '.join(specs)} "
                "(`jupyter kernelspec list`)"
            )
    if not lab.CHROMIUM.exists():
        raise BadInput(f"Chromium not found at {lab.CHROMIUM}: apt-get install chromium")
    if lab.sync_playwright is None:
        raise BadInput("playwright is not installed: make setup (requirements-test.txt)")
    lines = {line.kernel: line.name for line in LINES.values()}
    first = next(iter(kernel_of.values()))
    opts.out = opts.out or RUNS_DIR / f"labrun-{lines.get(first, first)}"
    opts.nbs, opts.kernel_of, opts.scale = nbs, kernel_of, scale
    return opts


def _copy(nb: dict, kernel: str, to: Path) -> None:
    """The notebook, with `kernel` as its kernelspec, written to `to` (the served folder)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(kernel)
    nb = json.loads(json.dumps(nb))
    nb["metadata"]["kernelspec"] = {
        "name": kernel,
        "display_name": spec.display_name,
        "language": spec.language,
    }
    to.write_text(json.dumps(nb, indent=1))


def table(records: list[dict]) -> str:
    """One line per notebook: seconds of Run All, code cells run, errors, blank findings cells,
    controls moved / moved and fine."""
    head = ("notebook", "seconds", "cells", "errors", "blank findings", "widgets moved/ok", "")
    rows = [head]
    for r in records:
        moved = [w for w in r["widgets"] if w["moved"]]
        rows.append(
            (
                r["notebook"],
                "-" if r["seconds"] is None else f"{r['seconds']:.1f}",
                "-" if r["cells"] is None else f"{r['cells'] - len(r['not_run'])}/{r['cells']}",
                str(len(r["errors"])),
                str(len(r["blank_findings"])),
                f"{len(moved)}/{sum(widget_ok(w) for w in moved)}",
                "ok" if notebook_ok(r) else "FAILED",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))).rstrip() for row in rows]  # fmt: skip
    return "\n".join(lines)


def problems(rec: dict) -> list[str]:
    """The lines that say why a notebook failed."""
    out = list(rec["problems"]) + rec["errors"] + rec["page_errors"]
    out += [f"cell {c['cell']}: blank findings (id {c['id']})" for c in rec["blank_findings"]]
    if rec["not_run"] and not rec["problems"]:
        out.append(f"code cells without an execution count: {rec['not_run']}")
    if rec["killed"]:
        out.append(f"had to kill {len(rec['killed'])} processes of its kernel: {rec['killed']}")
    for w in rec["widgets"]:
        if w["note"] is None and not widget_ok(w):
            out.append(f"cell {w['cell']} {w['kind']} {w['description']!r}: {problem_of(w)}")
    return out


def run(opts) -> int:
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="labrun-"))
    root = tmp / "notebooks"
    root.mkdir()
    for name, nb in opts.nbs.items():
        _copy(nb, opts.kernel_of[name], root / name)
    summary = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scale": opts.scale,
        "kernels": opts.kernel_of,
        "notebooks": [],
        "interrupted": False,
    }
    server = lab.JupyterLab(root, env={"LAB_SCALE": opts.scale}, state=tmp)
    browser = None
    try:
        print(f"labrun: JupyterLab with LAB_SCALE={opts.scale}, {len(opts.nbs)} notebook(s)",
              flush=True)  # fmt: skip
        with server, lab.Browser() as browser:
            page = browser.page
            page.goto(server.url("/lab"))

            def tick():  # remember what runs; Chromium no less nice than this run
                server.remember()
                browser.remember()

            for name in opts.nbs:
                print(f"labrun: {name} on kernel {opts.kernel_of[name]}", flush=True)
                rec = run_notebook(page, server, name, opts, out, tick)
                summary["notebooks"].append(rec)
                print(f"labrun: {name}: Run All {rec['seconds']} s, "
                      + ("ok" if notebook_ok(rec) else "FAILED"), flush=True)  # fmt: skip
    except KeyboardInterrupt:
        summary["interrupted"] = True
        raise
    finally:
        with lab.no_interrupts():
            summary["killed_at_exit"] = server.killed[
                len([p for r in summary["notebooks"] for p in r["killed"]]) :
            ]
            summary["browser_killed"] = browser.left if browser else []
            if server.log_path.exists():
                shutil.copyfile(server.log_path, out / "jupyterlab.log")
            shutil.rmtree(tmp, ignore_errors=True)
            summary["ok"] = (
                not summary["interrupted"]
                and bool(summary["notebooks"])
                and all(notebook_ok(r) for r in summary["notebooks"])
                and not summary["killed_at_exit"]
                and not summary["browser_killed"]
            )
            (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print()
    print(table(summary["notebooks"]))
    for rec in summary["notebooks"]:
        for line in problems(rec):
            print(f"  {rec['notebook']}: {line}")
    if summary["killed_at_exit"] or summary["browser_killed"]:
        print(f"  had to kill at exit: {summary['killed_at_exit'] + summary['browser_killed']}")
    print(f"saved notebooks and summary.json in {out}")
    return 0 if summary["ok"] else 1


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    try:
        opts = validate(parse(argv))
    except BadInput as exc:
        print(f"labrun: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # stopped like a Ctrl-C: everything cleaned up
    try:
        return run(opts)
    except KeyboardInterrupt:
        print("labrun: interrupted; JupyterLab, its kernels and Chromium were stopped",
              file=sys.stderr)  # fmt: skip
        return 130


if __name__ == "__main__":
    sys.exit(main())

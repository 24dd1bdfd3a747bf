"""A real browser on a real JupyterLab, shared by `tests/ui/test_browser.py` and
`tests/ui/labrun.py`: JupyterLab on 127.0.0.1 (a free port, a token, a folder of notebook
copies), headless Chromium driven by Playwright, and the page-side checks (kernel idle, Run All
started and finished, save).

Everything started here is stopped by the PIDs kept while it ran: JupyterLab, its kernels and
everything under them (a kernel's JVM and Python workers), and Chromium. Notebooks are found in the
page by their path under the server's folder, so several can be opened in one page, one after the
other."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psutil

from helpers.core.processes import is_running, keep, reap, release

CHROMIUM = Path(os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium"))  # the browser driven

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the pin installs it
    sync_playwright = None

    class PlaywrightError(Exception):
        """Stands in for Playwright's error class where Playwright is missing."""


# ---- the page: JavaScript run in JupyterLab (`window.jupyterapp`, exposed by the server flag) ----

# The notebook panel open at `path` (relative to the server's folder), or null.
_PANEL = """(path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.sessionContext) return w;
  }
  return null;
}"""


def page_js(body: str) -> str:
    """A page function of `path` whose `body` sees `panel` (the notebook at `path`, maybe null)
    and `kernel` (its kernel connection, maybe null)."""
    return (
        f"(path) => {{ const panel = ({_PANEL})(path);"
        " const kernel = panel && panel.sessionContext.session"
        " && panel.sessionContext.session.kernel;"
        f" {body} }}"
    )


# Open `path` as a notebook (the app's own open command); resolves when its file is loaded.
OPEN = """async (path) => {
  const app = window.jupyterapp;
  await app.restored;
  const w = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await w.context.ready;
  app.shell.activateById(w.id);
  return w.id;
}"""

# The kernel's name once it is connected and idle, else false.
KERNEL_IDLE = page_js(
    "return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle'"
    " ? kernel.name : false;"
)

# Run All on the notebook (activated first: the command acts on the current notebook). Not
# awaited: its promise settles when every cell ran or the kernel aborted the rest after an error;
# the page keeps the outcome in window.__labRunAll[path].
RUN_ALL = page_js(
    """if (!panel) return false;
  window.jupyterapp.shell.activateById(panel.id);
  panel.content.activeCellIndex = 0;
  const state = (window.__labRunAll = window.__labRunAll || {});
  const me = (state[path] = {settled: false, ok: null, error: null});
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { me.settled = true; me.ok = ok; },
    e => { me.settled = true; me.ok = false; me.error = String(e); });
  return true;"""
)

# Run All took: the kernel is busy or a code cell has run.
STARTED = page_js(
    """if (!panel) return false;
  const code = panel.content.widgets.filter(c => c.model.type === 'code');
  return (!!kernel && kernel.status === 'busy')
    || code.some(c => c.model.executionCount !== null);"""
)

# Where Run All is: code cells, how many have an execution count, kernel status, whether the
# command's promise settled. Read from the notebook's model: cells out of view count too.
PROGRESS = page_js(
    """if (!panel) return null;
  const code = panel.content.widgets.filter(c => c.model.type === 'code');
  const me = (window.__labRunAll || {})[path] || {};
  return {cells: code.length, ran: code.filter(c => c.model.executionCount !== null).length,
          status: kernel ? kernel.status : 'none', settled: !!me.settled, ok: me.ok ?? null,
          error: me.error ?? null};"""
)

# Save with the app's save command (what ctrl+s runs); resolves when the file is written.
SAVE = page_js(
    """if (!panel) return 'no notebook open at ' + path;
  window.jupyterapp.shell.activateById(panel.id);
  return window.jupyterapp.commands.execute('docmanager:save').then(
    () => panel.context.model.dirty ? 'still unsaved after save' : null, e => String(e));"""
)

# Close the notebook's tab (its kernel keeps running until its session is deleted).
CLOSE = page_js("if (panel) { panel.context.model.dirty = false; panel.dispose(); } return true;")


def run_all_done(progress: dict | None) -> bool:
    """Run All is over: the kernel is idle and every code cell ran, or the command settled (a
    cell failed and the kernel aborted the rest)."""
    return (
        bool(progress)
        and progress["status"] == "idle"
        and (progress["settled"] or progress["ran"] == progress["cells"])
    )


def poll(page, fn: str, arg, until, timeout: float, interval: float = 1.0, tick=None):
    """Evaluate page function `fn(arg)` every `interval` s until `until(value)`; return the value,
    or raise TimeoutError after `timeout` s. `tick()` runs on every round (e.g. remembering the
    processes that run now). Short evaluations, so Ctrl-C is seen within `interval`."""
    end = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
        value = page.evaluate(fn, arg)
        if until(value):
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"still {value!r} after {timeout:.0f} s")
        time.sleep(interval)


def open_notebook(page, path: str, timeout: float = 180, tick=None) -> str:
    """Open `path` in the page's JupyterLab and wait until its kernel is connected and idle;
    return the kernel's name."""
    page.wait_for_function("() => !!window.jupyterapp", timeout=timeout * 1000)
    page.evaluate(OPEN, path)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=timeout * 1000)
    return poll(page, KERNEL_IDLE, path, bool, timeout, interval=0.5, tick=tick)


def start_run_all(page, path: str, tries: int = 5, timeout: float = 60, tick=None) -> bool:
    """Ask for Run All until it takes (a kernel that has only just connected can miss the first
    request); False when it never started."""
    for _ in range(tries):
        page.evaluate(RUN_ALL, path)
        try:
            poll(page, STARTED, path, bool, timeout, interval=0.5, tick=tick)
            return True
        except TimeoutError:
            continue
    return False


def wait_run_all(page, path: str, timeout: float, tick=None) -> dict:
    """Wait until Run All is over (`run_all_done`); returns the last `PROGRESS` (TimeoutError
    after `timeout` s)."""
    return poll(page, PROGRESS, path, run_all_done, timeout, interval=1.0, tick=tick)


def save(page, path: str) -> None:
    """Save the notebook from the browser (the app's save command); RuntimeError if it failed."""
    problem = page.evaluate(SAVE, path)
    if problem:
        raise RuntimeError(f"saving {path} failed: {problem}")


# ---- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 5) -> dict | list:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def answers(url: str) -> bool:
    try:
        get_json(url)
        return True
    except OSError:
        return False


@contextmanager
def no_interrupts():
    """Ctrl-C is ignored inside (a clean-up that must finish), and restored afterwards."""
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to protect
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class JupyterLab:
    """JupyterLab on a free port of 127.0.0.1 with a random token, serving `root` (its config,
    runtime files and log in `state`, default `root`), started with `env` added to this process's
    environment (the kernels inherit it). Its own session (a Ctrl-C on the terminal does not
    reach it); kept with the kit's watchdog, so it is stopped even if this
    process is killed. `remember()` records the processes under it (kernels, their JVMs and
    workers, with their parents); `stop_kernel` and `stop` end them and reap what remains by those
    PIDs. Use as a context manager."""

    def __init__(self, root: Path, env: dict | None = None, state: Path | None = None):
        self.root = Path(root)
        self.env = dict(env or {})
        self.state = Path(state) if state else self.root  # its config, runtime files and log
        self.log_path = self.state / "jupyterlab.log"
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen | None = None
        self.seen: dict[int, psutil.Process] = {}
        self.parents: dict[int, int] = {}
        self.killed: list[int] = []

    def url(self, path: str = "/lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"

    def start(self, timeout: float = 90) -> JupyterLab:
        """Start the server and wait until it answers; RuntimeError with the log's tail if not."""
        state = self.state
        env = {
            **os.environ,
            **self.env,
            "JUPYTER_CONFIG_DIR": str(state / "config"),
            "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        }
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.port_retries=0",
        ] + (["--allow-root"] if os.geteuid() == 0 else [])
        self._log = open(self.log_path, "wb")
        self.server = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        keep(self.server.pid)
        status = self.url("/api/status")
        end = time.monotonic() + timeout
        while self.server.poll() is None and not answers(status) and time.monotonic() < end:
            time.sleep(0.5)
        if self.server.poll() is not None or not answers(status):
            raise RuntimeError(
                "JupyterLab did not start: " + self.log_path.read_text()[-2000:].strip()
            )
        return self

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(self, *exc) -> None:
        with no_interrupts():
            self.stop()

    # -- processes

    def remember(self) -> None:
        """Record every process under the server now, with its parent."""
        if self.server is None:
            return
        try:
            root = psutil.Process(self.server.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            return
        for p in procs:
            if p.pid not in self.seen:
                try:
                    self.parents[p.pid] = p.ppid()
                except psutil.Error:
                    continue
                self.seen[p.pid] = p

    def _under(self, pid: int) -> list[psutil.Process]:
        """The remembered processes below `pid` (itself included), by the parents recorded."""
        out, todo = [], [pid]
        while todo:
            top = todo.pop()
            if top in self.seen:
                out.append(self.seen[top])
            todo += [c for c, parent in self.parents.items() if parent == top]
        return out

    def kernel_pid(self, kernel_id: str) -> int | None:
        """The PID of the kernel process with this id (found by its connection file's name)."""
        self.remember()
        for p in self.seen.values():
            try:
                if is_running(p) and any(f"kernel-{kernel_id}.json" in a for a in p.cmdline()):
                    return p.pid
            except psutil.Error:
                continue
        return None

    # -- the REST API

    def api(self, path: str, method: str = "GET", timeout: float = 60):
        req = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def session_of(self, path: str) -> dict | None:
        return next((s for s in self.api("/api/sessions") if s.get("path") == path), None)

    def stop_kernel(self, path: str, timeout: float = 30) -> list[int]:
        """Shut down the kernel of the notebook at `path` (its session deleted: the kernel is asked
        to exit, so its atexit stops its Spark session), then reap every process that ran under it;
        returns the PIDs that had to be killed."""
        session = self.session_of(path)
        if session is None:
            return []
        kernel = self.kernel_pid(session["kernel"]["id"])
        family = self._under(kernel) if kernel else []
        self.api(f"/api/sessions/{session['id']}", method="DELETE", timeout=120)
        killed = reap([p for p in family if is_running(p)], timeout=timeout)
        self.killed += killed
        return killed

    def stop(self, timeout: float = 30) -> list[int]:
        """Shut down every kernel, stop the server, and reap everything remembered under it;
        returns the PIDs that had to be killed (also added to `killed`)."""
        if self.server is None:
            return []
        self.remember()
        try:
            for k in self.api("/api/kernels", timeout=10):
                self.remember()
                self.api(f"/api/kernels/{k['id']}", method="DELETE", timeout=60)
        except OSError:
            pass
        self.remember()
        self.server.terminate()
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(timeout=10)
        release(self.server.pid)
        self._log.close()
        killed = reap([p for p in self.seen.values() if is_running(p)], timeout=timeout)
        self.killed += killed
        self.server = None
        return killed


# ---- the browser ---------------------------------------------------------------------------------


def _browser_processes() -> list[psutil.Process]:
    """This process's descendants that are Playwright's driver or Chromium."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            name, cmd = p.name().lower(), " ".join(p.cmdline())
        except psutil.Error:
            continue
        if "chrom" in name or "playwright" in cmd:
            out.append(p)
    return out


def _no_higher_priority(proc: psutil.Process) -> None:
    """Every thread of `proc` at least as nice as this process (Chromium raises the priority of
    some of its processes and threads, e.g. its GPU process)."""
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        tids = [t.id for t in proc.threads()]
    except psutil.Error:
        return
    for tid in tids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < ours:
                os.setpriority(os.PRIO_PROCESS, tid, ours)
        except OSError:
            continue


class Browser:
    """Headless Chromium (the system's, at CHROMIUM) driven by Playwright, with one page
    (`.page`). Use as a context manager: on exit the browser and Playwright's driver are closed,
    and any of their processes still running is reaped by the PIDs recorded while it ran; `.left`
    holds the PIDs that had to be killed. `remember()` also keeps Chromium's processes no less nice
    than this one (a run under `nice` stays under it)."""

    def __init__(self, viewport=(1400, 1000)):
        self.viewport = viewport
        self.seen: dict[int, psutil.Process] = {}
        self.left: list[int] = []
        self.page = None
        self._pw = self._browser = None

    def remember(self) -> None:
        for p in _browser_processes():
            self.seen.setdefault(p.pid, p)
            _no_higher_priority(p)

    def __enter__(self) -> Browser:
        self._pw = sync_playwright().start()
        try:
            self.remember()
            self._browser = self._pw.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=["--no-sandbox", "--disable-crash-reporter", "--disable-breakpad"],
            )
            width, height = self.viewport
            self.page = self._browser.new_page(viewport={"width": width, "height": height})
            self.remember()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, kind=None, *exc) -> None:
        if kind is KeyboardInterrupt:  # the driver had the Ctrl-C too: its closed pipe is no news
            logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        with no_interrupts():
            self.remember()
            for close in (self._browser and self._browser.close, self._pw.stop):
                try:
                    if close:
                        close()
                except Exception:  # the driver is gone already (a Ctrl-C reached it too)
                    pass
            self.left = reap([p for p in self.seen.values() if is_running(p)], timeout=10)

"""One SparkSession factory for every notebook, test and CLI command.

- `local[*]` by default; any master URL from `LAB_MASTER` (or the `master=` argument). On a
  non-local master the kit ships itself to the executors as a zip (`helpers.core.ship`;
  `LAB_SHIP_KIT=0` turns that off, to see what executors without the kit say).
- `on_cluster(workers)`: a session on a fresh N-worker standalone cluster of this machine.
- Spark UI and driver bound to 127.0.0.1; Python workers run this interpreter (`PYSPARK_PYTHON`),
  or `LAB_EXECUTOR_PYTHON` when the executors' hosts have their Python elsewhere.
- SynapseML jars attached with `spark.jars` when `make jars` has resolved them (offline after that).
- `stop_session()` stops Spark, closes the JVM and waits for every process it started
  (the JVM, `pyspark.daemon`, its workers) by the PIDs recorded at start; none is left behind.
- The session lasts as long as the Python process (a notebook's kernel): `start_session` registers
  `stop_session` with `atexit`, so a kernel that shuts down or restarts stops its JVM and workers.
  A kernel killed outright cannot run it: the driver JVM is started with PR_SET_PDEATHSIG (the
  kernel sends it SIGKILL when this process dies, even during start-up) and kept by the watchdog
  (`helpers.core.processes.keep`), and `pyspark.daemon` exits with its workers when the JVM's pipe
  to it closes (`pyspark/daemon.py`, `manager`).
- What a user passes is checked before the JVM starts (`helpers.core.validate.check_session_conf`:
  master URL, memory sizes, booleans, the daemon module, `LAB_*` variables), and an error Spark
  raises is turned into one line while the session still runs (`spark_error_text`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from helpers.core.cluster import LocalStandalone
from helpers.core.config import LabError, require_java
from helpers.core.jars import synapseml_jars
from helpers.core.lines import has, installed_pyspark
from helpers.core.processes import (
    die_with_parent_preexec,
    is_running,
    keep,
    reap,
    release,
    wait_for,
)
from helpers.core.ship import is_local, kit_archive, ship_kit
from helpers.core.validate import check_executor_python, check_log_level, check_session_conf

# Arrow needs it on Java 9+. Spark 3.5's launcher has no such flag, so on 3.5 only the kit passes
# it to the JVM itself, with a user's own extraJavaOptions after it (see notebook 04's crash lab);
# from 4.0 Spark's launcher adds it (SPARK-47610, helpers.core.lines.SINCE) and the kit leaves it
# to Spark. extraJavaOptions never replace the options Spark's launcher sets itself.
NETTY_REFLECTION_FLAG = "-Dio.netty.tryReflectionSetAccessible=true"
SPARK_ADDS_NETTY_FLAG = has("netty_reflection_flag_builtin", installed_pyspark() or "3.5")
ARROW_JAVA_FLAGS = () if SPARK_ADDS_NETTY_FLAG else (NETTY_REFLECTION_FLAG,)

BASE_CONF = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "false",  # keep physical plans readable and stable
    "spark.driver.memory": os.environ.get("LAB_DRIVER_MEMORY", "4g"),
    "spark.python.worker.reuse": "true",
}

# Confs that only take effect when the JVM starts; changing them means a new session.
STATIC_PREFIXES = (
    "spark.driver.",
    "spark.executor.",
    "spark.jars",
    "spark.python.",
    "spark.master",
    "spark.ui.",
    "spark.memory.",
    "spark.local.",
    "spark.eventLog",
    "spark.app",
    "spark.sql.pyspark",
    "spark.executorEnv",
    "spark.network",
    "spark.buffer",
    "spark.sql.cache.serializer",
)


@dataclass
class _State:
    spark: object | None = None
    static: dict = field(default_factory=dict)
    jvm_pid: int | None = None
    at_exit: bool = False  # stop_session registered with atexit
    log_level: str | None = None  # what the kit last set (`set_log_level`)


_STATE = _State()


def _is_static(key: str) -> bool:
    return key.startswith(STATIC_PREFIXES)


def master_url(master: str | None = None) -> str:
    """The master URL: the argument, else LAB_MASTER, else local[*]."""
    return master or os.environ.get("LAB_MASTER") or "local[*]"


def build_conf(
    app: str,
    conf: dict | None = None,
    master: str | None = None,
    synapseml: bool = True,
    java_options: tuple[str, ...] = (),
) -> dict:
    """The full configuration a session is started with (plain dict, for tests and display)."""
    result = dict(BASE_CONF)
    result["spark.master"] = master_url(master)
    result["spark.app.name"] = app
    user = dict(conf or {})
    opts = list(ARROW_JAVA_FLAGS) + list(java_options)
    if "spark.driver.extraJavaOptions" in user:
        opts.append(user.pop("spark.driver.extraJavaOptions"))
    if opts:
        result["spark.driver.extraJavaOptions"] = " ".join(opts)
        result["spark.executor.extraJavaOptions"] = " ".join(opts)
    if synapseml:
        jars = synapseml_jars()
        if jars:
            result["spark.jars"] = ",".join(str(j) for j in jars)
    result.update({k: str(v) for k, v in user.items()})
    return result


PROFILER_DAEMON = (
    "helpers.workers.profiled_daemon"  # spark.python.daemon.module of a profiled session
)
PROFILER_MODES = ("cpu", "memray")


def worker_profiler_conf(
    mode: str,
    out_dir,
    interval_ms: float = 5.0,
    native: bool = False,
    executor_dir: str | None = None,
) -> dict:
    """Spark confs that put the profiling daemon in front of every Python worker.

    mode: "cpu" or "memray"; out_dir: folder for the per-task files (created);
    interval_ms: sampling period of the cpu mode (milliseconds); native: memray native frames;
    executor_dir: instead of `out_dir`, a relative folder that each executor's daemon resolves in
    its own working directory (a cluster whose executors do not share the driver's disk; the
    files come back through Spark, `helpers.profile.executor_evidence`).
    All are static confs: a session started with them is a new JVM."""
    if mode not in PROFILER_MODES:
        raise LabError(
            f"Unknown worker profiler mode {mode!r}: use one of {', '.join(PROFILER_MODES)}."
        )
    if not interval_ms > 0:
        raise LabError(f"interval_ms must be > 0, got {interval_ms!r}.")
    if executor_dir is not None:
        if Path(executor_dir).is_absolute():
            raise LabError(
                f"executor_dir must be relative (each executor's working directory), "
                f"got {executor_dir!r}."
            )
        out = executor_dir
    else:
        out = Path(out_dir).resolve()
        out.mkdir(parents=True, exist_ok=True)
    return {
        "spark.python.daemon.module": PROFILER_DAEMON,
        "spark.executorEnv.LAB_PROFILE_MODE": mode,
        "spark.executorEnv.LAB_PROFILE_DIR": str(out),
        "spark.executorEnv.LAB_PROFILE_INTERVAL_MS": str(interval_ms),
        "spark.executorEnv.LAB_PROFILE_NATIVE": "1" if native else "0",
    }


KIT_PATH_CONF = "spark.executorEnv.PYTHONPATH"


def daemon_path_conf(conf: dict) -> dict:
    """When `conf` names one of the kit's daemons (`spark.python.daemon.module=helpers...`), the
    daemon itself must import the kit, before any task adds the shipped zip to a worker's path:
    `spark.executorEnv.PYTHONPATH=<the zip's file name>`. Spark fetches added files into each
    executor's working directory, which is the daemon's, and puts the executor's PYTHONPATH on the
    daemon's (`PythonWorkerFactory`). Empty when no kit daemon is set or PYTHONPATH is given."""
    module = conf.get("spark.python.daemon.module", "")
    if not module.startswith("helpers.") or KIT_PATH_CONF in conf:
        return {}
    return {KIT_PATH_CONF: kit_archive().name}


def start_session(
    app: str = "zero-copy",
    conf: dict | None = None,
    master: str | None = None,
    synapseml: bool = True,
    java_options: tuple[str, ...] = (),
    *,
    profile: str | None = None,
    profile_dir=None,
    profile_interval_ms: float = 5.0,
    profile_native: bool = False,
):
    """Start (or reuse) the SparkSession for `app`.

    Runtime SQL confs in `conf` are applied to a running session; when a static conf
    (JVM options, daemon module, jars, master...) differs, the old session is stopped first.
    `profile="cpu"|"memray"` puts the worker profiler in front of every Python worker, writing
    one file per task into `profile_dir` (`worker_profiler_conf`); stale markers of an interrupted
    earlier session are removed from that folder first.
    """
    if profile is not None:
        if profile_dir is None:
            raise LabError(
                "profile_dir is required with profile=...: name a folder for the per-task files."
            )
        conf = {
            **(conf or {}),
            **worker_profiler_conf(profile, profile_dir, profile_interval_ms, profile_native),
        }
        for stale in list(Path(profile_dir).glob("*.running")) + list(
            Path(profile_dir).glob("PAUSED")
        ):
            stale.unlink()
    from pyspark.sql import SparkSession

    full = build_conf(app, conf, master, synapseml, java_options)
    ship = not is_local(full["spark.master"]) and os.environ.get("LAB_SHIP_KIT", "1") != "0"
    if ship:
        full.update(daemon_path_conf(full))
    check_session_conf(full)  # a bad conf never stops a running session
    level = check_log_level(os.environ.get("LAB_LOG_LEVEL"))
    executor_python = check_executor_python(
        os.environ.get("LAB_EXECUTOR_PYTHON"), full["spark.master"]
    )
    static = {k: v for k, v in full.items() if _is_static(k)}
    runtime = {k: v for k, v in full.items() if not _is_static(k)}
    if _STATE.spark is not None:
        if static == _STATE.static:
            _check_runtime_conf(_STATE.spark, runtime)
            return _STATE.spark
        stop_session()
    require_java()
    os.environ["PYSPARK_PYTHON"] = executor_python or sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # Spark UI binds here, not on 0.0.0.0
    builder = SparkSession.builder
    for k, v in full.items():
        builder = builder.config(k, v)
    handler = _own_sigint_handler()
    try:
        with _guarded_launch():
            spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: say why in one line
        text = spark_error_text(exc)
        _cleanup_gateway()
        raise LabError(
            f"Spark did not start ({text}); check Java (`java -version`) and the conf you passed."
        ) from None
    except BaseException:  # Ctrl-C during start-up: no JVM left behind
        _cleanup_gateway()
        raise
    _STATE.spark, _STATE.static = spark, static
    _STATE.jvm_pid = jvm_pid(spark)
    if handler is not None:  # pyspark replaced it with its own (cancel jobs, raise)
        signal.signal(signal.SIGINT, handler)
    try:
        set_log_level(spark, level)
        _check_runtime_conf(
            spark, {k: v for k, v in (conf or {}).items() if k.startswith("spark.sql.")}
        )
        if ship:
            ship_kit(spark)
    except BaseException:
        stop_session()
        raise
    if not _STATE.at_exit:
        atexit.register(_stop_at_exit)
        _STATE.at_exit = True
    return spark


def _own_sigint_handler():
    """The SIGINT handler a caller installed on purpose (the CLI's: stop and print one line), to
    put back after pyspark's SparkContext replaced it; None for Python's default one."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    handler = signal.getsignal(signal.SIGINT)
    return handler if callable(handler) and handler is not signal.default_int_handler else None


@contextlib.contextmanager
def _guarded_launch():
    """While pyspark starts the driver JVM: its Popen gets PR_SET_PDEATHSIG (when this is the
    main thread: the signal follows the thread that forks) and the JVM's PID goes to the watchdog
    at once, so a Ctrl-C or a kill during start-up leaves no JVM behind."""
    import threading

    import pyspark.java_gateway as gateway

    original = gateway.Popen
    main = threading.current_thread() is threading.main_thread()

    def popen(*args, **kwargs):
        if main:
            kwargs["preexec_fn"] = die_with_parent_preexec(kwargs.get("preexec_fn"))
        proc = original(*args, **kwargs)
        keep(proc.pid)
        return proc

    gateway.Popen = popen
    try:
        yield
    finally:
        gateway.Popen = original


def spark_error_text(exc: BaseException, limit: int = 300) -> str:
    """One line saying what a Spark error was, built while the JVM still runs (the text of a
    Py4JJavaError is fetched from the JVM: after the session stopped it is `<exception str()
    failed>`). Never raises."""
    text = ""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            text = str(java.toString())
            cause = java.getCause()
            while cause is not None:  # the innermost cause says what was wrong
                text = str(cause.toString())
                cause = cause.getCause()
        except Exception:
            text = ""
    if not text:
        try:
            text = str(exc)
        except Exception:
            text = ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    first = lines[0] if lines else "no message"
    return f"{type(exc).__name__}: {first}"[:limit]


_FROZEN: dict = {}


def freeze_error_text(exc: BaseException | None) -> BaseException | None:
    """Give a Spark error raised through py4j (`java_exception` set) a text that no longer needs
    the JVM: its `str()` after the session stopped would be `<exception str() failed>`. The
    exception keeps its type (a subclass with a fixed `__str__`) and gets `lab_text`, the one
    line `spark_error_text` built now."""
    if exc is None or getattr(exc, "java_exception", None) is None or hasattr(exc, "lab_text"):
        return exc
    text = spark_error_text(exc)
    base = type(exc)
    frozen = _FROZEN.get(base)
    if frozen is None:
        frozen = type(base.__name__, (base,), {"__str__": lambda self: self.lab_text})
        frozen.__module__ = base.__module__
        _FROZEN[base] = frozen
    try:
        exc.lab_text = text
        exc.__class__ = frozen
    except TypeError:
        pass
    return exc


def _check_runtime_conf(spark, conf: dict) -> None:
    """Each runtime conf the user passed, set once more through Spark's SQLConf: Spark checks it
    against its registered type (e.g. an int conf given 'abc') and says so in one line."""
    for key, value in conf.items():
        try:
            if not spark.conf.isModifiable(key):  # a static SQL conf (e.g. the cache serializer)
                continue  # was set at launch; setting it again is refused, not checked
            spark.conf.set(key, str(value))
        except Exception as exc:
            raise LabError(f"--conf {key}={value}: {spark_error_text(exc)}") from None


def _stop_at_exit() -> None:
    """atexit hook: stop the session (and its processes) when the interpreter exits."""
    try:
        stop_session(timeout=10)
    except Exception:  # the interpreter is going away: nothing left to report to
        pass


@contextlib.contextmanager
def conf_scope(spark, confs: dict):
    """Set runtime SQL confs for the block, then put back what was there (unset when nothing
    was)."""
    before = {k: spark.conf.get(k, None) for k in confs}
    try:
        for k, v in confs.items():
            spark.conf.set(k, str(v))
        yield
    finally:
        for k, v in before.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


def set_log_level(spark, level: str) -> None:
    """Spark's log level, remembered so that `logs_off` puts back what was there."""
    spark.sparkContext.setLogLevel(level)
    _STATE.log_level = level


@contextlib.contextmanager
def logs_off(spark):
    """Spark's log level OFF for the block, then back to the level the kit set before it (a
    session started with LAB_LOG_LEVEL, or one kept OFF for good): for a job whose failure is the
    experiment, so its one line shows and not the executor's ERROR log (in local mode the
    executor logs into the notebook)."""
    before = _STATE.log_level or check_log_level(os.environ.get("LAB_LOG_LEVEL"))
    spark.sparkContext.setLogLevel("OFF")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # the JVM may be gone after a crash experiment
            spark.sparkContext.setLogLevel(before)


@contextlib.contextmanager
def on_cluster(
    workers: int | None,
    app: str = "zero-copy",
    conf: dict | None = None,
    memory: str = "1g",
    **kwargs,
):
    """A session on a fresh standalone cluster of `workers` 1-core workers (`memory` each for
    executors) on this machine, all executors registered; the session and the cluster are stopped
    on exit, nothing left running. `workers=None` or 0: a session on the usual master
    (`LAB_MASTER` or local[*]). Yields (session, cluster or None)."""
    if not workers:
        spark = start_session(app, conf=conf, **kwargs)
        try:
            yield spark, None
        finally:
            stop_session()
        return
    with LocalStandalone(workers=workers, memory=memory) as cluster:
        try:
            spark = start_session(app, conf=conf, master=cluster.master_url, **kwargs)
            wait_for_executors(spark, cluster.workers)
            yield spark, cluster
        finally:
            stop_session()
            cluster.wait_executors_exit()  # executors finish their exit (JFR dumps) first


def executor_count(spark) -> int:
    """Executors registered with the driver now (the driver itself not counted)."""
    return spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1


def wait_for_executors(spark, n: int, timeout: float = 90.0) -> int:
    """Wait until `n` executors have registered (a standalone cluster starts them after the
    session); LabError after `timeout` seconds. Returns the count."""
    if not wait_for(lambda: executor_count(spark) >= n, timeout=timeout, interval=0.2):
        raise LabError(
            f"Only {executor_count(spark)} of {n} executors registered within {timeout:.0f} s: "
            "the cluster's workers lack cores or memory for this application."
        )
    return executor_count(spark)


def session_key(spark) -> str:
    """A key unique to one running SparkContext (its application id) for per-session caches:
    a cache keyed by it never hands out a DataFrame or broadcast of a session that was stopped."""
    return spark.sparkContext.applicationId


def active_session():
    """The session started by `start_session`, or None."""
    return _STATE.spark


def jvm_pid(spark=None) -> int | None:
    """PID of the driver JVM this Python process launched (None when attached to a remote one)."""
    from pyspark import SparkContext

    gw = SparkContext._gateway
    proc = getattr(gw, "proc", None)
    return proc.pid if proc is not None else None


def session_processes(pid: int | None = None) -> list[psutil.Process]:
    """The driver JVM and all its descendants (pyspark.daemon, Python workers)."""
    pid = pid or _STATE.jvm_pid
    if pid is None:
        return []
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return []
    return [p for p in procs if is_running(p)]


def _cleanup_gateway() -> None:
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    gw = SparkContext._gateway
    if gw is not None:
        proc = getattr(gw, "proc", None)
        try:
            gw.shutdown()
        except Exception:
            pass
        if proc is not None:
            release(proc.pid)
            try:
                proc.stdin.close()  # the JVM exits when its stdin closes (PythonGatewayServer)
            except Exception:
                pass
            try:
                proc.wait(timeout=20)
            except BaseException:
                proc.kill()
                proc.wait(timeout=10)
    SparkContext._gateway = None
    SparkContext._jvm = None
    SparkContext._active_spark_context = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None


def stop_session(timeout: float = 20.0) -> list[int]:
    """Stop Spark and every process it started; return the PIDs that had to be killed
    (normally none)."""
    freeze_error_text(sys.exc_info()[1])  # called while a Spark error unwinds: keep its text
    if _STATE.spark is None:
        _cleanup_gateway()
        return []
    procs = session_processes()
    try:
        _STATE.spark.stop()
    finally:
        _cleanup_gateway()
        _STATE.spark, _STATE.static, _STATE.jvm_pid = None, {}, None
    return reap(procs, timeout)


def spark_ui_url(spark=None) -> str | None:
    """The Spark UI address (bound to 127.0.0.1)."""
    spark = spark or _STATE.spark
    return spark.sparkContext.uiWebUrl if spark is not None else None

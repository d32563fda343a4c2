"""Drive a real local Prometheus (``deploy/local/prometheus/run.sh``) from Python.

The server scrapes one driftline metrics endpoint (``target``, ``HOST:PORT``) every second and
evaluates ``deploy/prometheus/driftline.rules.yml`` every second. Each instance has its own run
dir (config, TSDB, log, pid), so test sessions never share or stop each other's server. The
HTTP API is spoken with ``urllib`` from the standard library.

>>> 'targets: ["10.1.2.3:9108"]' in render_config("10.1.2.3:9108", "/rules.yml")
True
>>> PrometheusServer("/tmp/nowhere", "127.0.0.1:9108").log_tail(5)
''
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_SH = REPO_ROOT / "deploy" / "local" / "prometheus" / "run.sh"
RULES_FILE = REPO_ROOT / "deploy" / "prometheus" / "driftline.rules.yml"
CONFIG_TEMPLATE = REPO_ROOT / "deploy" / "prometheus" / "prometheus.local.yml.tmpl"

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 40.0


class PrometheusError(RuntimeError):
    """run.sh or the HTTP API failed; the message carries stderr / the error and the log tail."""


def render_config(target: str, rules_file: str | os.PathLike[str] = RULES_FILE) -> str:
    """The local Prometheus config: the template with its two placeholders filled."""
    text = CONFIG_TEMPLATE.read_text()
    return text.replace("__TARGET__", target).replace("__RULES_FILE__", str(rules_file))


class PrometheusServer:
    """A real Prometheus living in ``run_dir`` that scrapes ``target`` (``HOST:PORT``)."""

    def __init__(self, run_dir: str | os.PathLike[str], target: str, *,
                 rules_file: str | os.PathLike[str] = RULES_FILE,
                 script: str | os.PathLike[str] = RUN_SH) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.target = target
        self.rules_file = Path(rules_file).resolve()
        self.script = Path(script)
        self.url: str | None = None

    @property
    def log_path(self) -> Path:
        return self.run_dir / "prometheus.log"

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        argv = ["bash", str(self.script), *args, "--dir", str(self.run_dir)]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PrometheusError(
                f"`run.sh {' '.join(args)}` did not finish within {timeout:.0f}s\n"
                f"--- prometheus.log (tail) ---\n{self.log_tail(40)}"
            ) from exc

    def start(self) -> str:
        """Start the server, wait until ``/-/ready``; return its URL ``http://127.0.0.1:PORT``."""
        proc = self._run("start", "--target", self.target, "--rules", str(self.rules_file),
                         timeout=START_TIMEOUT_S)
        lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
        if proc.returncode != 0 or not lines or not lines[-1].startswith("http://"):
            raise PrometheusError(
                f"`run.sh start --target {self.target} --dir {self.run_dir}` failed "
                f"(exit {proc.returncode})\n--- stderr ---\n{proc.stderr.strip()}\n"
                f"--- prometheus.log (tail) ---\n{self.log_tail(40)}"
            )
        self.url = lines[-1]
        return self.url

    def stop(self) -> None:
        """Stop the server (SIGTERM, bounded wait, SIGKILL). The TSDB stays in run_dir."""
        proc = self._run("stop", timeout=STOP_TIMEOUT_S)
        self.url = None
        if proc.returncode != 0:
            raise PrometheusError(f"`run.sh stop --dir {self.run_dir}` failed "
                                  f"(exit {proc.returncode})\n{proc.stderr.strip()}")

    def is_running(self) -> bool:
        """True when run_dir's recorded prometheus process is alive."""
        return self._run("status", timeout=STOP_TIMEOUT_S).returncode == 0

    # --- HTTP API -----------------------------------------------------------------------------

    def api(self, path: str, params: dict[str, str] | None = None, *, timeout: float = 10.0) -> Any:
        """GET ``/api/v1/<path>``; return ``data`` of a successful response, else raise."""
        if self.url is None:
            raise PrometheusError("the server is not started")
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # 400/422: bad PromQL; the body says why
            try:
                body = json.loads(exc.read())
            except ValueError:
                raise PrometheusError(f"GET {url}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise PrometheusError(f"GET {url}: {exc}\n{self.log_tail(20)}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"GET {url}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, promql: str, *, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; the ``result`` list (``[{"metric": {...}, "value": [ts, "v"]}, ...]``).

        Raises :class:`PrometheusError` for invalid PromQL. A scalar or string result is returned
        as a one-element list ``[{"metric": {}, "value": [ts, "v"]}]``.
        """
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def alerts(self) -> list[dict[str, Any]]:
        """Active (pending or firing) alerts: ``[{"labels", "annotations", "state", ...}]``."""
        return list(self.api("alerts")["alerts"])

    def rule_groups(self) -> list[dict[str, Any]]:
        """Loaded rule groups with each rule's health and last error."""
        return list(self.api("rules")["groups"])

    def wait_for(self, promql: str, *, timeout: float = 30.0,
                 interval: float = 0.5) -> list[dict[str, Any]]:
        """Poll ``promql`` until it returns a non-empty result; raise after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result:
                return result
            if time.monotonic() > deadline:
                raise PrometheusError(f"{promql!r} still empty after {timeout:.0f}s\n"
                                      f"{self.log_tail(20)}")
            time.sleep(interval)

    def log_tail(self, n: int = 40) -> str:
        """The last ``n`` lines of prometheus.log ('' when there is none)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"PrometheusServer(run_dir={str(self.run_dir)!r}, target={self.target!r}, "
                f"url={self.url!r})")

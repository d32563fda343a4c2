"""Drive the real single-node Kafka broker of ``deploy/local/kafka/run.sh`` from Python.

The broker is a real Apache Kafka (KRaft, combined controller+broker) JVM started from Maven
Central jars; this class only shells out to ``run.sh`` with its own run dir, so several test
sessions on one machine never share (or stop) each other's broker.

>>> KafkaBroker("/tmp/nowhere").log_tail(5)
''
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_SH = REPO_ROOT / "deploy" / "local" / "kafka" / "run.sh"

# First start may resolve ~45 MB of jars with Maven; later starts take seconds.
START_TIMEOUT_S = float(os.environ.get("DRIFTLINE_KAFKA_START_TIMEOUT", "900"))
STOP_TIMEOUT_S = 120.0


class KafkaBrokerError(RuntimeError):
    """run.sh failed: the message carries its stderr and the tail of broker.log."""


class KafkaBroker:
    """A real Kafka broker living in ``run_dir`` (ports, data, broker.log, broker.pid)."""

    def __init__(self, run_dir: str | os.PathLike[str], *, script: str | os.PathLike[str] = RUN_SH,
                 env: dict[str, str] | None = None) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.script = Path(script)
        self._env = dict(os.environ)
        # The readiness probe needs confluent_kafka: use the interpreter running the tests.
        self._env.setdefault("PYTHON", sys.executable)
        if env:
            self._env.update(env)
        self.bootstrap: str | None = None

    @property
    def log_path(self) -> Path:
        return self.run_dir / "broker.log"

    def _run(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        argv = ["bash", str(self.script), command, "--dir", str(self.run_dir)]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  env=self._env, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired as exc:
            raise KafkaBrokerError(
                f"`run.sh {command}` did not finish within {timeout:.0f}s\n"
                f"--- broker.log (tail) ---\n{self.log_tail(80)}"
            ) from exc

    def start(self) -> str:
        """Start (or reuse the running) broker; return its bootstrap address ``127.0.0.1:PORT``."""
        proc = self._run("start", START_TIMEOUT_S)
        lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
        if proc.returncode != 0 or not lines:
            raise KafkaBrokerError(
                f"`run.sh start --dir {self.run_dir}` failed (exit {proc.returncode})\n"
                f"--- stderr ---\n{proc.stderr.strip()}\n"
                f"--- broker.log (tail) ---\n{self.log_tail(80)}"
            )
        self.bootstrap = lines[-1]
        return self.bootstrap

    def stop(self) -> None:
        """Stop the broker: SIGTERM, bounded wait, SIGKILL. Data and ports stay in run_dir."""
        proc = self._run("stop", STOP_TIMEOUT_S)
        if proc.returncode != 0:
            raise KafkaBrokerError(
                f"`run.sh stop --dir {self.run_dir}` failed (exit {proc.returncode})\n"
                f"{proc.stderr.strip()}"
            )

    def restart(self) -> str:
        """Stop, then start in the same run dir: same port, same data. Returns the bootstrap."""
        before = self.bootstrap
        self.stop()
        after = self.start()
        if before is not None and after != before:
            raise KafkaBrokerError(f"restart changed the address: {before} -> {after}")
        return after

    def is_running(self) -> bool:
        """True when the broker process is alive and serves metadata."""
        return self._run("status", 60).returncode == 0

    def log_tail(self, n: int = 80) -> str:
        """The last ``n`` lines of broker.log ('' if there is none yet)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                chunk = min(size, max(64 * 1024, n * 1024))
                f.seek(size - chunk)
                data = f.read()
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-n:])

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"KafkaBroker(run_dir={str(self.run_dir)!r}, bootstrap={self.bootstrap!r})"

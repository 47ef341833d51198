"""Starting and stopping the OMS processes on one machine: worker, venue gateway, market data.

Each process is a separate Python interpreter running its entry point
(`python -m entrypoints.worker`, `entrypoints.venue`, `entrypoints.marketdata`)
with the environment of the given settings (the child reads it once, at its
entry point), its output in a log file under `<home>/logs`. Used by the demo,
the tests (which kill -9 the worker) and the benchmarks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from oms.config import Settings


def environment(settings: Settings, bootstrap_servers: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
        OMS_TOPIC_PREFIX=settings.topic_prefix,
        OMS_HOME=str(settings.home),
        OMS_PARTITIONS=str(settings.partitions),
        OMS_CACHE_DIR=str(settings.cache_dir),
        OMS_METRICS_PORT=str(settings.metrics_port),
        PYTHONUNBUFFERED="1",
    )
    for name, value in (("SCHEMA_REGISTRY_URL", settings.schema_registry_url),
                        ("OMS_RISK_DEFAULTS", settings.risk_defaults), ("OMS_VENUES", settings.venues),
                        ("OMS_EXTERNAL_ORDERS", settings.external_orders.value),
                        ("OMS_VENUE_LIMITS", settings.venue_limits),
                        ("OMS_ROUTING", settings.routing), ("OMS_VENUE_FEES", settings.venue_fees),
                        ("KAFKA_SECURITY_PROTOCOL", settings.security_protocol),
                        ("KAFKA_SASL_MECHANISM", settings.sasl_mechanism),
                        ("KAFKA_SASL_USERNAME", settings.sasl_username),
                        ("KAFKA_SASL_PASSWORD", settings.sasl_password),
                        ("KAFKA_SSL_CA_LOCATION", settings.ssl_ca_location),
                        ("KAFKA_SSL_CERTIFICATE_LOCATION", settings.ssl_certificate_location),
                        ("KAFKA_SSL_KEY_LOCATION", settings.ssl_key_location),
                        ("KAFKA_SSL_KEY_PASSWORD", settings.ssl_key_password)):
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@dataclass
class Processes:
    settings: Settings
    bootstrap_servers: str
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        path = self.settings.home / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self, name: str, module: str, *args: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=environment(self.settings, self.bootstrap_servers),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.procs[name] = proc
        return proc

    def start_worker(self, *args: str) -> subprocess.Popen:
        return self.start("worker", "entrypoints.worker", *args)

    def start_gateway(self, venues: str = "SIM", seed: int = 7, *args: str) -> subprocess.Popen:
        return self.start("venue", "entrypoints.venue", "--venues", venues, "--seed", str(seed),
                          "--no-create-topics", *args)

    def start_marketdata(self, instruments: str, seed: int = 7, rate: float = 20.0) -> subprocess.Popen:
        return self.start("marketdata", "entrypoints.marketdata", "--synthetic", "--instruments",
                          instruments, "--seed", str(seed), "--rate", str(rate), "--no-create-topics")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(timeout=60)

    def stop(self, name: str, timeout: float = 30.0) -> int | None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def wait_until(self, predicate, timeout: float, what: str, poll: float = 0.5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            for name, proc in self.procs.items():
                if proc.poll() is not None and name != "marketdata":
                    raise RuntimeError(f"{name} exited with {proc.returncode} while waiting for {what}:\n"
                                       f"{self.log_tail(name)}")
            time.sleep(poll)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}")

"""The test counterparty: a QuickFIX/J FIX 4.4 exchange (`FixAcceptor.java`) run on loopback.

`LocalAcceptor` owns one acceptor JVM whose files all live in its data
directory: it resolves the QuickFIX/J jars once (`connectors.quickfixj`),
compiles `FixAcceptor.java` with `javac` against them once per source version
(cached under `cache_dir/fix-acceptor/<digest>/classes`), writes
`acceptor.cfg`, starts the JVM on free loopback ports (chosen at the first
start, kept in `ports.json` so a restart listens where the initiators expect
it), waits until its control port answers, and stops it (the JVM also stops
when its stdin closes, so it never outlives the process that started it). The acceptor keeps
its sequence numbers (file store) and its book (`book.tsv`) in the data
directory, so `restart()` resumes both. `control(line)` speaks the acceptor's
test-control line protocol (see the Java source): fill, fill-all,
cancel-unsolicited, drop, refuse, withhold, repeat, expect, count, book, price.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from connectors.quickfixj import FixSetupError, resolve_jars
from hostio import file_lock, free_ports, write_atomic

__all__ = ["AcceptorError", "AcceptorInfo", "LocalAcceptor", "render_acceptor_cfg"]

SOURCE = Path(__file__).parent / "FixAcceptor.java"
MAIN_CLASS = "FixAcceptor"


class AcceptorError(RuntimeError):
    """The acceptor could not be built, started or reached, or refused a control command."""


@dataclass(frozen=True)
class AcceptorInfo:
    """A running acceptor: where initiators connect and where tests send controls."""

    host: str
    port: int
    control_port: int
    comp_id: str
    pid: int


def render_acceptor_cfg(
    data_dir: Path, port: int, control_port: int, *, comp_id: str = "EXCH", heartbeat: int = 30,
    market_price: str = "100", symbols: tuple[str, ...] = (), reject_symbols: tuple[str, ...] = (),
) -> str:
    """QuickFIX/J settings: one acceptor template session taking any initiator CompID."""
    return f"""\
# Written by connectors/fix_acceptor on every start; edits are overwritten.
[DEFAULT]
ConnectionType=acceptor
FileStorePath={data_dir / "store"}
FileLogPath={data_dir / "log"}
StartTime=00:00:00
EndTime=00:00:00
HeartBtInt={heartbeat}
UseDataDictionary=Y
DataDictionary=FIX44.xml
ValidateUserDefinedFields=N
AllowUnknownMsgFields=Y
RejectInvalidMessage=N
SocketTcpNoDelay=Y
ExchangeCompID={comp_id}
ControlPort={control_port}
MarketPrice={market_price}
Symbols={",".join(symbols)}
RejectSymbols={",".join(reject_symbols)}

[SESSION]
AcceptorTemplate=Y
BeginString=FIX.4.4
SenderCompID={comp_id}
TargetCompID=*
SocketAcceptAddress=127.0.0.1
SocketAcceptPort={port}
"""


class LocalAcceptor:
    """One QuickFIX/J acceptor whose files all live in `data_dir` (see the module docstring)."""

    def __init__(
        self, data_dir: Path, cache_dir: Path, *, comp_id: str = "EXCH", heartbeat: int = 30,
        market_price: str = "100", symbols: tuple[str, ...] = (), reject_symbols: tuple[str, ...] = (),
        heap: str = "128m",
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.cache_dir = Path(cache_dir).absolute()
        self.comp_id = comp_id
        self.heartbeat = heartbeat
        self.market_price = market_price
        self.symbols = tuple(symbols)
        self.reject_symbols = tuple(reject_symbols)
        self.heap = heap
        self._proc: subprocess.Popen | None = None
        self._info: AcceptorInfo | None = None

    def __repr__(self) -> str:
        return f"LocalAcceptor(data_dir={str(self.data_dir)!r})"

    @property
    def info(self) -> AcceptorInfo:
        if self._info is None:
            raise AcceptorError("the acceptor is not running")
        return self._info

    # build ---------------------------------------------------------------

    def classpath(self) -> str:
        """The jars and the compiled acceptor, compiling it first if this source was never compiled."""
        libs = resolve_jars(self.cache_dir)
        digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
        home = self.cache_dir / "fix-acceptor" / digest
        classes = home / "classes"
        with file_lock(home / ".lock"):
            if not (home / ".complete").exists():
                javac = shutil.which("javac")
                if javac is None:
                    raise FixSetupError("`javac` is not on PATH; the FIX acceptor needs a JDK 17 or newer")
                if classes.exists():
                    shutil.rmtree(classes)
                classes.mkdir(parents=True)
                result = subprocess.run(
                    [javac, "-nowarn", "-d", str(classes), "-cp", f"{libs}/*", str(SOURCE)],
                    stdin=subprocess.DEVNULL, capture_output=True, text=True,
                )
                if result.returncode != 0:
                    raise AcceptorError(f"javac failed:\n{(result.stdout + result.stderr)[-4000:]}")
                (home / ".complete").write_text(digest + "\n")
        return f"{libs}/*{os.pathsep}{classes}"

    # lifecycle -------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> AcceptorInfo:
        """Start the JVM (if this object has none running) and wait until it answers."""
        if self._proc is not None and self._proc.poll() is None:
            return self.info
        java = shutil.which("java")
        if java is None:
            raise FixSetupError("`java` is not on PATH; the FIX acceptor needs Java 17 or newer")
        classpath = self.classpath()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port, control_port = self._ports()
        write_atomic(self.data_dir / "acceptor.cfg", render_acceptor_cfg(
            self.data_dir, port, control_port, comp_id=self.comp_id, heartbeat=self.heartbeat,
            market_price=self.market_price, symbols=self.symbols, reject_symbols=self.reject_symbols,
        ))
        out = open(self.data_dir / "acceptor.out", "ab")
        try:
            self._proc = subprocess.Popen(
                [java, f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                 "-cp", classpath, MAIN_CLASS, str(self.data_dir)],
                cwd=self.data_dir, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
            )  # the JVM stops when its stdin closes: it never outlives the process that started it
        finally:
            out.close()
        self._info = AcceptorInfo("127.0.0.1", port, control_port, self.comp_id, self._proc.pid)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise AcceptorError(f"the acceptor exited with {self._proc.returncode}:\n{self._tail()}")
            try:
                if self.control("ping") == "pong":
                    break
            except OSError:
                pass
            if time.monotonic() >= deadline:
                self.stop()
                raise AcceptorError(f"the acceptor did not answer within {timeout:.0f} s:\n{self._tail()}")
            time.sleep(0.1)
        return self._info

    def stop(self, grace: float = 10.0) -> None:
        """Ask the JVM to stop (logging sessions out), SIGKILL it if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            _close_stdin(proc)
            return
        try:
            self._send("stop", timeout=2.0)
        except OSError:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        _close_stdin(proc)

    def kill(self) -> None:
        """SIGKILL the JVM (a crash: nothing is logged out)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        _close_stdin(proc)

    def restart(self) -> AcceptorInfo:
        """Stop and start again on the same ports with the same data (book, sequence numbers)."""
        self.stop()
        return self.start()

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # controls --------------------------------------------------------------

    def control(self, line: str) -> str:
        """Send one control command; its reply without the `OK ` prefix. `AcceptorError` on `ERR`."""
        reply = self._send(line)
        if reply.startswith("OK"):
            return reply[3:]
        raise AcceptorError(f"{line!r}: {reply}")

    def book(self, comp_id: str | None = None) -> dict[str, dict[str, str]]:
        """The acceptor's orders (of `comp_id` if given): ClOrdID -> order id, OrdStatus, cum qty, leaves."""
        reply = self.control("book" + (f" {comp_id}" if comp_id else ""))
        out = {}
        for item in reply.split():
            cl_ord_id, order_id, status, cum, leaves = item.split(":")
            out[cl_ord_id] = {"order_id": order_id, "status": status, "cum_qty": cum, "leaves_qty": leaves}
        return out

    def max_rate(self, comp_id: str | None = None) -> tuple[int, int]:
        """(most application messages received in one wall-clock second, total received)."""
        most, total = self.control("count" + (f" {comp_id}" if comp_id else "")).split()
        return int(most), int(total)

    def _send(self, line: str, timeout: float = 10.0) -> str:
        with socket.create_connection(("127.0.0.1", self.info.control_port), timeout=timeout) as conn:
            conn.sendall(line.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.decode().strip()

    # helpers ---------------------------------------------------------------

    def _ports(self) -> tuple[int, int]:
        path = self.data_dir / "ports.json"
        if path.exists():
            saved = json.loads(path.read_text())
            return int(saved["fix"]), int(saved["control"])
        fix, control = free_ports(2)
        write_atomic(path, json.dumps({"fix": fix, "control": control}))
        return fix, control

    def _tail(self, lines: int = 30) -> str:
        path = self.data_dir / "acceptor.out"
        if not path.exists():
            return "(no output)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])



def _close_stdin(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass

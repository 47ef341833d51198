"""The Kafka cluster the OMS talks to: finding one, or running one on this machine.

`LocalBroker` owns a real single-node Apache Kafka broker (KRaft, broker and
controller in one JVM) run from the release jars on Maven Central with the
local Java: it resolves the jars once into the shared cache directory, writes
the configuration into its data directory, formats the storage, starts the
JVM in its own session (so it outlives the Python process that started it),
waits until a real client request is answered, and stops it again. With
`SaslUsers` it runs secured: every listener speaks SASL_PLAINTEXT with the
PLAIN mechanism and those users, the KRaft `StandardAuthorizer` refuses
whatever no ACL allows, and its admin (a super user) creates the ACLs.
`describe_broker` tells whether a cluster answers, its controller and topics.
`resolve_bootstrap` applies the project-wide order for choosing a cluster:
configured bootstrap servers, then (tests only) a Docker container, then the
local broker. Output goes through the `oms.broker` logger only.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from hostio import file_lock, free_ports, write_atomic
from oms.config import Settings
from streams.security import connection

__all__ = [
    "KAFKA_VERSION",
    "BrokerError",
    "BrokerInfo",
    "BrokerState",
    "LocalBroker",
    "SaslUsers",
    "describe_broker",
    "new_cluster_id",
    "render_log4j2",
    "render_pom",
    "render_server_properties",
    "resolve_bootstrap",
]

log = logging.getLogger("oms.broker")
_client_log = logging.getLogger("oms.broker.client")

KAFKA_VERSION = "4.3.1"
SCALA_VERSION = "2.13"
LOG4J_VERSION = "2.24.3"
SLF4J_VERSION = "2.0.17"
DOCKER_IMAGE = "confluentinc/cp-kafka:7.6.0"
"""Image for the Docker fallback; testcontainers' `KafkaContainer` needs a Confluent image."""

_PROBE_INTERVAL = 0.05
"""Pause between two readiness probes that both got an answer (a refused connection waits itself)."""


class BrokerError(RuntimeError):
    """The local broker could not be provisioned, started or reached."""


@dataclass(frozen=True)
class BrokerInfo:
    """A running, answering local broker."""

    bootstrap_servers: str
    pid: int | None
    data_dir: Path
    log_file: Path


@dataclass(frozen=True)
class SaslUsers:
    """A secured local broker's SASL/PLAIN users (name -> password) and its super user (the admin)."""

    users: dict[str, str]
    admin: str = "admin"

    def __post_init__(self) -> None:
        if self.admin not in self.users:
            raise ValueError(f"the admin {self.admin!r} must be one of the users")
        bad = [name for name in self.users if not re.fullmatch(r"[A-Za-z0-9_.-]+", name)]
        if bad or any('"' in pw or "\\" in pw for pw in self.users.values()):
            raise ValueError(f"user names must be [A-Za-z0-9_.-]+ and passwords free of quotes: {bad}")

    def client(self, user: str) -> dict[str, str]:
        """librdkafka properties authenticating as `user` on this broker."""
        return {"security.protocol": "sasl_plaintext", "sasl.mechanism": "PLAIN",
                "sasl.username": user, "sasl.password": self.users[user]}

    def jaas(self) -> str:
        """The PLAIN login module line: the broker logs in as the admin and knows every user."""
        known = " ".join(f'user_{name}="{pw}"' for name, pw in self.users.items())
        return ("org.apache.kafka.common.security.plain.PlainLoginModule required "
                f'username="{self.admin}" password="{self.users[self.admin]}" {known};')


# --------------------------------------------------------------------------- pure parts


def new_cluster_id() -> str:
    """A KRaft cluster id: the 16 bytes of a random UUID, base64url without padding (22 chars)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")


def render_pom(version: str = KAFKA_VERSION) -> str:
    """A packaging-`pom` project whose runtime dependencies are exactly what the broker needs."""
    deps = [
        ("org.apache.kafka", f"kafka_{SCALA_VERSION}", version),
        ("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ("org.slf4j", "slf4j-api", SLF4J_VERSION),
    ]
    dependencies = "\n".join(
        "    <dependency>\n"
        f"      <groupId>{group}</groupId>\n"
        f"      <artifactId>{artifact}</artifactId>\n"
        f"      <version>{v}</version>\n"
        "    </dependency>"
        for group, artifact, v in deps
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>oms.local</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""


def render_server_properties(data_dir: Path, port: int, controller_port: int, sasl: SaslUsers | None = None) -> str:
    """`server.properties` of a single-node combined broker+controller on loopback (secured with `sasl`)."""
    if sasl is not None:
        return _render_secured(data_dir, port, controller_port, sasl)
    return f"""\
# Written by streams/broker.py on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={Path(data_dir) / "kraft"}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
"""


def _render_secured(data_dir: Path, port: int, controller_port: int, sasl: SaslUsers) -> str:
    plain = render_server_properties(data_dir, port, controller_port)
    kept = [line for line in plain.splitlines()
            if not line.startswith(("listeners=", "advertised.listeners=", "listener.security.protocol.map=",
                                    "inter.broker.listener.name="))]
    return "\n".join(kept) + f"""
listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{port}
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config={sasl.jaas()}
listener.name.controller.plain.sasl.jaas.config={sasl.jaas()}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:{sasl.admin}
allow.everyone.if.no.acl.found=false
"""


def render_log4j2(log_file: Path) -> str:
    """log4j2 configuration: everything at INFO into one file, nothing on the console."""
    return f"""\
status = warn
name = oms-broker
shutdownHook = disable
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
"""


# --------------------------------------------------------------------------- the local broker


class LocalBroker:
    """One single-node Kafka broker whose files all live in `data_dir`.

    Layout of `data_dir`: `server.properties`, `log4j2.properties`,
    `ports.json` (chosen at first start, reused after), `broker.pid`,
    `broker.out` (JVM stdout/stderr), `broker.log` (log4j) and `kraft/`
    (the log directory). Jars are shared by all brokers under
    `cache_dir/kafka-<version>/libs`.
    """

    def __init__(
        self,
        data_dir: Path,
        cache_dir: Path,
        version: str = KAFKA_VERSION,
        heap: str = "512m",
        sasl: SaslUsers | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.cache_dir = Path(cache_dir).absolute()
        self.version = version
        self.heap = heap
        self.sasl = sasl
        self._proc: subprocess.Popen | None = None  # set when this object spawned the JVM

    def __repr__(self) -> str:
        return f"LocalBroker(data_dir={str(self.data_dir)!r}, version={self.version!r})"

    # paths ---------------------------------------------------------------

    @property
    def kafka_home(self) -> Path:
        return self.cache_dir / f"kafka-{self.version}"

    @property
    def libs_dir(self) -> Path:
        return self.kafka_home / "libs"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log4j_file(self) -> Path:
        return self.data_dir / "log4j2.properties"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def ports_file(self) -> Path:
        return self.data_dir / "ports.json"

    @property
    def out_file(self) -> Path:
        return self.data_dir / "broker.out"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "kraft"

    # jars ----------------------------------------------------------------

    def resolve_jars(self) -> Path:
        """Download the broker's jars with Maven once; return the directory holding them."""
        marker = self.kafka_home / ".complete"
        if marker.exists():
            return self.libs_dir
        self.kafka_home.mkdir(parents=True, exist_ok=True)
        with file_lock(self.kafka_home / ".lock"):
            if marker.exists():  # another process resolved them while we waited
                return self.libs_dir
            mvn = shutil.which("mvn")
            if mvn is None:
                raise BrokerError(
                    f"Maven (`mvn`) is not on PATH; it is needed once to download the Kafka "
                    f"{self.version} jars into {self.libs_dir}. Install Maven (e.g. "
                    "`apt-get install maven`) or point KAFKA_BOOTSTRAP_SERVERS at a running cluster."
                )
            began = time.monotonic()
            pom = self.kafka_home / "pom.xml"
            write_atomic(pom, render_pom(self.version))
            if self.libs_dir.exists():  # leftovers of an interrupted download
                shutil.rmtree(self.libs_dir)
            log.info("downloading Kafka %s jars with Maven into %s", self.version, self.libs_dir)
            result = subprocess.run(
                [
                    mvn, "-q", "-B", "-f", str(pom),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={self.libs_dir}",
                    "-DincludeScope=runtime",
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise BrokerError(
                    f"`mvn dependency:copy-dependencies` failed (exit {result.returncode}) "
                    f"resolving Kafka {self.version} from {pom}:\n"
                    + _last_lines(result.stdout + result.stderr, 40)
                )
            main_jar = self.libs_dir / f"kafka_{SCALA_VERSION}-{self.version}.jar"
            if not main_jar.exists():
                raise BrokerError(f"Maven finished but {main_jar} is missing")
            jars = len(list(self.libs_dir.glob("*.jar")))
            marker.write_text(f"kafka {self.version}: {jars} jars\n")
            log.info(
                "resolved Kafka %s jars (%d files) in %.1f s",
                self.version, jars, time.monotonic() - began,
            )
        return self.libs_dir

    # lifecycle -------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> BrokerInfo:
        """Start the broker and wait until it answers; return the running one if there is one.

        `timeout` bounds the wait for readiness after the JVM is launched (jar
        download not included). A JVM this call launched that is not ready in
        time is killed before `BrokerError` is raised.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.data_dir / ".lock"):
            pid = self._read_pid()
            if pid is not None and self._alive(pid):
                # Already running, maybe still starting: never launch a second JVM on these files.
                self._wait_ready(pid, time.monotonic() + timeout)
                log.info("Kafka broker already running at %s (pid %d)", self._bootstrap(), pid)
                return self._info(pid)
            self.pid_file.unlink(missing_ok=True)

            libs = self.resolve_jars()
            java = _java()
            began = time.monotonic()
            port, controller_port = self._ports()
            busy = [p for p in (port, controller_port) if not _can_listen(p)]
            if busy:
                raise BrokerError(
                    f"port(s) {busy} of the broker in {self.data_dir} (kept in {self.ports_file}) "
                    "are in use by another process; stop it, or delete the data directory "
                    "to start over with new ports and an empty cluster."
                )
            write_atomic(
                self.properties_file,
                render_server_properties(self.data_dir, port, controller_port, self.sasl),
            )
            write_atomic(self.log4j_file, render_log4j2(self.log_file))
            self._format_storage(java, libs)

            with open(self.out_file, "ab") as out:
                self._proc = subprocess.Popen(
                    [
                        java, f"-Xms{_initial_heap(self.heap)}", f"-Xmx{self.heap}",
                        "-XX:+UseSerialGC", "-Djava.awt.headless=true",
                        "-cp", f"{libs}/*",
                        f"-Dlog4j2.configurationFile={self.log4j_file}",
                        "kafka.Kafka", str(self.properties_file),
                    ],
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            pid = self._proc.pid
            write_atomic(self.pid_file, f"{pid}\n")
            try:
                self._wait_ready(pid, time.monotonic() + timeout)
            except BaseException:
                self._terminate(pid, grace=5.0)
                self.pid_file.unlink(missing_ok=True)
                raise
            log.info(
                "started Kafka %s broker at %s (pid %d) in %.1f s",
                self.version, self._bootstrap(), pid, time.monotonic() - began,
            )
            return self._info(pid)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM (controlled shutdown), SIGKILL after `timeout`; return whether it was running."""
        pid = self._read_pid()
        if pid is None or not self._alive(pid):
            self.pid_file.unlink(missing_ok=True)
            return False
        began = time.monotonic()
        self._terminate(pid, grace=timeout)
        self.pid_file.unlink(missing_ok=True)
        log.info("stopped Kafka broker (pid %d) in %.1f s", pid, time.monotonic() - began)
        return True

    def status(self) -> BrokerInfo | None:
        """The broker, if its process is running and it answers a client request now."""
        pid = self._read_pid()
        if pid is None or not self._alive(pid) or not self.ports_file.exists():
            return None
        if not _answers(_probe_client(self._bootstrap(), self.admin_security), timeout=1.0):
            return None
        return self._info(pid)

    @property
    def admin_security(self) -> dict[str, str]:
        """The client properties of this broker's admin (none for a plaintext broker)."""
        return self.sasl.client(self.sasl.admin) if self.sasl is not None else {}

    # internals -------------------------------------------------------------

    def _bootstrap(self) -> str:
        port, _ = self._ports()
        return f"127.0.0.1:{port}"

    def _info(self, pid: int) -> BrokerInfo:
        return BrokerInfo(self._bootstrap(), pid, self.data_dir, self.log_file)

    def _ports(self) -> tuple[int, int]:
        """The (client, controller) ports: chosen free at first start, then kept.

        They must stay fixed: the formatted metadata log records the controller's endpoint.
        """
        if self.ports_file.exists():
            saved = json.loads(self.ports_file.read_text())
            return int(saved["port"]), int(saved["controller_port"])
        port, controller_port = free_ports(2)
        write_atomic(
            self.ports_file,
            json.dumps({"port": port, "controller_port": controller_port}) + "\n",
        )
        return port, controller_port

    def _format_storage(self, java: str, libs: Path) -> None:
        if (self.log_dir / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        result = subprocess.run(
            [
                java, "-Xmx256m", "-XX:+UseSerialGC",
                "-cp", f"{libs}/*",
                f"-Dlog4j2.configurationFile={self.log4j_file}",
                "kafka.tools.StorageTool", "format",
                f"--cluster-id={cluster_id}", "-c", str(self.properties_file), "--standalone",
            ],
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BrokerError(
                f"formatting {self.log_dir} failed (exit {result.returncode}):\n"
                + _last_lines(result.stdout + result.stderr, 40)
            )
        log.info("formatted %s for cluster %s", self.log_dir, cluster_id)

    def _wait_ready(self, pid: int, deadline: float) -> None:
        """Poll a real client request until the broker and its controller answer."""
        admin = _probe_client(self._bootstrap(), self.admin_security)
        began = time.monotonic()
        while True:
            if not self._alive(pid):
                code = self._proc.returncode if self._proc is not None and self._proc.pid == pid else None
                raise BrokerError(
                    f"Kafka broker (pid {pid}) exited"
                    + (f" with code {code}" if code is not None else "")
                    + f" while starting.\n{self._log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if _answers(admin, timeout=max(0.1, min(1.0, remaining))):
                return
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"Kafka broker at {self._bootstrap()} (pid {pid}) did not answer within "
                    f"{time.monotonic() - began:.1f} s.\n{self._log_tail()}"
                )
            time.sleep(_PROBE_INTERVAL)

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        return _runs(pid, str(self.properties_file))

    def _terminate(self, pid: int, grace: float) -> None:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL."""
        if not _signal(pid, signal.SIGTERM):
            return
        if self._wait_exit(pid, grace):
            return
        log.warning("Kafka broker (pid %d) still running after %.0f s; killing it", pid, grace)
        _signal(pid, signal.SIGKILL)
        self._wait_exit(pid, 10.0)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            try:
                self._proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while self._alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _log_tail(self, lines: int = 30) -> str:
        """Recent errors and their causes, then the last lines of each output file."""
        parts = []
        for path in (self.out_file, self.log_file):
            if not path.exists():
                continue
            text = _read_end(path)
            causes = [
                line for line in text.splitlines()
                if "] ERROR " in line or "] FATAL " in line or line.startswith("Caused by:")
            ]
            if causes:
                recent = list(dict.fromkeys(causes[-lines:]))[-8:]
                parts.append(f"--- errors in {path} ---\n" + "\n".join(recent))
            parts.append(f"--- end of {path} ---\n{_last_lines(text, lines)}")
        return "\n".join(parts) or f"(no output in {self.data_dir})"


# --------------------------------------------------------------------------- choosing a cluster


def resolve_bootstrap(settings: Settings, *, allow_docker: bool = False) -> tuple[str, object | None]:
    """Find the cluster to use: `(bootstrap_servers, handle)`.

    Order: `settings.bootstrap_servers` if set; else, when `allow_docker`, a
    testcontainers `KafkaContainer` if a Docker engine answers; else the local
    broker in `settings.home / "broker"`, started if it is not running. The
    handle has a `stop()` method and is returned only for something this call
    started (the container, or the `LocalBroker` if it launched the JVM);
    it is `None` otherwise. Whether to stop it is the caller's choice.
    """
    if settings.bootstrap_servers:
        log.info("using Kafka at %s (configured)", settings.bootstrap_servers)
        return settings.bootstrap_servers, None
    if allow_docker and _docker_answers():
        container = _start_container()
        bootstrap = container.get_bootstrap_server()
        log.info("using Kafka in Docker at %s", bootstrap)
        return bootstrap, container
    broker = LocalBroker(settings.home / "broker", settings.cache_dir)
    info = broker.start()
    return info.bootstrap_servers, (broker if broker._proc is not None else None)


@dataclass(frozen=True)
class BrokerState:
    """What a cluster answered (or why it did not)."""

    bootstrap_servers: str
    reachable: bool
    controller: str | None = None
    brokers: int = 0
    topics: tuple[str, ...] = ()
    error: str | None = None


def describe_broker(bootstrap_servers: str, timeout: float = 3.0, prefix: str = "") -> BrokerState:
    """Ask the cluster (with the process's client security) for its controller, brokers and the
    topics under `prefix`; an unreachable or refusing cluster is a state, not an exception."""
    admin = _probe_client(bootstrap_servers)
    try:
        metadata = admin.list_topics(timeout=timeout)
        cluster = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout + 1)
    except (KafkaException, TimeoutError) as exc:
        return BrokerState(bootstrap_servers, False, error=str(exc))
    controller = cluster.controller
    return BrokerState(
        bootstrap_servers, True,
        controller=f"{controller.id}@{controller.host}:{controller.port}" if controller is not None else None,
        brokers=len(cluster.nodes),
        topics=tuple(sorted(t for t in metadata.topics if t.startswith(prefix) and not t.startswith("__"))),
    )


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env()
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no client library, no socket, daemon down: all mean "no Docker"
        return False


def _start_container():
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:  # testcontainers < 4.13
        from testcontainers.kafka import KafkaContainer

    began = time.monotonic()
    container = (
        KafkaContainer(DOCKER_IMAGE)
        .with_kraft()
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
    )
    container.start()
    log.info("started Kafka container %s in %.1f s", DOCKER_IMAGE, time.monotonic() - began)
    return container


# --------------------------------------------------------------------------- helpers


def _probe_client(bootstrap: str, security: dict[str, str] | None = None) -> AdminClient:
    """An admin client for readiness probes: fast reconnects, refused connections not logged;
    with the given client `security`, else the process's (`streams.security`)."""
    return AdminClient(
        {
            **(connection(bootstrap) if security is None else {"bootstrap.servers": bootstrap, **security}),
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 250,
            "logger": _client_log,
            "log_level": 0,
        }
    )


def _answers(admin: AdminClient, timeout: float) -> bool:
    """Does the broker answer metadata, and does it know an active controller?"""
    try:
        admin.list_topics(timeout=timeout)
        cluster = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout + 1)
    except (KafkaException, TimeoutError):
        return False
    return cluster.controller is not None


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise BrokerError(
            "`java` is not on PATH; the local Kafka broker needs Java 17 or newer "
            "(or point KAFKA_BOOTSTRAP_SERVERS at a running cluster)."
        )
    return java


def _initial_heap(heap: str) -> str:
    """`-Xms`: 256m, or the whole heap when that is smaller."""
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", heap)
    if match is None:
        raise ValueError(f"heap must look like 512m or 1g, not {heap!r}")
    scale = {"": 1 / 2**20, "k": 1 / 2**10, "m": 1, "g": 2**10}[match.group(2).lower()]
    return heap if int(match.group(1)) * scale < 256 else "256m"



def _can_listen(port: int) -> bool:
    """Could a server socket (with SO_REUSEADDR, as the JVM uses) bind this loopback port now?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _runs(pid: int, marker: str) -> bool:
    """Is `pid` a live (not zombie) process whose command line contains `marker`?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process reusing the pid
    proc = Path("/proc") / str(pid)
    if not proc.exists():  # no procfs (macOS): trust the pid file
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return False
    return state != "Z" and marker in cmdline


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False




def _read_end(path: Path, max_bytes: int = 64 * 1024) -> str:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - max_bytes))
        return handle.read().decode(errors="replace")


def _last_lines(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])

"""Configuration: one frozen `Settings` value, read from the environment once, at the entry point.

`Settings.from_env()` is the one place the process environment is read: the
entry points call it once and pass the value down. `Settings(...)` with
keyword arguments builds a value without looking at the environment (tests,
and `with_` deriving one value from another). An empty variable counts as unset.

| field | environment | default |
|---|---|---|
| `bootstrap_servers` | `KAFKA_BOOTSTRAP_SERVERS` | unset: the local broker |
| `schema_registry_url` | `SCHEMA_REGISTRY_URL` | unset: single-object encoding |
| `topic_prefix` | `OMS_TOPIC_PREFIX` | `oms.` |
| `home` | `OMS_HOME` | `.oms` (made absolute) |
| `cache_dir` | `OMS_CACHE_DIR` | `~/.cache/oms` |
| `partitions` | `OMS_PARTITIONS` | 3 |
| `worker_instance` | `OMS_WORKER_INSTANCE` | `0` |
| `risk_defaults` | `OMS_RISK_DEFAULTS` | unset: the built-in default limits |
| `venues` | `OMS_VENUES` | unset: the default venue plus the routed ones |
| `external_orders` | `OMS_EXTERNAL_ORDERS` | `reject` |
| `venue_limits` | `OMS_VENUE_LIMITS` | unset: 1,000 requests/s per venue, default breaker and deadlines |
| `routing` | `OMS_ROUTING` | unset: static routing only |
| `venue_fees` | `OMS_VENUE_FEES` | unset: no fees in smart routing decisions |
| `blotter_tokens` | `OMS_BLOTTER_TOKENS` | unset: nobody can open the web blotter |
| `security_protocol` | `KAFKA_SECURITY_PROTOCOL` | unset: `PLAINTEXT` |
| `sasl_mechanism` | `KAFKA_SASL_MECHANISM` | unset (`PLAIN` when a user name is set) |
| `sasl_username`, `sasl_password` | `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD` | unset |
| `ssl_ca_location` | `KAFKA_SSL_CA_LOCATION` | unset: the system's CA certificates |
| `ssl_certificate_location`, `ssl_key_location`, `ssl_key_password` | `KAFKA_SSL_CERTIFICATE_LOCATION`, `KAFKA_SSL_KEY_LOCATION`, `KAFKA_SSL_KEY_PASSWORD` | unset: no client certificate |
| `metrics_port` | `OMS_METRICS_PORT` | 0: any free port (each process writes its own under `home/run/`) |

`risk_defaults` ("max_order_qty=50000,max_order_notional=2000000", see
`oms.domain.risk.parse_default_limits`) are the fail-closed limits of an
account with none of its own and none at `*`; `default_limits` is the parsed
value every `Controls` starts from. `venues` ("SIM-A,SIM-B") is the venue
catalogue the worker routes to; an order naming another venue is denied.
`external_orders` (`reject` or `adopt`) is what the order engine does with an
execution report for an order it did not create (`oms.domain.orders.ExternalOrders`;
why `reject` is the default: `oms.domain.engine.decide`).
`venue_limits` is the venue gateway's per-venue policy (rate-limit pools and
weights, queue wait, throttle backoff, circuit breaker, deadlines:
`oms.venues.policy`), as JSON text or the path of a `.json` / `.toml` file;
`venue_policies` is the parsed value.
`routing` ("account:ACC-1=cost,instrument:AAPL=split,default=best", see
`oms.routing.RoutingRules`) turns on smart order routing in the worker for the
accounts and instruments it names (parents routed to `SOR`, children to the
venues); `venue_fees` ("SIM-A=taker:0.003,maker:-0.002;SIM-B=taker:1bps,maker:0",
`oms.domain.sor.parse_fees`) are the fee schedules it weighs.
`worker_instance` names one worker among several in the same consumer groups
(scale-out): its transactional id and static group member id, and its state
stores apart from the others' under `home`; two running workers need two.
`blotter_tokens` ("s3cret:alice:operate,v1ew:bob:read", see `oms.access.parse_tokens`)
are the web blotter's access tokens; `blotter_grants` is the parsed value.
The `KAFKA_SECURITY_*`, `KAFKA_SASL_*` and `KAFKA_SSL_*` settings are handed to
every Kafka client of the process (`streams.kafka.client_security`): protocol
`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`, mechanism `PLAIN`,
`SCRAM-SHA-256` or `SCRAM-SHA-512`. `metrics_port` is where the process serves
its Prometheus `/metrics` (`-1` turns it off).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from decimal import Decimal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from oms.access import Grant, parse_tokens
from oms.domain.orders import ExternalOrders
from oms.domain.risk import parse_default_limits
from oms.routing import parse_venues
from oms.venues.policy import VenueLimits, parse_venue_limits


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class Settings(BaseSettings):
    """Where the OMS finds its cluster and keeps its local files."""

    model_config = SettingsConfigDict(
        frozen=True, populate_by_name=True, case_sensitive=True, env_ignore_empty=True, extra="forbid",
    )

    bootstrap_servers: str | None = Field(default=None, validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    """`KAFKA_BOOTSTRAP_SERVERS`; when unset the local broker is used."""
    schema_registry_url: str | None = Field(default=None, validation_alias="SCHEMA_REGISTRY_URL")
    """`SCHEMA_REGISTRY_URL`; when set the Confluent wire format is used."""
    topic_prefix: str = Field(default="oms.", validation_alias="OMS_TOPIC_PREFIX")
    """`OMS_TOPIC_PREFIX`; lets several environments share one cluster."""
    home: Path = Field(default=Path(".oms"), validation_alias="OMS_HOME", validate_default=True)
    """`OMS_HOME`: local broker data, state stores, logs (always absolute)."""
    cache_dir: Path = Field(default=Path.home() / ".cache" / "oms", validation_alias="OMS_CACHE_DIR")
    """`OMS_CACHE_DIR`: downloaded Kafka jars (shared by every checkout)."""
    partitions: int = Field(default=3, gt=0, validation_alias="OMS_PARTITIONS")
    """`OMS_PARTITIONS`: partition count of the account-keyed topics."""
    worker_instance: str = Field(default="0", pattern=r"^[A-Za-z0-9_-]{1,40}$", validation_alias="OMS_WORKER_INSTANCE")
    """`OMS_WORKER_INSTANCE`: this worker's name among the workers sharing its consumer groups."""

    risk_defaults: str = Field(default="", validation_alias="OMS_RISK_DEFAULTS")
    """`OMS_RISK_DEFAULTS`: default limits over the built-in ones, e.g. `max_order_qty=50000`."""
    venues: str | None = Field(default=None, validation_alias="OMS_VENUES")
    """`OMS_VENUES`: the venue catalogue, e.g. `SIM-A,SIM-B`."""

    external_orders: ExternalOrders = Field(default=ExternalOrders.REJECT, validation_alias="OMS_EXTERNAL_ORDERS")
    """`OMS_EXTERNAL_ORDERS`: `reject` (an UNKNOWN_ORDER anomaly) or `adopt` (an external order)."""

    routing: str = Field(default="", validation_alias="OMS_ROUTING")
    """`OMS_ROUTING`: smart routing rules per account / instrument, e.g. `account:ACC-1=cost,default=best`."""
    venue_fees: str = Field(default="", validation_alias="OMS_VENUE_FEES")
    """`OMS_VENUE_FEES`: fee schedules per venue, e.g. `SIM-A=taker:0.003,maker:-0.002`."""

    venue_limits: str = Field(default="", validation_alias="OMS_VENUE_LIMITS")
    """`OMS_VENUE_LIMITS`: per-venue gateway policy, JSON text or a `.json` / `.toml` file path."""

    blotter_tokens: str = Field(default="", validation_alias="OMS_BLOTTER_TOKENS", repr=False)
    """`OMS_BLOTTER_TOKENS`: the web blotter's access tokens, `token:user:role,...` (roles read, operate)."""

    security_protocol: str | None = Field(default=None, validation_alias="KAFKA_SECURITY_PROTOCOL")
    """`KAFKA_SECURITY_PROTOCOL`: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    sasl_mechanism: str | None = Field(default=None, validation_alias="KAFKA_SASL_MECHANISM")
    """`KAFKA_SASL_MECHANISM`: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."""
    sasl_username: str | None = Field(default=None, validation_alias="KAFKA_SASL_USERNAME")
    """`KAFKA_SASL_USERNAME`: the OMS's principal on a SASL listener."""
    sasl_password: str | None = Field(default=None, validation_alias="KAFKA_SASL_PASSWORD", repr=False)
    """`KAFKA_SASL_PASSWORD`."""
    ssl_ca_location: str | None = Field(default=None, validation_alias="KAFKA_SSL_CA_LOCATION")
    """`KAFKA_SSL_CA_LOCATION`: the CA certificate(s) the broker's certificate is checked against."""
    ssl_certificate_location: str | None = Field(default=None, validation_alias="KAFKA_SSL_CERTIFICATE_LOCATION")
    """`KAFKA_SSL_CERTIFICATE_LOCATION`: the client certificate (mutual TLS)."""
    ssl_key_location: str | None = Field(default=None, validation_alias="KAFKA_SSL_KEY_LOCATION")
    """`KAFKA_SSL_KEY_LOCATION`: the client certificate's private key."""
    ssl_key_password: str | None = Field(default=None, validation_alias="KAFKA_SSL_KEY_PASSWORD", repr=False)
    """`KAFKA_SSL_KEY_PASSWORD`."""
    metrics_port: int = Field(default=0, ge=-1, le=65535, validation_alias="OMS_METRICS_PORT")
    """`OMS_METRICS_PORT`: the process's Prometheus `/metrics` port; 0 any free port, -1 none."""

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) and value.strip() else None

    @field_validator("security_protocol")
    @classmethod
    def _protocol(cls, value: str | None) -> str | None:
        if value is not None and value not in SECURITY_PROTOCOLS:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}, not {value!r}")
        return value

    @field_validator("sasl_mechanism")
    @classmethod
    def _mechanism(cls, value: str | None) -> str | None:
        if value is not None and value not in SASL_MECHANISMS:
            raise ValueError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, not {value!r}")
        return value

    @field_validator("blotter_tokens")
    @classmethod
    def _blotter_tokens(cls, value: str) -> str:
        parse_tokens(value)  # refused at the entry point, not at the first request
        return value

    @property
    def blotter_grants(self) -> dict[str, Grant]:
        """The parsed `blotter_tokens`: token -> the user and role it grants."""
        return parse_tokens(self.blotter_tokens)

    @field_validator("venue_limits")
    @classmethod
    def _venue_limits(cls, value: str) -> str:
        _read_venue_limits(value)  # refused at the entry point, not when the gateway starts
        return value

    @property
    def venue_policies(self) -> VenueLimits:
        """The parsed `venue_limits` (a file path is read here)."""
        return _read_venue_limits(self.venue_limits)

    @field_validator("external_orders", mode="before")
    @classmethod
    def _policy(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("routing")
    @classmethod
    def _routing(cls, value: str) -> str:
        from oms.routing import RoutingRules

        if value.strip():
            RoutingRules.parse(value)  # refused at the entry point, not when the first order comes
        return value

    @field_validator("venue_fees")
    @classmethod
    def _fees(cls, value: str) -> str:
        from oms.domain.sor import parse_fees

        if value.strip():
            parse_fees(value)
        return value

    @field_validator("risk_defaults")
    @classmethod
    def _limits(cls, value: str) -> str:
        parse_default_limits(value)  # refused at the entry point, not when the first order comes
        return value

    @field_validator("venues")
    @classmethod
    def _catalogue(cls, value: str | None) -> str | None:
        if value:
            parse_venues(value)
        return value or None

    @property
    def default_limits(self) -> dict[str, Decimal]:
        """The default limits every `Controls` starts from: `risk_defaults` over `DEFAULT_LIMITS`."""
        return parse_default_limits(self.risk_defaults)

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.absolute()

    @field_validator("bootstrap_servers", "schema_registry_url", "sasl_username", "sasl_password",
                     "ssl_ca_location", "ssl_certificate_location", "ssl_key_location", "ssl_key_password",
                     mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return value or None

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        """Keyword arguments only: the environment is read by `from_env`, never implicitly."""
        return (init_settings,)

    @classmethod
    def from_env(cls) -> "Settings":
        """The settings the process environment gives; called once, by the entry point."""
        return cls(**EnvSettingsSource(cls)())

    def with_(self, **changes: Any) -> "Settings":
        """A copy with `changes` (field names) applied and validated."""
        return type(self)(**{**self.model_dump(), **changes})


def _read_venue_limits(spec: str) -> VenueLimits:
    text = spec.strip()
    if not text or text.startswith("{"):
        return parse_venue_limits(text)
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValueError(f"venue limits: {text!r} is neither JSON nor a file")
    return parse_venue_limits(path.read_text(), toml=path.suffix == ".toml")

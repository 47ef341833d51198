"""How this process's Kafka clients authenticate and encrypt: SASL and TLS from the settings.

`client_security(settings)` turns the `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`
and `KAFKA_SSL_*` settings into librdkafka properties (empty for a plaintext
cluster). The process installs them once, at its entry point, through
`streams.runtime.connect` (`use(settings)`); from then on `connection(bootstrap)`
— the start of every client configuration the OMS builds (producers,
consumers, readers, the transactional processor, admin clients) — carries
them, so no caller has to thread credentials through. `faust_credentials()`
gives the same settings in faust's (aiokafka's) terms for the position
manager's app (`streams.faust_transport.durable_transport`).
"""

from __future__ import annotations

import ssl
from contextlib import contextmanager
from typing import Iterator

from oms.config import Settings

__all__ = ["client_security", "connection", "current", "faust_credentials", "use", "using"]

_current: dict[str, str] = {}
"""The process's client security properties (installed by `use`)."""


def client_security(settings: Settings) -> dict[str, str]:
    """The librdkafka properties the settings ask for; a clear `ValueError` for an incomplete set."""
    protocol = settings.security_protocol or ("SASL_PLAINTEXT" if settings.sasl_username else None)
    if protocol is None or protocol == "PLAINTEXT":
        return {}
    props = {"security.protocol": protocol.lower()}
    if protocol.startswith("SASL_"):
        if not settings.sasl_username or settings.sasl_password is None:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        props.update({
            "sasl.mechanism": settings.sasl_mechanism or "PLAIN",
            "sasl.username": settings.sasl_username,
            "sasl.password": settings.sasl_password,
        })
    if protocol.endswith("SSL"):
        for key, value in (("ssl.ca.location", settings.ssl_ca_location),
                           ("ssl.certificate.location", settings.ssl_certificate_location),
                           ("ssl.key.location", settings.ssl_key_location),
                           ("ssl.key.password", settings.ssl_key_password)):
            if value:
                props[key] = value
    return props


def use(settings: Settings) -> dict[str, str]:
    """Install the settings' client security for every client this process builds from now on."""
    global _current
    _current = client_security(settings)
    return dict(_current)


def current() -> dict[str, str]:
    """The installed client security properties (a copy)."""
    return dict(_current)


@contextmanager
def using(settings: Settings) -> Iterator[dict[str, str]]:
    """`use(settings)` for the block, then back to what was installed before (tests)."""
    global _current
    before = _current
    try:
        yield use(settings)
    finally:
        _current = before


def connection(bootstrap_servers: str) -> dict[str, str]:
    """Where and how to connect: the first properties of every Kafka client configuration."""
    return {"bootstrap.servers": bootstrap_servers, **_current}


def faust_credentials(props: dict[str, str] | None = None):
    """The installed (or given) security as faust credentials, or None for plaintext."""
    import faust  # local: only the faust app needs it

    props = current() if props is None else props
    protocol = props.get("security.protocol", "plaintext").upper()
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=props.get("ssl.ca.location"))
        if props.get("ssl.certificate.location"):
            context.load_cert_chain(props["ssl.certificate.location"], props.get("ssl.key.location"),
                                    props.get("ssl.key.password"))
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(username=props["sasl.username"], password=props["sasl.password"],
                                 mechanism=props["sasl.mechanism"], ssl_context=context)

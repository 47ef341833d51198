"""Tests of `streams.security` and the secured local broker: SASL/PLAIN with ACLs.

Without a broker: the settings become the right librdkafka and faust
properties, and an incomplete set is refused. On a broker of its own (SASL on
every listener, the StandardAuthorizer, an admin super user; on free ports):
the admin grants the OMS's user its topics, groups and transactional ids and a
viewer read access only; the worker (order engine and faust's position
manager) running as the OMS's user journals a command, and the viewer's write
to the journal is refused.
"""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import (
    AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType,
)

from oms.clock import TestClock
from oms.config import Settings
from entrypoints.supervisor import Processes
from oms.events import JournalEvent
from processors.app import app_id
from streams import security
from streams.broker import LocalBroker, SaslUsers, describe_broker, render_server_properties
from streams.client import OrderClient
from streams.kafka import read_all
from streams.runtime import connect

USERS = SaslUsers({"admin": "admin-secret", "oms": "oms-secret", "viewer": "viewer-secret"})


def sasl_settings(user: str, **fields) -> Settings:
    return Settings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username=user,
                    sasl_password=USERS.users[user], **fields)


# --------------------------------------------------------------------------- without a broker


def test_plaintext_settings_add_nothing_to_a_client():
    assert security.client_security(Settings()) == {}
    assert security.client_security(Settings(security_protocol="plaintext")) == {}


def test_sasl_settings_become_librdkafka_properties():
    props = security.client_security(sasl_settings("oms"))
    assert props == {"security.protocol": "sasl_plaintext", "sasl.mechanism": "PLAIN",
                     "sasl.username": "oms", "sasl.password": "oms-secret"}


def test_tls_settings_carry_the_ca_and_the_client_certificate():
    props = security.client_security(Settings(
        security_protocol="SASL_SSL", sasl_mechanism="scram-sha-512", sasl_username="u", sasl_password="p",
        ssl_ca_location="/etc/ca.pem", ssl_certificate_location="/etc/c.pem", ssl_key_location="/etc/k.pem"))
    assert props["security.protocol"] == "sasl_ssl"
    assert props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["ssl.ca.location"] == "/etc/ca.pem"
    assert props["ssl.key.location"] == "/etc/k.pem"


def test_a_sasl_protocol_without_credentials_is_refused_clearly():
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        security.client_security(Settings(security_protocol="SASL_PLAINTEXT"))
    with pytest.raises(ValueError, match="KAFKA_SECURITY_PROTOCOL"):
        Settings(security_protocol="SASL_WHATEVER")


def test_installed_security_starts_every_client_configuration_and_is_restored():
    from streams.kafka import consumer_config, producer_config
    from streams.processor import transactional_producer_config

    with security.using(sasl_settings("oms")):
        assert producer_config("h:1")["sasl.username"] == "oms"
        assert consumer_config("h:1", "g")["security.protocol"] == "sasl_plaintext"
        assert transactional_producer_config("h:1", "tx")["sasl.password"] == "oms-secret"
    assert "sasl.username" not in producer_config("h:1")


def test_faust_gets_the_same_credentials():
    credentials = security.faust_credentials(security.client_security(sasl_settings("oms")))
    assert (credentials.username, credentials.password) == ("oms", "oms-secret")
    assert credentials.mechanism.value == "PLAIN"
    assert security.faust_credentials({}) is None


def test_secured_broker_configuration_has_sasl_listeners_and_the_authorizer(tmp_path):
    text = render_server_properties(tmp_path, 9092, 9093, USERS)
    assert "listeners=SASL_PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093" in text
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in text
    assert "super.users=User:admin" in text
    assert 'user_viewer="viewer-secret"' in text
    assert "PLAINTEXT://127.0.0.1:9092" not in text.replace("SASL_PLAINTEXT", "")


# --------------------------------------------------------------------------- on a secured broker


def allow(kind: ResourceType, name: str, user: str, operation: AclOperation) -> AclBinding:
    return AclBinding(kind, name, ResourcePatternType.PREFIXED, f"User:{user}", "*", operation,
                      AclPermissionType.ALLOW)


@pytest.mark.kafka
def test_the_oms_works_with_its_credentials_and_a_reader_cannot_write_the_journal(tmp_path, unique_name):
    broker = LocalBroker(tmp_path / "broker", Settings.from_env().cache_dir, heap="384m", sasl=USERS)
    info = broker.start(timeout=60)
    prefix = f"{unique_name}."
    app = prefix.replace(".", "-")
    base = dict(bootstrap_servers=info.bootstrap_servers, topic_prefix=prefix, partitions=1, home=tmp_path / "home")
    procs = None
    try:
        with security.using(sasl_settings("admin", **base)):  # the admin: topics and ACLs
            admin_rt = connect(sasl_settings("admin", **base), start_broker=False)
            admin_rt.ensure_topics()
            acls = [allow(ResourceType.TOPIC, prefix, "oms", AclOperation.ALL),
                    allow(ResourceType.GROUP, prefix, "oms", AclOperation.ALL),
                    allow(ResourceType.GROUP, "oms-reader-", "oms", AclOperation.ALL),
                    allow(ResourceType.TRANSACTIONAL_ID, prefix, "oms", AclOperation.ALL),
                    # faust's app id (`processors.app.app_id`): its group and its tables' changelogs
                    allow(ResourceType.TOPIC, app, "oms", AclOperation.ALL),
                    allow(ResourceType.GROUP, app, "oms", AclOperation.ALL),
                    allow(ResourceType.TOPIC, prefix, "viewer", AclOperation.READ),
                    allow(ResourceType.GROUP, "oms-reader-", "viewer", AclOperation.READ)]
            admin = admin_rt.admin()  # kept: its futures die with it
            for future in admin.create_acls(acls).values():
                future.result(timeout=30)
            assert describe_broker(info.bootstrap_servers, prefix=prefix).topics

        with security.using(sasl_settings("viewer", **base)):  # a client without a password is not let in
            wrong = Settings(security_protocol="SASL_PLAINTEXT", sasl_username="viewer", sasl_password="nope")
            with security.using(wrong):
                refused = describe_broker(info.bootstrap_servers, timeout=2)
            assert not refused.reachable

        oms = sasl_settings("oms", **base)
        procs = Processes(oms, info.bootstrap_servers)
        with security.using(oms):  # the worker with the OMS's credentials: a command in, journaled
            rt = connect(oms, start_broker=False)
            procs.start_worker()
            client = OrderClient(rt.event_producer(), rt.topics, "alice", TestClock())
            client.new_order(account="ACC1", client_order_id="sec-1", instrument="AAPL", side="BUY",
                             quantity="10", limit_price="100")
            client.flush()
            reader = rt.event_consumer("oms-reader-j", "test", deadletter=False)

            def journaled():
                return [r.event for r in read_all(reader, [rt.topics.journal], timeout=2)]
            journal = procs.wait_until(journaled, 60, "the command to be journaled")
            assert all(isinstance(e, JournalEvent) for e in journal)
            assert journal[0].client_order_id == "sec-1"
            # faust's position manager authenticated too: its consumer group joined
            admin = rt.admin()
            faust_group = app_id(rt.topics)
            procs.wait_until(lambda: faust_group in {g.group_id for g in
                                                    admin.list_consumer_groups().result(timeout=10).valid},
                             30, "the position manager's group")
            assert procs.alive("worker")

        with security.using(sasl_settings("viewer", **base)):  # the viewer reads the journal, cannot write it
            viewer = connect(sasl_settings("viewer", **base), start_broker=False)
            seen = read_all(viewer.event_consumer("oms-reader-v", "test", deadletter=False),
                            [viewer.topics.journal], timeout=10)
            assert seen and seen[0].event.client_order_id == "sec-1"
            errors = []
            producer = viewer.producer(**{"enable.idempotence": False, "acks": "all", "message.timeout.ms": 10_000})
            producer.produce(viewer.topics.journal, key=b"ACC1", value=b"forged",
                             on_delivery=lambda err, msg: errors.append(err))
            producer.flush(15)
            assert [e.code() for e in errors] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]
    finally:
        if procs is not None:
            procs.stop_all()
        broker.stop(timeout=10)

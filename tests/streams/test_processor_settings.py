"""The transactional processor's client settings: what keeps a command's fill from waiting."""

from streams.processor import (RETRY_BACKOFF_MS, transactional_consumer_config,
                               transactional_producer_config)


def test_transactional_producer_retries_quickly():
    # CONCURRENT_TRANSACTIONS (the previous transaction's markers still being written) is answered to
    # nearly every send_offsets_to_transaction on a busy or fresh broker: librdkafka's 100 ms default
    # pause before the retry was most of a command's time to its fill
    config = transactional_producer_config("b:9092", "tid")
    assert config["retry.backoff.ms"] == RETRY_BACKOFF_MS <= 10
    assert config["transactional.id"] == "tid"
    assert config["enable.idempotence"] is True and config["acks"] == "all"


def test_transactional_consumer_reads_committed_and_never_commits_itself():
    config = transactional_consumer_config("b:9092", "g", **{"fetch.wait.max.ms": 7})
    assert config["isolation.level"] == "read_committed"
    assert config["enable.auto.commit"] is False
    assert config["group.id"] == "g" and config["fetch.wait.max.ms"] == 7


def test_the_processor_consumer_is_a_static_member_named_after_its_transactional_id():
    # restarted after kill -9, the same instance takes its partitions back at once instead of
    # waiting out the dead member's session (43 s measured as a dynamic member)
    from streams.processor import SESSION_TIMEOUT_MS, processor_consumer_config

    config = processor_consumer_config("b:9092", "g", "engine-0")
    assert config["group.instance.id"] == "engine-0" and config["group.id"] == "g"
    assert config["session.timeout.ms"] == SESSION_TIMEOUT_MS <= 10_000
    assert config["isolation.level"] == "read_committed" and config["enable.auto.commit"] is False

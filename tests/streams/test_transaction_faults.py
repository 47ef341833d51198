"""Which transactional-producer errors the processor retries, aborts on, or rebuilds its producer for
(`streams.processor.remedy`): librdkafka's prescription, on errors built by hand (no broker)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from streams.processor import FENCED, Remedy, consumer_fatal, remedy


def _error(code: int, *, fatal: bool = False, retriable: bool = False, abortable: bool = False) -> KafkaError:
    return KafkaError(code, "test", fatal=fatal, retriable=retriable, txn_requires_abort=abortable)


@pytest.mark.parametrize("code", [KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError.COORDINATOR_NOT_AVAILABLE,
                                  KafkaError.NOT_COORDINATOR, KafkaError.CONCURRENT_TRANSACTIONS])
def test_a_retriable_error_retries_the_same_call(code):
    assert remedy(_error(code, retriable=True)) is Remedy.RETRY


@pytest.mark.parametrize("code", [KafkaError._TIMED_OUT, KafkaError._MSG_TIMED_OUT, KafkaError._INCONSISTENT,
                                  KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID])
def test_an_abortable_error_aborts_and_rewinds_even_when_also_retriable(code):
    assert remedy(_error(code, abortable=True)) is Remedy.ABORT
    assert remedy(_error(code, abortable=True, retriable=True)) is Remedy.ABORT


@pytest.mark.parametrize("code", sorted(FENCED))
def test_fencing_rebuilds_the_producer_whatever_the_flags(code):
    assert remedy(_error(code)) is Remedy.REBUILD
    assert remedy(_error(code, abortable=True)) is Remedy.REBUILD
    assert remedy(_error(code, retriable=True)) is Remedy.REBUILD


def test_the_fenced_codes_are_the_three_librdkafka_reports():
    assert FENCED == {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


@pytest.mark.parametrize("code", [KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, KafkaError._TIMED_OUT,
                                  KafkaError.INVALID_TXN_STATE])
def test_a_fatal_error_rebuilds_before_anything_else(code):
    assert remedy(_error(code, fatal=True, retriable=True, abortable=True)) is Remedy.REBUILD


@pytest.mark.parametrize("code", [KafkaError._STATE, KafkaError._INVALID_ARG, KafkaError.UNKNOWN])
def test_an_unclassified_error_aborts_the_transaction(code):
    assert remedy(_error(code)) is Remedy.ABORT


def test_a_fenced_static_member_is_a_fatal_consumer_error_even_when_fatal_says_no():
    # librdkafka delivers "Static consumer fenced by other consumer with same group.instance.id"
    # as an error event with code _FATAL and fatal() False: the consumer never delivers again
    fenced = KafkaError(KafkaError._FATAL, "Fatal error: Broker: Static consumer fenced", fatal=False)
    assert not fenced.fatal()
    assert consumer_fatal(fenced)
    assert consumer_fatal(_error(KafkaError.FENCED_INSTANCE_ID))
    assert consumer_fatal(_error(KafkaError.UNKNOWN, fatal=True))


@pytest.mark.parametrize("code", [KafkaError._PARTITION_EOF, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN,
                                  KafkaError.UNKNOWN_TOPIC_OR_PART])
def test_a_passing_consumer_error_keeps_the_consumer(code):
    assert not consumer_fatal(_error(code))
    assert not consumer_fatal(None)

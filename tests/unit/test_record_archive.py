"""The archive's and the restore's pure helpers: stream ids in numeric order, recorded timeline
fields as Redis holds them, case numbers."""

from __future__ import annotations

from ioc.adapters.case_store import case_number, event_fields
from ioc.domain.cases import CaseEvent
from ioc.record.archive import entry_key, event_of, stream_fields


def test_stream_ids_sort_by_their_numbers_not_their_text():
    assert sorted(["10-0", "9-1", "9-0", "10-2"], key=entry_key) == ["9-0", "9-1", "10-0", "10-2"]


def test_recorded_timeline_fields_come_back_as_text_in_the_written_order():
    recorded = {"detail": {"source": "hotline"}, "at": 1700000000000, "to": "reported", "note": "", "from": "", "role": "system",
                "actor": "hotline", "action": "report"}
    assert list(stream_fields(recorded)) == ["action", "actor", "role", "from", "to", "at", "note", "detail"]
    assert stream_fields(recorded)["at"] == "1700000000000"
    assert stream_fields(recorded)["detail"] == '{"source":"hotline"}'


def test_a_recorded_entry_reads_back_as_the_event_the_store_wrote():
    event = CaseEvent("ZJG-20261201-000001", "dispatch", "li", "dispatcher", "verified", "dispatched", 1764547200000, "速办",
                      {"department": "water_affairs"})
    assert event_of(event.case_id, event_fields(event)) == event


def test_the_number_of_a_case_id_is_its_last_part():
    assert case_number("ZJG-20261201-000042") == 42
    assert case_number("ZJG-20261201-1234567") == 1234567
    assert case_number("odd") == 0

"""The roster in a real Redis (ioc.adapters.roster_store): read back as written, versioned,
audited as `roster.update` in the same transaction (without secrets), and refused when the
version moved under the writer."""

from __future__ import annotations

import orjson
import pytest

from ioc.adapters import redis_keys as keys
from ioc.adapters.audit_log import AuditLog
from ioc.adapters.roster_store import RosterConflict, RosterStore
from ioc.domain.departments import department_ids
from ioc.domain.roster import Roster, validate_roster
from tests.unit.test_roster import sample


@pytest.fixture
def store(redis_client, city):
    return RosterStore(redis_client, department_ids(city))


@pytest.fixture
def roster(city):
    return validate_roster(sample(), department_ids(city) | {"town_yangshe"})


def test_an_empty_store_has_an_empty_roster_at_version_zero(store):
    assert store.get() == Roster() and store.version() == 0


def test_a_stored_roster_reads_back_the_same(store, roster):
    store.put(roster, "admin-li", "10.0.0.9")
    assert RosterStore(store.redis).get() == roster


def test_every_put_bumps_the_version(store, roster):
    assert store.put(roster, "admin-li") == 1
    assert store.put(roster, "admin-li") == 2
    assert store.version() == 2


def test_a_put_is_audited_with_counts_and_ids_but_no_secret(store, roster, redis_client):
    store.put(roster, "admin-li", "10.0.0.9")
    [entry] = AuditLog(redis_client).recent(10, action="roster.")
    assert (entry.actor, entry.action, entry.ip, entry.outcome) == ("admin-li", "roster.update", "10.0.0.9", "ok")
    assert entry.detail["groups"] == 3 and entry.detail["groups_added"] == ["center-ding", "dispatch-mail", "um-wecom"]
    raw = str(redis_client.xrange(keys.AUDIT))
    assert "k-um-1" not in raw and "SECabc" not in raw


def test_the_audit_entry_names_what_changed(store, roster, redis_client):
    store.put(roster, "admin-li")
    changed = Roster(roster.contacts[:2], roster.groups, roster.shifts[:2])
    store.put(changed, "admin-li")
    entry = AuditLog(redis_client).recent(1, action="roster.")[0]
    assert entry.detail["contacts_removed"] == ["zhao"] and entry.detail["shifts_removed"] == 1


def test_a_put_against_a_moved_version_is_refused_and_changes_nothing(store, roster, redis_client):
    store.put(roster, "admin-li")
    with pytest.raises(RosterConflict):
        store.put(Roster(), "admin-wu", expected_version=0)
    assert store.get() == roster and AuditLog(redis_client).length() == 1


def test_the_hash_holds_the_three_json_lists_and_the_version(store, roster, redis_client):
    store.put(roster, "admin-li")
    stored = redis_client.hgetall(keys.ROSTER)
    assert {k.decode() if isinstance(k, bytes) else k for k in stored} == {"contacts", "groups", "shifts", "version"}
    assert len(orjson.loads(stored[b"shifts"] if b"shifts" in stored else stored["shifts"])) == 3

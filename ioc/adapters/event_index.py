"""The linked events and the current proposals in the web process's memory, kept in step by revision.

The wall polls every 2 s, the frame of every department's page polls for new tasks, the events
list and the district pages read the events too; events change far less often. `EventIndex`
holds every event and the current proposals and costs each reader one GET of the events'
revision (`EventStore.revision`, moved by every event change and every change of the
proposals). When it moved, only the events changed after the revision held are read again
(`changed_since`), and the proposals once. A revision that went backwards (Redis emptied) makes
the index start over. Reads only: every write goes through the event service.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from ioc.domain.event_triggers import Proposal
from ioc.domain.events import Event
from ioc.domain.plans import LEVELS

from .event_store import EventStore


@dataclass(frozen=True)
class EventsView:
    """Every event and the current proposals at one revision (shared by every reader: never change it)."""

    revision: int
    events: tuple[Event, ...]
    proposals: tuple[Proposal, ...]

    @property
    def live(self) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.is_open)

    def get(self, event_id: str) -> Event | None:
        return next((e for e in self.events if e.id == event_id), None)


class EventIndex:
    def __init__(self, store: EventStore):
        self.store = store
        self._view = EventsView(-1, (), ())
        self._by_id: dict[str, Event] = {}
        self._lock = threading.Lock()

    def view(self) -> EventsView:
        """The events and proposals as of now (one GET when nothing moved)."""
        revision = self.store.revision()
        held = self._view
        if revision == held.revision:
            return held
        with self._lock:
            held = self._view
            if revision == held.revision:
                return held
            if held.revision < 0 or revision < held.revision:
                by_id = {e.id: e for e in self.store.all()}
            else:
                by_id = dict(self._by_id)
                for event in self.store.many(self.store.changed_since(held.revision)):
                    by_id[event.id] = event
            proposals = [Proposal.from_dict(raw) for raw in self.store.proposals().values()]
            proposals.sort(key=lambda p: (-LEVELS.index(p.level) if p.level in LEVELS else 0, p.plan))
            events = tuple(sorted(by_id.values(), key=lambda e: (-e.started_at, e.id)))
            self._by_id = by_id
            self._view = EventsView(revision, events, tuple(proposals))
            return self._view


_SHARED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def event_index(owner, store: EventStore) -> EventIndex:
    """The process's one `EventIndex` for `owner` (the event service), shared by every page."""
    with _SHARED_LOCK:
        index = _SHARED.get(owner)
        if index is None:
            index = _SHARED[owner] = EventIndex(store)
        return index

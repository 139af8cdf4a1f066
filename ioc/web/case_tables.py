"""The open cases as a column table (`ioc.views.case_table.OpenCaseTable`), one per case index
(per web process), kept in step with it case by case.

A request asks `open_table(index)`: when no case changed since the table was made it is the same
table; when some did, the table with those cases changed in place (`CaseIndex.open_changes_since`,
`OpenCaseTable.update` under the table's lock); only when the index started over (or too many
changed at once) is it made again from every open case.
"""

from __future__ import annotations

import threading
import weakref

from ioc.views.case_table import OpenCaseTable

_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # case index -> OpenCaseTable
_LOCK = threading.Lock()


def open_table(index) -> OpenCaseTable:
    """The open cases of `index` (an `ioc.adapters.case_index.CaseIndex`) as of its latest revision."""
    cases, generation = index.open_state()
    table = _TABLES.get(index)
    if table is not None and table.generation == generation:
        return table
    with _LOCK:  # one request makes it; the others of the moment wait for it instead of making it too
        table = _TABLES.get(index)
        if table is not None and table.generation >= generation:
            return table
        changes = index.open_changes_since(table.generation) if table is not None else None
        if changes is None:
            cases, generation = index.open_state()
            table = OpenCaseTable(cases, generation)
        else:
            generation, changed = changes
            table = table.update(changed, generation)
        _TABLES[index] = table
        return table


__all__ = ["open_table"]

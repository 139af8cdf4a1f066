"""The recorder's memory of the hourly sums of the raw readings it wrote (pure, no I/O).

A raw reading's hourly contribution is summed into a cell (`writers.add_hourly`) as its batch
is built; the cells wait here, one per hour, device and attribute, until the next fold writes
them as parts (one COPY of about one row per device and attribute, instead of summing the raw
rows again in SQL). Which raw readings the cells hold is said by the readings' `seq` (migration
0009): exactly those with `base < seq <= upto`. The fold sums the raw readings between the
record's mark and `base` in SQL (`ioc_fold_hourly_raw` with `base` as its bound: what a stopped
recorder, a failed fold or a forgotten memory left), writes the cells, and moves the mark to
`upto`, all in one transaction.

The cells of a batch count only once its transaction committed and its readings took exactly
the `seq` values after the memory's `upto` (`committed`). Anything else — a batch that failed
(`forget`), readings another writer numbered between two batches, a reading that was in the
record already — makes the memory start again after that batch: nothing is lost, the SQL fold
sums those readings from the raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HourlyMemory:
    """Cells (hour ms, device, attribute) -> [n, sum, min, max, last, last_text, last_at ms] of the
    raw readings with `base < seq <= upto`; `upto` None: not known yet (the next batch or fold
    reads the sequence first)."""

    cells: dict = field(default_factory=dict)
    base: int | None = None
    upto: int | None = None

    def start_at(self, seq: int) -> None:
        """Hold nothing, from `seq` on (the highest `seq` any reading has taken so far)."""
        self.cells = {}
        self.base = self.upto = seq

    def committed(self, before: int, after: int, staged: int, inserted: int) -> None:
        """A batch whose cells were summed into `cells` committed: its `staged` raw readings were
        numbered after `before` up to `after` (the sequence before and after its insert), and
        `inserted` of them were new to the record."""
        if self.upto is None:  # the cells hold only this batch's
            self.base = self.upto = before
        if before == self.upto and after - before == staged == inserted:
            self.upto = after
        else:  # numbered by another writer too, or partly in the record already: the SQL fold sums them
            self.start_at(after)

    def forget(self) -> None:
        """A batch did not commit (its cells may be in `cells`): hold nothing until the sequence is
        read again."""
        self.cells = {}
        self.base = self.upto = None

    def take(self) -> HourlyMemory:
        """What a fold writes: the cells and their range; the memory goes on empty after them."""
        taken = HourlyMemory(self.cells, self.base, self.upto)
        self.cells = {}
        self.base = self.upto
        return taken

    def rows(self) -> list[tuple]:
        """HOURLY_COLUMNS rows of the cells, `hour` and `last_at` as epoch ms."""
        return [(hour, device, attribute, *cell) for (hour, device, attribute), cell in self.cells.items()]

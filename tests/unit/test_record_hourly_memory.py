"""The recorder's memory of the hourly sums of its raw readings: which readings (by `seq`) its
cells hold (pure)."""

from ioc.record.hourly_memory import HourlyMemory

CELL = (1, 50.0, 50.0, 50.0, 50.0, None, 1_000)


def memory_from(seq: int) -> HourlyMemory:
    m = HourlyMemory()
    m.start_at(seq)
    return m


def test_a_batch_numbered_right_after_the_memory_extends_it():
    m = memory_from(10)
    m.cells[(0, "n1", "LAeq")] = CELL

    m.committed(before=10, after=13, staged=3, inserted=3)

    assert (m.base, m.upto) == (10, 13)
    assert m.cells == {(0, "n1", "LAeq"): CELL}


def test_readings_another_writer_numbered_before_the_batch_start_the_memory_again_after_it():
    m = memory_from(10)
    m.cells[(0, "n1", "LAeq")] = CELL

    m.committed(before=11, after=14, staged=3, inserted=3)

    assert (m.base, m.upto, m.cells) == (14, 14, {})


def test_a_batch_with_readings_in_the_record_already_starts_the_memory_again_after_it():
    m = memory_from(10)
    m.cells[(0, "n1", "LAeq")] = CELL

    m.committed(before=10, after=13, staged=3, inserted=2)

    assert (m.base, m.upto, m.cells) == (13, 13, {})


def test_a_batch_that_did_not_commit_is_forgotten_with_everything_the_memory_held():
    m = memory_from(10)
    m.cells[(0, "n1", "LAeq")] = CELL

    m.forget()

    assert (m.base, m.upto, m.cells) == (None, None, {})


def test_after_a_forgotten_batch_the_next_one_starts_the_memory_at_its_own_first_reading():
    m = HourlyMemory()
    m.cells[(0, "n1", "LAeq")] = CELL  # summed while the batch was built

    m.committed(before=20, after=22, staged=2, inserted=2)

    assert (m.base, m.upto) == (20, 22)
    assert m.cells == {(0, "n1", "LAeq"): CELL}


def test_a_fold_takes_the_cells_and_their_range_and_the_memory_goes_on_after_them():
    m = memory_from(10)
    m.cells[(3_600_000, "n1", "LAeq")] = CELL
    m.committed(before=10, after=12, staged=2, inserted=2)

    taken = m.take()

    assert (taken.base, taken.upto) == (10, 12)
    assert taken.rows() == [(3_600_000, "n1", "LAeq", *CELL)]
    assert (m.base, m.upto, m.cells) == (12, 12, {})

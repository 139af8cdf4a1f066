-- Placeholder: the `rewind2` piece owns migration 0004 (its open-case tally). migrate.py refuses
-- gaps, so this branch carries an empty 0004 to add 0005; take rewind2's file at the merge.
SELECT 1;

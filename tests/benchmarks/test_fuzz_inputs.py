"""A small, fast run of the hostile-input fuzz (``python -m benchmarks.fuzz_inputs``)."""

from __future__ import annotations

from benchmarks.fuzz_inputs import Outcome, format_table, run_cases


def test_a_small_fuzz_run_has_no_traceback_hang_or_odd_exit_code() -> None:
    outcomes = run_cases(15, seed=1, timeout_s=90.0, jobs=2)
    assert len(outcomes) == 15
    assert {o.family for o in outcomes} == {"edf", "session", "json"}
    failures = [o for o in outcomes if o.traceback or o.hang or o.unexpected]
    assert failures == [], format_table(outcomes)


def test_the_table_counts_what_went_wrong() -> None:
    outcomes = [Outcome("edf", 0, False, ""), Outcome("edf", 65, False, ""),
                Outcome("edf", 1, True, "Traceback"), Outcome("session", None, False, "hang")]
    table = format_table(outcomes)
    assert "| edf | 3 | 1 | 1 | 1 | 0 | 1 |" in table
    assert "| session | 1 | 0 | 0 | 0 | 1 | 0 |" in table
    assert "| all | 4 | 1 | 1 | 1 | 1 | 1 |" in table

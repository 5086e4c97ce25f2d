"""Paired randomisation test and bootstrap interval."""

from __future__ import annotations

import numpy as np

from podsearch.evaluate.significance import compare_per_query, paired_test


def test_a_consistent_gain_is_significant_and_noise_is_not() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(200)
    gain = paired_test(a, a + 0.05 + rng.normal(0, 0.02, 200))
    assert gain["p"] < 0.001 and gain["ci95"][0] > 0 and gain["wins"] > 180
    noise = paired_test(a, a + rng.normal(0, 0.05, 200))
    assert noise["p"] > 0.05 and noise["ci95"][0] < 0 < noise["ci95"][1]
    same = paired_test(a, a)
    assert same["diff"] == 0 and same["p"] == 1.0
    assert paired_test([], [])["n"] == 0


def test_compare_per_query_pairs_by_query_id() -> None:
    pq = {
        "base": {"q1": {"RR@30": 0.5}, "q2": {"RR@30": 1.0}, "q3": {"RR@30": 0.0}},
        "tuned": {"q2": {"RR@30": 1.0}, "q1": {"RR@30": 1.0}},
    }
    r = compare_per_query(pq, "base", "tuned", ["RR@30"], rounds=500)["RR@30"]
    assert r["n"] == 2 and r["diff"] == 0.25 and r["wins"] == 1 and r["losses"] == 0

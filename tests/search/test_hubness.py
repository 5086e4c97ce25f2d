import numpy as np

from podsearch.search.hubness import hub_scores, pick_probe_texts


def test_hub_scores_hand_checked() -> None:
    docs = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    probes = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], dtype=np.float32)
    # doc 0 sims: 1.0, 0.6, 0.0 -> top-2 mean 0.8; doc 1 sims: 0.0, 0.8, 1.0 -> 0.9
    np.testing.assert_allclose(hub_scores(docs, probes, k=2), [0.8, 0.9], rtol=1e-6)
    np.testing.assert_allclose(hub_scores(docs, probes, k=2, chunk=1), [0.8, 0.9], rtol=1e-6)
    assert hub_scores(docs[:0], probes).shape == (0,)
    assert hub_scores(docs, probes[:0]).tolist() == [0.0, 0.0]


def test_probe_sample_is_seeded_distinct_and_skips_trivial_titles() -> None:
    titles = [f"Episode title number {i}" for i in range(50)] + ["Ep 1", "Ep 1", ""]
    a = pick_probe_texts(titles, n=10, seed=3)
    assert a == pick_probe_texts(titles, n=10, seed=3) and len(set(a)) == 10
    assert "Ep 1" not in pick_probe_texts(titles, n=100)

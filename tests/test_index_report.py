"""build_index reports where its time went, so benchmarks read it instead of patching."""

from __future__ import annotations

from pathlib import Path

from podsearch.encode.fake import FakeEncoder
from podsearch.engine import Podsearch


def test_build_index_times_each_stage(tmp_path: Path, tiny_catalog: Path) -> None:
    with Podsearch(tmp_path / "index", encoder=FakeEncoder()) as ps:
        ps.ingest(tiny_catalog)
        report = ps.build_index()
        again = ps.build_index()  # nothing new: no stage runs
    assert report.encoded == 8
    assert report.encode_seconds > 0
    assert report.vector_index_seconds > 0 and report.keyword_index_seconds > 0
    stages = report.encode_seconds + report.vector_index_seconds + report.keyword_index_seconds
    assert stages <= report.seconds
    d = report.to_dict()
    assert d["vector_index_seconds"] == round(report.vector_index_seconds, 3)
    assert d["keyword_index_seconds"] == round(report.keyword_index_seconds, 3)
    assert (again.encoded, again.vector_index_seconds, again.keyword_index_seconds) == (0, 0, 0)

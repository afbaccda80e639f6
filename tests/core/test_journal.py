"""The resume journal: durable appends, a line cut by a kill is dropped, pairs are never duplicated."""

from core.journal import Journal


def test_append_and_read_back(tmp_path):
    journal = Journal(tmp_path / "j")
    w = journal.writer("shard-00000")
    w.append("p1", "ansaug", [{"id": "a"}, {"id": "b"}])
    w.append("p1", "fobar", [{"id": "c"}])
    journal.writer("shard-00001").append("p2", "ansaug", [])
    assert journal.done() == {("p1", "ansaug"), ("p1", "fobar"), ("p2", "ansaug")}
    assert [s["id"] for s in journal.samples()] == ["a", "b", "c"]


def test_partial_last_line_is_ignored_and_cut_before_next_append(tmp_path):
    journal = Journal(tmp_path)
    journal.writer("s").append("p1", "ansaug", [{"id": "a"}])
    path = tmp_path / "s.jsonl"
    with path.open("a") as f:
        f.write('{"problem_id": "p2", "augmenter": "ansaug", "samples": [{"id": "b"')  # killed mid-write
    assert journal.done() == {("p1", "ansaug")}
    journal.writer("s").append("p2", "ansaug", [{"id": "b2"}])
    assert [s["id"] for s in journal.samples()] == ["a", "b2"]
    assert path.read_text().count("\n") == 2


def test_a_pair_written_twice_counts_once(tmp_path):
    journal = Journal(tmp_path)
    journal.writer("s0").append("p1", "ansaug", [{"id": "a"}])
    journal.writer("s1").append("p1", "ansaug", [{"id": "a-again"}])
    assert [s["id"] for s in journal.samples()] == ["a"]

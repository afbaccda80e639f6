"""The resume journal: durable appends, a line cut by a kill is dropped, pairs are never duplicated; raw replies
are kept beside the pairs and replayed."""

import asyncio

from core.journal import Journal, written_pairs
from core.llm.base import Completion, GenParams, UsageCounter
from core.llm.replay import ReplayLLM


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


def test_replies_are_stored_beside_their_pair_and_never_count_as_pairs(tmp_path):
    journal = Journal(tmp_path)
    w = journal.writer("s")
    w.append_reply("p1", "ansaug", "k1", [{"text": "one", "finish_reason": "stop"}])
    w.append_reply("p1", "ansaug", "k1", [{"text": "again", "finish_reason": "length"}])
    w.append("p1", "ansaug", [{"id": "a"}], replayable=True)
    w.close()
    assert journal.done() == {("p1", "ansaug")} and written_pairs(tmp_path) == [("p1", "ansaug")]
    assert journal.records()[0]["replayable"] is True
    assert journal.replies() == {
        ("p1", "ansaug"): {
            "k1": [[{"text": "one", "finish_reason": "stop"}], [{"text": "again", "finish_reason": "length"}]]
        }
    }


def test_pairs_appended_together_from_an_event_loop_are_all_durable(tmp_path):
    journal = Journal(tmp_path)
    w = journal.writer("s")

    async def main():
        await asyncio.gather(*(w.append_durably(f"p{i}", "ansaug", [{"id": str(i)}]) for i in range(20)))

    asyncio.run(main())
    w.close()
    assert journal.done() == {(f"p{i}", "ansaug") for i in range(20)}
    assert w._synced == w._written == 20  # every line covered by an fsync (fewer fsyncs than lines, shared)


def test_replay_answers_from_stored_replies_and_records_new_ones():
    stored = {}

    class Counting:
        name, usage, calls = "m", UsageCounter(), 0

        async def chat(self, messages, n=1, params=GenParams()):
            Counting.calls += 1
            return [Completion(text=f"{messages[-1]['content']} #{Counting.calls}", finish_reason="stop")] * n

    def record(key, completions):
        stored.setdefault(key, []).append(completions)

    messages = [{"role": "user", "content": "q"}]
    first = ReplayLLM(Counting(), {}, record)
    a = asyncio.run(first.chat(messages, n=2))
    b = asyncio.run(first.chat(messages, n=2))  # the same request twice: two replies, both kept
    assert Counting.calls == 2 and a[0].text != b[0].text
    again = ReplayLLM(Counting(), stored, record)
    assert [c.text for c in asyncio.run(again.chat(messages, n=2))] == [c.text for c in a]
    assert [c.text for c in asyncio.run(again.chat(messages, n=2))] == [c.text for c in b]
    assert Counting.calls == 2 and again.replayed == 2
    asyncio.run(again.chat(messages, n=2, params=GenParams(seed=1)))  # other params: a new request
    assert Counting.calls == 3 and again.usage.calls == 1

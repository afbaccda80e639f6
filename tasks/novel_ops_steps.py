r"""Steps of a novel-ops reply: parse `x ⊕ y = ... = r` lines, match them to the problem's graph nodes, score them,
reward them (TRL's signature), and build the causal intervention of sft.faithfulness.

A step *aligns* with a graph node when it applies the node's operator to the node's true operand values; the node is
*solved* when an aligned step states its true value. Step accuracy = solved nodes / all nodes, so steps in the right
format with made-up numbers score 0, a partial chain scores its share, and the order of the lines does not matter.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from core.answers import answers_equal, extract_answer, parse_number
from tasks.novel_ops_graph import consumers, load_graph, node_values, number_text, operand_value, recompute

_NUM = r"-?\d{1,12}(?:\s*/\s*\d{1,12})?"  # bounded: a model's number is at most 12 digits here
_OPERAND = rf"(?:\(\s*{_NUM}\s*\)|{_NUM})"
_RESULT_RE = re.compile(r"-?\d{1,12}(?:\.\d{1,6})?(?:\s*/\s*\d{1,12})?")


@dataclass(frozen=True)
class Step:
    left: Fraction
    op: str
    right: Fraction
    result: Fraction | None  # the number after the step's last `=` (None: none there)
    result_span: tuple[int, int] | None  # where that number is in the reply


def _number(text: str) -> Fraction | None:
    text = text.strip().strip("()").replace(" ", "")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def _step_re(symbols: Iterable[str]) -> re.Pattern:
    ops = "".join(re.escape(s) for s in symbols)
    return re.compile(rf"(?<![\d/.])({_OPERAND})\s*([{ops}])\s*({_OPERAND})\s*=")


def _completion_text(completion) -> str:
    if isinstance(completion, str):
        return completion
    return completion[-1]["content"] if completion else ""


def parse_steps(text: str, symbols: Iterable[str]) -> list[Step]:
    r"""The steps `x ⊕ y = ... = r` of a reply, in text order, for the operator symbols of the problem.

    A step's result is the first number after its last `=` (before the line or the next step ends).

    >>> [(str(s.left), s.op, str(s.right), str(s.result)) for s in parse_steps(
    ...     "First 15 ⊕ 14 = 2*15 + 3*14 + 1 = 73.\nThen 3 ⊙ 73 = 12 - 219 = -207", "⊕⊙")]
    [('15', '⊕', '14', '73'), ('3', '⊙', '73', '-207')]
    >>> parse_steps("I think it is 5.", "⊕")
    []
    """
    pattern = _step_re(symbols)
    steps = []
    offset = 0
    for line in text.splitlines(keepends=True):
        matches = list(pattern.finditer(line))
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            tail_start = match.end() + line[match.end() : end].rfind("=") + 1
            found = _RESULT_RE.search(line, tail_start, end)
            left, right = _number(match.group(1)), _number(match.group(3))
            if left is None or right is None:
                continue
            result = _number(found.group(0)) if found else None
            span = (offset + found.start(), offset + found.end()) if found and result is not None else None
            steps.append(Step(left, match.group(2), right, result, span))
        offset += len(line)
    return steps


@dataclass(frozen=True)
class ChainReport:
    steps: int  # parsed steps in the reply
    nodes: int  # operations in the problem's graph
    solved: int  # graph nodes stated with their true value by an aligned step
    aligned: dict[int, int]  # node id -> index of the first step that aligns with it (right operator and operands)

    @property
    def has_steps(self) -> bool:
        return self.steps > 0

    @property
    def step_accuracy(self) -> float:
        return self.solved / self.nodes if self.nodes else 0.0


def chain_report(text: str, graph: str | dict) -> ChainReport:
    r"""Match the reply's steps to the graph's nodes.

    >>> g = {"operators": {"⊕": {"a": 2, "b": 3, "c": 1}, "⊙": {"a": 4, "b": -3}}, "root": 1, "nodes": [
    ...     {"id": 0, "op": "⊕", "args": [{"num": "15"}, {"num": "14"}], "value": "73"},
    ...     {"id": 1, "op": "⊙", "args": [{"num": "3"}, {"node": 0}], "value": "-207"}]}
    >>> r = chain_report("15 ⊕ 14 = 73\n3 ⊙ 73 = -200", g)
    >>> r.steps, r.solved, r.step_accuracy, r.aligned
    (2, 1, 0.5, {0: 0, 1: 1})
    """
    graph = load_graph(graph)
    values = node_values(graph)
    steps = parse_steps(text, graph["operators"])
    aligned: dict[int, int] = {}
    solved = 0
    for node in graph["nodes"]:
        left, right = (operand_value(arg, values) for arg in node["args"])
        matches = [i for i, s in enumerate(steps) if s.op == node["op"] and s.left == left and s.right == right]
        if matches:
            aligned[node["id"]] = matches[0]
        solved += any(steps[i].result == values[node["id"]] for i in matches)
    return ChainReport(steps=len(steps), nodes=len(graph["nodes"]), solved=solved, aligned=aligned)


# --- rewards (TRL's signature) ----------------------------------------------------------------------------------------


def final_correct(text: str, answer: str | None) -> bool:
    return answer is not None and answers_equal(answer, extract_answer(text))


def make_step_reward(step_weight: float = 0.8):
    r"""The step reward: `step_weight * step accuracy + (1 - step_weight) * final correctness`, in [0, 1].

    >>> reward = make_step_reward(0.8)
    >>> g = ('{"operators": {"⊕": {"a": 2, "b": 3, "c": 1}}, "root": 0, "nodes": '
    ...      '[{"id": 0, "op": "⊕", "args": [{"num": "15"}, {"num": "14"}], "value": "73"}]}')
    >>> reward(["15 ⊕ 14 = 30 + 42 + 1 = 73, so \\boxed{73}", "\\boxed{73}", "15 ⊕ 14 = 70, \\boxed{70}"],
    ...        graph=[g, g, g], answer=["73", "73", "73"])
    [1.0, 0.2, 0.0]
    """
    if not 0.0 <= step_weight <= 1.0:
        raise ValueError(f"the step weight must lie in [0, 1], not {step_weight}")

    def novel_ops_step_reward(
        completions: Sequence, graph: Sequence[str], answer: Sequence[str], **kwargs
    ) -> list[float | None]:
        rewards: list[float | None] = []
        for completion, g, gold in zip(completions, graph, answer, strict=True):
            text = _completion_text(completion)
            accuracy = chain_report(text, g).step_accuracy
            rewards.append(round(step_weight * accuracy + (1 - step_weight) * final_correct(text, gold), 6))
        return rewards

    return novel_ops_step_reward


def format_reward(completions: Sequence, graph: Sequence[str], **kwargs) -> list[float | None]:
    r"""The format term: 0.1 for at least one `x ⊕ y = r` step with the problem's operators, 0.1 for a number in
    `\boxed{}`.

    >>> g = '{"operators": {"⊕": {"a": 1}}, "root": 0, "nodes": []}'
    >>> format_reward(["2 ⊕ 3 = 2, so \\boxed{2}", "\\boxed{2}", "2 + 3 = 5"], graph=[g, g, g])
    [0.2, 0.1, 0.0]
    """
    rewards: list[float | None] = []
    for completion, g in zip(completions, graph, strict=True):
        text = _completion_text(completion)
        has_steps = bool(parse_steps(text, load_graph(g)["operators"]))
        box = text.rfind("\\boxed")
        boxed = box >= 0 and parse_number(extract_answer(text[box:])) is not None
        rewards.append(round(0.1 * has_steps + 0.1 * boxed, 6))
    return rewards


# --- the causal intervention ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intervention:
    node: int  # the graph node whose stated result is replaced
    original: Fraction  # what the reply stated for it
    wrong: Fraction  # the value put in its place
    prefix: str  # the reply up to that result, with the wrong value, cut there (ends with a newline)
    recomputed: str  # the final answer the graph gives with the wrong value in that node


def intervene(text: str, graph: str | dict, seed: int = 0) -> Intervention | None:
    r"""Replace the result of the reply's first intermediate step (one whose value another operation uses) with a
    wrong value, cut the reply after it, and recompute the graph's answer with that value. None when the reply has
    no such step with a stated result.

    >>> g = {"operators": {"⊕": {"a": 2, "b": 3, "c": 1}, "⊙": {"a": 4, "b": -3}}, "root": 1, "nodes": [
    ...     {"id": 0, "op": "⊕", "args": [{"num": "15"}, {"num": "14"}], "value": "73"},
    ...     {"id": 1, "op": "⊙", "args": [{"num": "3"}, {"node": 0}], "value": "-207"}]}
    >>> cut = intervene("15 ⊕ 14 = 30 + 42 + 1 = 73 ok\n3 ⊙ 73 = -207", g, seed=1)
    >>> cut.prefix, cut.wrong, cut.recomputed
    ('15 ⊕ 14 = 30 + 42 + 1 = 70\n', Fraction(70, 1), '-198')
    """
    graph = load_graph(graph)
    report = chain_report(text, graph)
    steps = parse_steps(text, graph["operators"])
    used = consumers(graph)
    candidates = sorted((i, node) for node, i in report.aligned.items() if node in used and steps[i].result_span)
    if not candidates:
        return None
    index, node = candidates[0]
    step = steps[index]
    assert step.result is not None and step.result_span is not None
    rng = random.Random(seed)
    true_value = node_values(graph)[node]
    wrong = step.result + rng.choice([d for d in range(-5, 6) if d and step.result + d != true_value])
    prefix = text[: step.result_span[0]] + number_text(wrong) + "\n"
    return Intervention(node, step.result, wrong, prefix, number_text(recompute(graph, {node: wrong})))

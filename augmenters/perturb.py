"""GSM_Perturbed: the same problem with new numbers, and an exact answer for them.

1. The model turns the problem into a small program (format in `augmenters.program_eval`): one named input per
   number of the question, statements, and a final `answer = ...`. Several candidates are asked for at once.
2. A candidate counts only if our evaluator accepts it and it reproduces the gold answer on the original numbers;
   otherwise the problem yields one dropped row with the reason (`no_program`, `program_refused`, `program_error`,
   `program_mismatch`, `program_hardcodes_result`, `no_perturbable_inputs`). The dropped row keeps the program
   text in `response` for inspection.
3. For each of `cfg.perturb_n` draws, new values are sampled for the inputs with a seed (same kind and scale:
   integers stay integers with as many digits, decimals keep their places, percentages stay at most 100) under
   constraints read off the original run: every quantity that was whole stays whole, every one that was not
   negative stays not negative, and the program must not fail.
4. The question is re-rendered with every changed number replaced and nothing else; the program computes the
   new answer exactly (`target`); k solutions are sampled and the row keeps one that reaches the target if any.

An input is perturbed only when its value is written as a standalone number in the question, is neither 0 nor 1,
does not also appear as a literal elsewhere in the program (then we could not tell which "3" is which), and is
not a value a word of the question may stand for ("2" beside "twice", "7" beside "a week": `implied_values`).
A percentage of 50 stays fixed (a solution may compute one half and use it for the other). A value written more
than once in the question stays fixed too: "collected 15 coins ... gave 15 of them away" may be one quantity or
two, and moving both could make the question nonsense.
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from fractions import Fraction

from augmenters.base import AugmentConfig, few_shot_messages, finish_response, reply_reason, solve
from augmenters.numbers_in_text import TextNumber, find_numbers, implied_values, word_numbers
from augmenters.percent_use import percent_misused
from augmenters.perturb_draw import (
    CheckedProgram,
    Perturbation,
    number_orders,
    sample_perturbation,
    tied_sums,
)
from augmenters.plausibility import number_rule, question_caps
from augmenters.program_eval import (
    DEFAULT_LIMITS,
    Limits,
    Program,
    ProgramError,
    answer_string,
    parse_program,
    run_program,
)
from augmenters.solution_program import MarkProgram, allowed_literals, build_from_marks, read_marks
from augmenters.solution_text import write_solution
from core.answers import answers_equal, parse_number
from core.llm.base import LLM, Completion, Message
from core.schemas import new_sample

AUGMENTER = "perturb"
PROGRAM_CANDIDATES = 3  # programs asked for per problem; the first that reproduces the gold answer is used

PROGRAM_SYSTEM = (
    "You turn a math word problem into a short Python program that computes its answer.\n"
    "Rules:\n"
    "1. Start with one line per number written in the question: `name = number`, copying the number exactly "
    "as written (25% is written 25, $1,200 is written 1200).\n"
    "2. Then compute with + - * / // % **, comparisons, `if`/`else`, and the functions min, max, abs, round, "
    "int, floor, ceil. Words like half, twice or dozen are plain numbers in the formulas.\n"
    "3. No imports, no print, no strings, no lists, no while loops.\n"
    "4. The last line is `answer = ...`.\n"
    "Reply with the program only, inside ```python fences."
)

# Our own worked examples (not from GSM8K).
PROGRAM_SHOTS: list[tuple[str, str]] = [
    (
        "Question: A gardener plants 15 rows of tulips with 8 tulips in each row. Rabbits eat 20% of the tulips. "
        "How many tulips are left?\n"
        "Reference solution: She plants 15 * 8 = 120 tulips. Rabbits eat 120 * 20 / 100 = 24 tulips. "
        "120 - 24 = 96 are left.\nThe answer is: 96",
        "```python\nrows = 15\ntulips_per_row = 8\neaten_percent = 20\n"
        "planted = rows * tulips_per_row\neaten = planted * eaten_percent / 100\n"
        "answer = planted - eaten\n```",
    ),
    (
        "Question: Leo buys 3 notebooks at $2.50 each and a pen for $4. He pays with a $20 bill. "
        "If he spends more than $10, the shop gives him $1 back as a reward. How much change does he get in total?\n"
        "Reference solution: The notebooks cost 3 * 2.50 = $7.50. With the pen he spends 7.50 + 4 = $11.50. "
        "His change is 20 - 11.50 = $8.50. He spent more than $10, so he gets $1 more: 8.50 + 1 = $9.50.\n"
        "The answer is: 9.50",
        "```python\nnotebooks = 3\nnotebook_price = 2.50\npen_price = 4\npaid = 20\nreward_limit = 10\n"
        "reward = 1\nspent = notebooks * notebook_price + pen_price\nchange = paid - spent\n"
        "if spent > reward_limit:\n    change = change + reward\nanswer = change\n```",
    ),
]

_CALC_RE = re.compile(r"<<[^<>]*>>")
_FENCE_RE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_PRINT_RE = re.compile(r"^\s*print\s*\(.*\)\s*$")
_ANSWER_LINE_RE = re.compile(r"^answer\s*=")


def reference_solution(solution: str | None, gold: str) -> str:
    """A GSM8K reference solution without calculator marks, ending `The answer is: X`."""
    if not solution:
        return f"The answer is: {gold}"
    text = _CALC_RE.sub("", solution)
    lines = [line for line in text.strip().splitlines() if not line.strip().startswith("####")]
    return "\n".join(lines + [f"The answer is: {gold}"])


def program_messages(question: str, solution: str | None, gold: str) -> list[Message]:
    user = f"Question: {question}\nReference solution: {reference_solution(solution, gold)}"
    return few_shot_messages(PROGRAM_SYSTEM, PROGRAM_SHOTS, user)


def extract_program(text: str) -> str | None:
    """The code of a reply: the first fenced block (or the whole reply), without print lines, up to `answer = ...`."""
    m = _FENCE_RE.search(text)
    code = m.group(1) if m else text
    lines = [line for line in code.splitlines() if not _PRINT_RE.match(line)]
    answer_lines = [i for i, line in enumerate(lines) if _ANSWER_LINE_RE.match(line)]
    if not answer_lines:
        return None
    end = answer_lines[-1] + 1
    while end < len(lines) and lines[end][:1] in (" ", "\t", ")", "]") and lines[end].strip():
        end += 1  # a continued `answer = (...` expression
    return "\n".join(lines[:end]).strip() or None


# --- checking a program against the gold answer -----------------------------------------------------------------


def perturbable_groups(program: Program, question: str) -> tuple[dict[Fraction, list[str]], dict[Fraction, TextNumber]]:
    """Inputs that may change, grouped by original value, and how each value is written in the question."""
    styles: dict[Fraction, TextNumber] = {}
    named_or_fact: set[Fraction] = set()  # part of a name or a fixed fact: "4-wheel drive", "$20 bills"
    written = find_numbers(question)
    for number in written:
        seen = styles.get(number.value, number)
        styles[number.value] = replace(
            seen,
            decimals=max(seen.decimals, number.decimals),
            commas=seen.commas or number.commas,
            percent=seen.percent or number.percent,
            most=min((m for m in (seen.most, number.most) if m is not None), default=None),
            conversion=seen.conversion or number.conversion,
            age=seen.age or number.age,
        )
        rule = number_rule(question, number)
        if rule.fixed:
            named_or_fact.add(number.value)
        if rule.band or rule.most is not None:
            seen = styles[number.value]
            band = rule.band if seen.band is None or rule.band is None else _narrower(seen.band, rule.band)
            most = min((m for m in (seen.most, rule.most) if m is not None), default=None)
            styles[number.value] = replace(seen, band=band or seen.band, most=most)
    groups: dict[Fraction, list[str]] = {}
    counts = Counter(number.value for number in written)
    written_twice = {v for v, n in counts.items() if n > 1}
    # 50% splits a whole into two equal parts: a solution may use one part for both, which breaks at 60%
    half = {number.value for number in written if number.percent and number.value == 50}
    conversions = {number.value for number in written if number.conversion or number.year or number.measure}
    # more inputs of one value than the question writes: one of them stands for something else (a word's count)
    shared = {v for v, n in Counter(Fraction(x) for x in program.inputs.values()).items() if n > counts.get(v, 0)}
    # a literal that is an input times a word's factor ("twice as much" written as 16 beside 8 ounces): the
    # program hard-codes a relation of that input, which would not follow a new value
    factors = {f for word, f in _RELATION_WORDS.items() if re.search(rf"\b{word}\b", question, re.I)}
    related = {
        Fraction(v)
        for v in program.inputs.values()
        if any(Fraction(v) * f in program.literals and Fraction(v) * f not in counts for f in factors if f != 1)
    }
    fixed = program.literals | implied_values(question) | written_twice | half | conversions | shared
    fixed |= named_or_fact | related
    for name, value in program.inputs.items():
        v = Fraction(value)
        if v in styles and v not in fixed and (v > 1 or (v > 0 and styles[v].decimals > 0)):
            groups.setdefault(v, []).append(name)
    return groups, {v: styles[v] for v in groups}


# words that relate one quantity to another by a factor: "twice as much", "half as many", "triple the price"
_RELATION_WORDS = {
    "twice": Fraction(2), "double": Fraction(2), "doubled": Fraction(2), "half": Fraction(1, 2),
    "halved": Fraction(1, 2), "triple": Fraction(3), "tripled": Fraction(3), "thrice": Fraction(3),
    "quadruple": Fraction(4), "quadrupled": Fraction(4),
}  # fmt: skip


def _narrower(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return max(a[0], b[0]), min(a[1], b[1])


def solution_results(calculations: list[str] | None, gold: str) -> set[Fraction]:
    """Values the reference solution computes (the results of its calculator marks) and the gold answer."""
    values = {result for _, result in read_marks(calculations)} | {parse_number(gold)}
    return {v for v in values if v is not None}


def hardcoded_results(program: Program, question: str, calculations: list[str] | None, gold: str) -> set[Fraction]:
    """Computed values written into the program as numbers (not in the question): they would not follow new inputs."""
    written = {n.value for n in find_numbers(question)} | word_numbers(question)
    used = {Fraction(v) for v in program.inputs.values()} | set(program.literals)
    return {v for v in used & solution_results(calculations, gold) if v not in written and abs(v) > 2}


# "the remaining 13 students", "the other 5": a count the others already fix; new values would contradict it
_DERIVED_RE = re.compile(r"\b(?:remaining|rest\s+of\s+the|other|others|leftover)\s+\$?\d", re.I)


def check_program(
    source: str,
    question: str,
    gold: str,
    calculations: list[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    percent_check: bool = True,
) -> CheckedProgram:
    """Parse, run on the original numbers and compare with `gold`; a ProgramError(reason) when it does not hold.

    Also refused: a program that writes a value the reference solution computes (or the gold answer) as a plain
    number, as in `may = 24` for "half as many as 48" - it reproduces the gold but would not follow new inputs;
    a literal that is neither written in the question nor a value its words give (`unexplained_literal`); and,
    with `percent_check`, an input written with "%" used other than as a percentage (`percent_as_number`; the
    programs from marks are checked mark by mark instead).
    """
    program = parse_program(source, limits)
    if m := _DERIVED_RE.search(question):
        raise ProgramError("derived_number", f"the question gives {m.group()!r}, which the other numbers also fix")
    original = run_program(program, None, limits)
    if not answers_equal(gold, answer_string(original.answer)):
        raise ProgramError("program_mismatch", f"the program gives {answer_string(original.answer)}, not {gold}")
    if hardcoded := hardcoded_results(program, question, calculations, gold):
        shown = ", ".join(sorted(answer_string(v) for v in hardcoded))
        raise ProgramError("program_hardcodes_result", f"computed values written as numbers: {shown}")
    written = find_numbers(question)
    allowed = allowed_literals(question) | {n.value for n in written} | {Fraction(0)}
    if unexplained := sorted(v for v in program.literals if v not in allowed):
        raise ProgramError("unexplained_literal", f"{answer_string(unexplained[0])} is not a number the question gives")
    percents = {n.value for n in written if n.percent} - {n.value for n in written if not n.percent}
    names = {name for name, value in program.inputs.items() if Fraction(value) in percents}
    if percent_check and (misused := percent_misused(program.tree, names)):
        raise ProgramError("percent_as_number", f"{misused} is written as a percentage but used otherwise")
    groups, styles = perturbable_groups(program, question)
    if not groups:
        raise ProgramError("no_perturbable_inputs", "no input of the program is a number written in the question")
    sums = tied_sums(written, groups)
    return CheckedProgram(program, original, groups, styles, number_orders(written), question_caps(question), sums)


# --- the augmenter ----------------------------------------------------------------------------------------------


@dataclass
class ProgramOutcome:
    checked: CheckedProgram | None
    source: str | None  # the program used, or the last candidate tried
    reason: str | None  # why no program could be used
    origin: str | None = None  # where the program came from: "solution" (calculator marks) or "model"
    marks: MarkProgram | None = None  # from the marks: what each number of the reference solution shows


PROGRAM_ORIGINS = ("solution", "model")
# why no program: the later in this list, the further a candidate got
_REASON_RANK = [
    "no_marks",
    "unreadable_mark",
    "unexplained_number",
    "ambiguous_number",
    "stale_solution_text",
    "unused_number",
    "unused_result",
    "no_program",
    "program_refused",
    "program_error",
    "program_mismatch",
    "unexplained_literal",
    "percent_as_number",
    "derived_number",
    "program_hardcodes_result",
    "no_perturbable_inputs",
]


def program_origins(spec: str) -> tuple[str, ...]:
    """`"solution,model"` -> ("solution", "model"): where programs are looked for, in order."""
    origins = tuple(part.strip() for part in spec.split(",") if part.strip())
    unknown = [o for o in origins if o not in PROGRAM_ORIGINS]
    if unknown or not origins:
        raise ValueError(f"program origins are a comma list of {', '.join(PROGRAM_ORIGINS)}, not {spec!r}")
    return origins


def _failed(source: str | None, error: ProgramError, origin: str) -> ProgramOutcome:
    reason = error.reason
    if reason not in _REASON_RANK:
        reason = "program_refused" if _is_static(reason) else "program_error"
    return ProgramOutcome(None, source, reason, origin)


def _more_telling(a: ProgramOutcome, b: ProgramOutcome) -> ProgramOutcome:
    return b if _REASON_RANK.index(b.reason or "no_program") >= _REASON_RANK.index(a.reason or "no_program") else a


def program_from_marks(problem: dict) -> ProgramOutcome:
    """The program read off the reference solution's calculator marks (`augmenters.solution_program`), checked."""
    source = None
    try:
        marks = build_from_marks(
            problem["question"], problem.get("solution"), problem.get("calculations"), problem["answer"]
        )
        source = marks.source
        checked = check_program(
            source, problem["question"], problem["answer"], problem.get("calculations"), percent_check=False
        )
    except ProgramError as e:
        return _failed(source, e, "solution")
    return ProgramOutcome(checked, source, None, "solution", marks)


async def program_from_model(
    problem: dict, llm: LLM, cfg: AugmentConfig, candidates: int = PROGRAM_CANDIDATES
) -> ProgramOutcome:
    """Ask the model for program candidates; the first that holds wins, else the most telling reason."""
    messages = program_messages(problem["question"], problem.get("solution"), problem["answer"])
    params = cfg.params(seed_key=f"{problem['id']}:{AUGMENTER}:program")
    completions = await llm.chat(messages, n=candidates, params=params)
    best = ProgramOutcome(None, None, "no_program", "model")
    for completion in completions:
        source = extract_program(completion.text)
        if source is None:
            continue
        try:
            checked = check_program(source, problem["question"], problem["answer"], problem.get("calculations"))
            return ProgramOutcome(checked, source, None, "model")
        except ProgramError as e:
            best = _more_telling(best, _failed(source, e, "model"))
    return best


async def write_program(problem: dict, llm: LLM, cfg: AugmentConfig) -> ProgramOutcome:
    """A checked program from each origin of `cfg.perturb_programs` in turn (the reference solution's marks need
    no model); the first that holds wins, else the most telling reason."""
    failed = []
    for origin in program_origins(cfg.perturb_programs):
        outcome = program_from_marks(problem) if origin == "solution" else await program_from_model(problem, llm, cfg)
        if outcome.checked is not None:
            return outcome
        failed.append(outcome)
    return functools.reduce(_more_telling, failed)


def _is_static(reason: str) -> bool:
    """Refused before running (vs failed while running)."""
    return reason not in {
        "too_many_steps",
        "timeout",
        "number_too_large",
        "exponent_too_large",
        "division_by_zero",
        "undefined_name",
        "bad_exponent",
        "bad_round",
        "bad_range",
        "loop_too_long",
        "no_answer",
        "evaluation_failed",
    }


def solutions_per_question(cfg: AugmentConfig, origin: str | None) -> int:
    """Model solutions sampled per perturbed question: `perturb_k`; a program from the model has no reference
    solution to rewrite, so it asks for `muggle_k` when `perturb_k` is 0."""
    return cfg.perturb_k or (cfg.muggle_k if origin == "model" else 0)


async def solve_perturbation(
    problem: dict, index: int, perturbation: Perturbation, llm: LLM, cfg: AugmentConfig, k: int
) -> list[tuple[Completion, str | None]]:
    params = cfg.params(seed_key=f"{problem['id']}:{AUGMENTER}:{index}:solve")
    return await solve(llm, perturbation.question, k, params)


def draw_rng(cfg: AugmentConfig, problem_id: str, index: int) -> random.Random:
    return random.Random(f"{cfg.seed}:{problem_id}:{AUGMENTER}:{index}")


def draw_perturbations(problem: dict, checked: CheckedProgram, cfg: AugmentConfig) -> list[Perturbation | None]:
    """cfg.perturb_n seeded draws; None where no draw kept the constraints or it repeats an earlier question."""
    out: list[Perturbation | None] = []
    seen = {problem["question"]}
    for i in range(cfg.perturb_n):
        rng = draw_rng(cfg, problem["id"], i)
        p = sample_perturbation(checked, problem["question"], rng, band=cfg.perturb_band)
        out.append(p if p is not None and p.question not in seen else None)
        if p is not None:
            seen.add(p.question)
    return out


def solution_for(problem: dict, marks: MarkProgram, perturbation: Perturbation) -> str:
    """The reference solution with every number replaced by its new value, ending `The answer is: X`."""
    text = write_solution(problem.get("solution") or "", marks.shown, perturbation.env, marks.at)
    return reference_solution(text, answer_string(perturbation.answer))


REFERENCE_MODEL = "reference-solution"  # the `model` of a row whose solution is the rewritten reference


async def augment(problem: dict, llm: LLM, cfg: AugmentConfig) -> list[dict]:
    base = {"parent_id": problem["id"], "augmenter": AUGMENTER, "original_question": problem["question"]}
    outcome = await write_program(problem, llm, cfg)
    if outcome.checked is None:
        return [
            new_sample(
                **base,
                model=llm.name,
                variant="program",
                prompt=outcome.source or "",
                query=None,
                response=outcome.source,
                answer=None,
                target=None,
                reason=outcome.reason,
            )
        ]
    perturbations = draw_perturbations(problem, outcome.checked, cfg)
    k = solutions_per_question(cfg, outcome.origin)
    solved = await asyncio.gather(
        *(solve_perturbation(problem, i, p, llm, cfg, k) for i, p in enumerate(perturbations) if p is not None and k)
    )
    rows, answers = [], iter(solved)
    for i, p in enumerate(perturbations):
        variant = f"draw{i}"
        if p is None:
            rows.append(
                new_sample(
                    **base,
                    model=llm.name,
                    variant=variant,
                    prompt=outcome.source or "",
                    query=None,
                    response=None,
                    answer=None,
                    target=None,
                    reason="no_valid_values",
                )
            )
            continue
        target = answer_string(p.answer)
        if outcome.marks is not None:
            rows.append(
                new_sample(
                    **base,
                    model=REFERENCE_MODEL,
                    variant=variant,
                    prompt=p.question,
                    query=p.question,
                    response=solution_for(problem, outcome.marks, p),
                    answer=target,
                    target=target,
                    verified_by="program",
                    score=1.0,
                )
            )
        if not k:
            continue
        solutions = next(answers)
        hits = [(c, a) for c, a in solutions if answers_equal(target, a)]
        keepable = [(c, a) for c, a in hits if reply_reason(c) is None]  # a hit cut off or unstated proves nothing
        completion, answer = (keepable or hits or [s for s in solutions if s[1] is not None] or solutions)[0]
        rows.append(
            new_sample(
                **base,
                model=llm.name,
                variant=variant if outcome.marks is None else f"{variant}:model",
                prompt=p.question,
                query=p.question,
                response=finish_response(completion.text, answer),
                answer=answer,
                target=target,
                score=len(hits) / len(solutions),
                reason=reply_reason(completion),
            )
        )
    return rows

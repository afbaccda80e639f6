"""argparse `type=` functions: every option is checked when it is read, before any work, with one sentence.

argparse turns an `ArgumentTypeError` into "argument --limit: <our sentence>", which the `flows` parser prints as
one line. Numbers are read through `core.numbers` (bounded digits: `--limit 1e99999999` costs nothing), floats
must be finite (`nan`, `inf` refused), folders must not be files (`--out /dev/null`, `--out ""`), URLs must parse
and are shown with their credentials redacted.

    parser.add_argument("--limit", type=positive_int)
    parser.add_argument("--temperature", type=nonnegative_float)
    parser.add_argument("--out", type=out_folder)
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from core.errors import UserError
from core.numbers import NumberTooLarge, parse_decimal, parse_int
from core.text_files import check_readable
from core.urls import has_password, redact_url, url_problem

__all__ = [
    "at_least",
    "comma_list",
    "existing_folder",
    "finite_float",
    "integer",
    "nonnegative_float",
    "nonnegative_int",
    "out_folder",
    "positive_float",
    "positive_int",
    "problems_source",
    "run_source",
    "share",
    "url",
    "url_list",
]

_MAX_OPTION_DIGITS = 18  # no count, size or step of this project needs more


def _bad(message: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(message)


def _show(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 10] + "...")


def _path(text: str) -> str:
    return _show(text, 300)


def _broken_link(path: Path) -> str:
    """What a symlink that leads nowhere is: a loop, or a link to nothing."""
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a loop this way
        return "is a symlink loop"
    except OSError as e:
        return "is a symlink loop" if e.errno == 40 else "is a symlink to nothing"
    return "is a broken symlink"


def _int(text: str) -> int:
    try:
        return parse_int(text, max_digits=_MAX_OPTION_DIGITS)
    except NumberTooLarge:
        raise _bad(f"{_show(text)} is too large; give a whole number of at most {_MAX_OPTION_DIGITS} digits") from None
    except ValueError:
        raise _bad(f"{_show(text)} is not a whole number") from None


def at_least(low: int) -> Callable[[str], int]:
    """A whole number >= `low`."""

    def check(text: str) -> int:
        value = _int(text)
        if value < low:
            raise _bad(f"must be at least {low}, not {value}")
        return value

    check.__name__ = f"int_at_least_{low}"
    return check


positive_int = at_least(1)
nonnegative_int = at_least(0)


def integer(text: str) -> int:
    """Any whole number of at most 18 digits (a seed, a step count where -1 means "none")."""
    return _int(text)


def finite_float(text: str) -> float:
    """A finite number ("0.7", "1e-5"); nan, inf and numbers past the bounds refused."""
    s = text.strip()
    if s.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise _bad(f"{_show(text)} is not a finite number")
    try:
        value = float(parse_decimal(s, max_digits=_MAX_OPTION_DIGITS * 2))
    except NumberTooLarge:
        raise _bad(f"{_show(text)} is too large or too small to be a setting") from None
    except (ValueError, OverflowError):
        raise _bad(f"{_show(text)} is not a number") from None
    if not math.isfinite(value):
        raise _bad(f"{_show(text)} is not a finite number")
    return value


def nonnegative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise _bad(f"must be 0 or more, not {value:g}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise _bad(f"must be more than 0, not {value:g}")
    return value


def share(text: str) -> float:
    """A share in (0, 1]."""
    value = finite_float(text)
    if not 0 < value <= 1:
        raise _bad(f"must be a share in (0, 1], not {value:g}")
    return value


def _path_text(text: str, what: str) -> str:
    if not text.strip():
        raise _bad(f"give a {what} path, not an empty string")
    if "\0" in text:
        raise _bad(f"a {what} path cannot hold a NUL character")
    if len(text) > 4096:
        raise _bad(f"a {what} path of {len(text)} characters is too long")
    return text


def out_folder(text: str) -> str:
    """A folder to write into: it may not exist yet; it may not be a file (or /dev/null), nor sit inside one."""
    _path_text(text, "folder")
    path = Path(text)
    try:
        if path.exists() and not path.is_dir():
            raise _bad(f"{_path(text)} is a file, not a folder; give a folder to write into")
        for parent in path.absolute().parents:
            if parent.exists():
                if not parent.is_dir():
                    raise _bad(f"{_path(text)} is inside {str(parent)!r}, which is a file")
                break
        if path.is_symlink() and not path.exists():
            raise _bad(f"{_path(text)} {_broken_link(path)}")
    except OSError as e:
        raise _bad(f"{_path(text)} cannot be used as a folder ({e.strerror or type(e).__name__})") from None
    return text


def existing_folder(text: str) -> str:
    """A folder that must exist already (e.g. a run folder to read)."""
    _path_text(text, "folder")
    path = Path(text)
    try:
        if path.is_dir():
            return text
        if path.exists():
            raise _bad(f"{_path(text)} is a file, not a folder")
        if path.is_symlink():
            raise _bad(f"{_path(text)} {_broken_link(path)}")
    except OSError as e:
        raise _bad(f"{_path(text)} cannot be read ({e.strerror or type(e).__name__})") from None
    raise _bad(f"the folder {_path(text)} does not exist")


def run_source(text: str) -> str:
    """A run folder, or a Parquet / JSONL file of rows (sft --run)."""
    _path_text(text, "run")
    path = Path(text)
    try:
        if path.is_file() and path.suffix not in (".parquet", ".jsonl"):
            raise _bad(f"{_path(text)} is a {path.suffix or 'plain'} file; give a run folder or a .parquet/.jsonl file")
    except OSError as e:
        raise _bad(f"{_path(text)} cannot be read ({e.strerror or type(e).__name__})") from None
    if path.is_file():
        return text
    return existing_folder(text)


def problems_source(text: str) -> str:
    """`sample`, a Hub id or a task name (checked where they are loaded), or a .jsonl/.parquet file that must be
    readable now: a missing or unreadable file is refused before Prefect starts."""
    if not text.strip():
        raise _bad("give 'sample', a Hub id such as openai/gsm8k, or a .jsonl/.parquet file")
    _path_text(text, "problems")
    path = Path(text)
    try:
        is_path = path.suffix in (".jsonl", ".parquet") or path.exists() or path.is_symlink()
    except OSError:
        is_path = False
    if is_path:
        try:
            check_readable(path, "problems file")
        except UserError as e:
            raise _bad(str(e)[0].lower() + str(e)[1:].rstrip(".")) from None
    return text


def url(text: str) -> str:
    """An http(s) URL that parses ("http://[::1" does not); its credentials are never shown in the message."""
    if (problem := url_problem(text)) is not None:
        raise _bad(f"{redact_url(text)[:80]!r} {problem}")
    if has_password(text):  # Prefect stores flow parameters and logs: a key there would be kept for good
        raise _bad(
            f"{redact_url(text)[:80]!r} holds a password or key; "
            "put the key in MATHAUG_API_KEY or OPENAI_API_KEY, never in a URL"
        )
    return text


def url_list(text: str) -> str:
    """One or more http(s) URLs, comma separated (kept as the text given)."""
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise _bad("give at least one URL")
    for part in parts:
        if not part:
            raise _bad("an empty URL between commas")
        url(part)
    return text


def comma_list(text: str) -> str:
    """A non-empty comma list (kept as the text given; the flow reads the names)."""
    if not [part for part in text.split(",") if part.strip()]:
        raise _bad("give at least one name (a comma-separated list)")
    return text

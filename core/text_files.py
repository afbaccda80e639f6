"""Reading a user's text and JSON files with one clear sentence for every way they can be wrong.

Missing, a folder, a symlink loop, unreadable, not UTF-8 (latin-1, UTF-16), a lone surrogate, nesting too deep,
an integer past the digit bound: each gives a `UserError` that names the file and what to do. A UTF-8 byte order
mark is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from core.errors import UserError
from core.numbers import MAX_DIGITS, NumberTooLarge, parse_int

__all__ = ["check_readable", "iter_lines", "loads_json", "read_json"]


def check_readable(path: Path, what: str = "file") -> None:
    """UserError unless `path` is an existing regular file we may open (the sentence says which problem it is)."""
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a symlink loop this way
        raise UserError(f"The {what} {path} is a symlink loop; point it at a real file.") from None
    except PermissionError:
        raise UserError(f"The {what} {path} cannot be read: permission denied.") from None
    except OSError as e:
        if path.is_symlink():
            raise UserError(f"The {what} {path} is a symlink to nothing; point it at a real file.") from None
        if getattr(e, "errno", None) == 40:  # ELOOP
            raise UserError(f"The {what} {path} is a symlink loop; point it at a real file.") from None
        raise UserError(f"The {what} {path} does not exist.") from None
    if path.is_dir():
        raise UserError(f"The {what} {path} is a folder, not a file.")
    if not path.is_file():
        raise UserError(f"The {what} {path} is not a regular file (a device or pipe?); give a file.")


def _decode_error(path: Path, raw: bytes, exc: UnicodeDecodeError, line: int | None) -> UserError:
    where = f"Line {line} of {path}" if line else str(path)
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return UserError(f"{path} is UTF-16 text; save it as UTF-8.")
    return UserError(f"{where} is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8.")


def iter_lines(path: Path, what: str = "file") -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, read lazily (a `--limit` stops early); one sentence for any read error."""
    check_readable(path, what)
    try:
        with path.open("rb") as f:
            first = True
            for n, raw in enumerate(f, 1):
                if first and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
                    raise UserError(f"{path} is UTF-16 text; save it as UTF-8.")
                try:
                    text = raw.decode("utf-8-sig" if first else "utf-8")
                except UnicodeDecodeError as e:
                    raise _decode_error(path, raw, e, n) from None
                first = False
                yield n, text
    except PermissionError:
        raise UserError(f"The {what} {path} cannot be read: permission denied.") from None
    except IsADirectoryError:
        raise UserError(f"The {what} {path} is a folder, not a file.") from None
    except OSError as e:
        raise UserError(f"The {what} {path} cannot be read ({e.strerror or type(e).__name__}).") from None


def _bounded_int(text: str) -> int:
    return parse_int(text)  # refuses past MAX_DIGITS digits before int() (which refuses past 4300 with a traceback)


def _no_surrogates(value: object) -> None:
    """ValueError if a string anywhere in `value` holds a lone surrogate (JSON allows "\\ud800"; UTF-8 does not)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads_json(text: str, where: str) -> object:
    """json.loads with one sentence for every failure; `where` names the place ("line 3 of x.jsonl")."""
    try:
        value = json.loads(text, parse_int=_bounded_int)
        _no_surrogates(value)
        return value
    except NumberTooLarge:
        raise UserError(f"{where} holds an integer of more than {MAX_DIGITS} digits; no count is that long.") from None
    except RecursionError:
        raise UserError(f"{where} is nested too deeply to be a record; fix or remove it.") from None
    except UnicodeEncodeError:
        raise UserError(f"{where} holds a lone surrogate escape (like \\ud800), which is not text; fix it.") from None
    except (ValueError, MemoryError):  # JSONDecodeError is a ValueError
        raise UserError(f"{where} is not valid JSON; fix or remove it.") from None


def read_json(path: Path, what: str = "file") -> object:
    """The JSON value of a whole file (e.g. a run's stats.json or run.json), or one sentence saying what is wrong."""
    text = "".join(line for _, line in iter_lines(path, what))
    return loads_json(text, f"The {what} {path}")

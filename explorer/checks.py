"""Checking what users send: one function per kind of value, each raising ValueError with a message
that names the field and repeats (a short form of) the bad value.

Anything may arrive where a value is expected: an integer of thousands of digits, a float that is
infinite in float32, a list, a dict, true or false. Each check looks at the type before it converts,
so none of these escapes as an OverflowError or a TypeError; a bool is never read as a number.
"""

import math
import numbers
import re
import reprlib

SHOWN_CHARS = 40  # a bad value is repeated in a message up to this length
MAX_NUMBER_CHARS = 400  # a number written with more digits than this is out of every range here
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


def _int_text(value: int) -> str:
    """An integer's digits, or, past SHOWN_CHARS of them, its first four and its exponent ("1.000e+309"):
    Python refuses to write integers of more than 4,300 digits as text."""
    size = abs(value)
    if size < 10 ** (SHOWN_CHARS - 1):
        return str(value)
    exponent = int(math.log10(size))  # may be one off for huge values: corrected below
    digits = str(size // 10 ** (exponent - 3))
    if len(digits) != 4:
        exponent += len(digits) - 4
        digits = str(size // 10 ** (exponent - 3))
    return f"{'-' if value < 0 else ''}{digits[0]}.{digits[1:4]}e+{exponent}"


class _ShortRepr(reprlib.Repr):
    """reprlib's bounded repr (a nested list of any depth, a string of any length), with integers of any size."""

    def repr_int(self, value, level):
        return _int_text(value)


_SHORT = _ShortRepr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict = 2, 4, 4, 4
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = SHOWN_CHARS


def shown(value) -> str:
    """A bad value as a message repeats it: its repr, cut short (whatever its size, depth or type)."""
    text = _SHORT.repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _number_text(value) -> str:
    return _int_text(value) if isinstance(value, int) else f"{value:g}"


def number(value, name: str, low: float, high: float, integer: bool = False):
    """`value` (a number of any size and type, or its text) as an int or float within [low, high]."""
    given = value
    out_of_range = f"{name} must be in {_bound(low, integer)} … {_bound(high, integer)}, got"
    if isinstance(value, str):
        value = value.strip()
        if _INTEGER_TEXT.fullmatch(value) and len(value) > MAX_NUMBER_CHARS:  # int() refuses past 4,300 digits
            raise ValueError(f"{out_of_range} {shown(given)}.")
        try:
            value = int(value) if _INTEGER_TEXT.fullmatch(value) else float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {shown(given)}.") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number, got {shown(given)}.")
    if isinstance(value, numbers.Integral):
        value = int(value)
    else:
        try:
            value = float(value)
        except OverflowError:  # a Fraction too large for a float
            raise ValueError(f"{out_of_range} {shown(given)}.") from None
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value:g}.")
        if integer and not value.is_integer():
            raise ValueError(f"{name} must be a whole number, got {value:g}.")
    if not low <= value <= high:  # exact for integers of any size, no float conversion
        raise ValueError(f"{out_of_range} {_number_text(value)}.")
    return int(value) if integer else float(value)


def _bound(value, integer: bool) -> str:
    return _int_text(int(value)) if integer else f"{value:g}"


def flag(value, name: str) -> bool:
    """`value`, which must be true or false itself: never a number, text or None read as one."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {shown(value)}.")
    return value


def text(value, name: str, max_chars: int) -> str:
    """`value`, which must be text of at most `max_chars` characters."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {shown(value)}.")
    if len(value) > max_chars:
        raise ValueError(f"{name} is too long ({len(value):,} characters, at most {max_chars:,}).")
    return value


def choice(value, name: str, options) -> str:
    """`value`, which must be one of `options`."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(options)}, got {shown(value)}.")
    return value

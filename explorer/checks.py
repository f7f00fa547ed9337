"""Checking what users send: one function per kind of value, each raising ValueError with a message
that names the field and repeats (a short form of) the bad value."""

import math

SHOWN_CHARS = 40  # a bad value is repeated in a message up to this length


def shown(value) -> str:
    """A bad value as a message repeats it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def number(value, name: str, low: float, high: float, integer: bool = False):
    """`value` (a number or its text) as an int or float within [low, high]."""
    if isinstance(value, str):
        try:
            value = int(value) if integer and value.strip().lstrip("+-").isdigit() else float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {shown(value)}.") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a finite number, got {shown(value)}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}.")
    if integer and value != int(value):
        raise ValueError(f"{name} must be a whole number, got {value:g}.")
    if not low <= value <= high:
        low, high, value = (str(int(v)) if integer else f"{v:g}" for v in (low, high, value))
        raise ValueError(f"{name} must be in {low} … {high}, got {value[:SHOWN_CHARS]}.")
    return int(value) if integer else float(value)


def choice(value, name: str, options) -> str:
    """`value`, which must be one of `options`."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(options)}, got {shown(value)}.")
    return value

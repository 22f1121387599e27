"""A job's options as the page and the API send them, checked the way the CLI checks its flags.

Values arrive as text (form fields) or JSON values, under the CLI's names without dashes
(``style``, ``strength``, ``preserve_color``, ``look``, ``mode``, ``quality``, ``max_size``,
``start``, ``duration``, ``crf``, ``preset``). ``process_options`` turns them into the same
``ProcessOptions`` ``codecstyle process`` builds; every mistake is a ``CodecStyleError`` whose
one line is the CLI's.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

from ..errors import CodecStyleError
from ..options import ProcessOptions, parse_time

FIELDS = ("style", "strength", "preserve_color", "look", "mode", "quality", "max_size", "start",
          "duration", "crf", "preset")
_TRUE = {"1", "true", "on", "yes"}
_FALSE = {"0", "false", "off", "no", ""}


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value, flag: str, kind=float):
    if isinstance(value, bool):
        raise CodecStyleError(f"--{flag} takes a number, got {value!r}")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise CodecStyleError(f"--{flag} takes {'a whole number' if kind is int else 'a number'}, "
                              f"got {value!r}") from None
    return number


def parse_flag(value, flag: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CodecStyleError(f"--{flag} takes true or false, got {value!r}")


def clean_values(values: Mapping[str, object]) -> Dict[str, object]:
    """The known, non-blank fields of ``values``, typed (numbers as numbers, flags as bools,
    times in seconds). Unknown fields are a mistake: a misspelt option must not be ignored."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise CodecStyleError(f"unknown option {unknown[0]!r}: choose from {', '.join(FIELDS)}")
    out: Dict[str, object] = {}
    for key, value in values.items():
        flag = key.replace("_", "-")
        if key == "preserve_color":
            out[key] = parse_flag(value, flag)
        elif _blank(value):
            continue
        elif key in ("strength", "quality", "crf"):
            out[key] = _number(value, flag)
        elif key == "max_size":
            out[key] = _number(value, flag, int)
        elif key in ("start", "duration"):
            out[key] = value if isinstance(value, (int, float)) and not isinstance(value, bool) \
                else parse_time(str(value), f"--{flag}")
        else:
            out[key] = str(value).strip()
    return out


def process_options(values: Mapping[str, object], style_image: Optional[str] = None) -> ProcessOptions:
    """``ProcessOptions`` for ``clean_values(values)`` and a stored style picture, validated."""
    options = ProcessOptions(style_image=style_image, **clean_values(values))
    return options.validate()

"""Scaling a recipe's ingredient lines to another number of servings: the leading quantity
of each line ("2", "1.5", "1,5", "1/2", "1 1/2", "½", "1½", "2-3", "2 to 3") is multiplied
and written back the way a cook reads it; the rest of the line is kept as it was."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

_VULGAR = {
    "½": Fraction(1, 2),
    "⅓": Fraction(1, 3),
    "⅔": Fraction(2, 3),
    "¼": Fraction(1, 4),
    "¾": Fraction(3, 4),
    "⅕": Fraction(1, 5),
    "⅖": Fraction(2, 5),
    "⅗": Fraction(3, 5),
    "⅘": Fraction(4, 5),
    "⅙": Fraction(1, 6),
    "⅚": Fraction(5, 6),
    "⅐": Fraction(1, 7),
    "⅛": Fraction(1, 8),
    "⅜": Fraction(3, 8),
    "⅝": Fraction(5, 8),
    "⅞": Fraction(7, 8),
    "⅑": Fraction(1, 9),
    "⅒": Fraction(1, 10),
}
_VULGAR_OF = {value: character for character, value in _VULGAR.items()}
_VULGARS = "".join(_VULGAR)
# Denominators whose every fraction has a character of its own.
_VULGAR_DENOMINATORS = frozenset(
    d for d in range(2, 11) if all(Fraction(n, d) in _VULGAR_OF for n in range(1, d))
)
# Digits are ASCII only, and at most nine of them: no cook measures more, and int() refuses
# strings past 4,300 digits.
_NUMBER = re.compile(
    rf"""
    (?:
        (?:(?P<vulgar_whole>[0-9]{{1,9}})(?P<vulgar_space>\ *))?(?P<vulgar>[{_VULGARS}])
      | (?:(?P<mixed_whole>[0-9]{{1,9}})\ +)?
        (?P<numerator>[0-9]{{1,9}})[/\u2044](?P<denominator>[0-9]{{1,9}})
      | (?P<integer>[0-9]{{1,9}})(?:(?P<separator>[.,])(?P<decimals>[0-9]{{1,9}}))?
    )
    (?![0-9/\u2044{_VULGARS}]|[.,][0-9])
    """,
    re.VERBOSE,
)
_RANGE = re.compile(r" ?[-\u2013\u2014] ?| to ")  # hyphen, en dash, em dash
# Denominators a cook measures with, tried in this order (ties go to the simpler one).
_KITCHEN_DENOMINATORS = (2, 3, 4, 8)
# How far a fraction may be from the exact amount to stand for it (relative).
_CLOSE_ENOUGH = Fraction(1, 100)
# From this amount on decimals read better ("187.5 g", not "187 1/2 g").
_FRACTIONS_BELOW = 10


@dataclass(frozen=True, slots=True)
class _Amount:
    """A number as written: its value, and how to write a scaled one like it."""

    value: Fraction
    vulgar: bool = False  # written with a character such as ½
    vulgar_space: str = ""  # between the whole part and that character: "1 ½" or "1½"
    denominator: int | None = None  # of a written fraction, as another one to try


def _amount(match: re.Match[str]) -> _Amount | None:
    """The amount a match of _NUMBER names; None for what only looks like one."""
    found = match.groupdict()
    if found["vulgar"]:
        fraction = _VULGAR[found["vulgar"]]
        whole = int(found["vulgar_whole"] or 0)
        space = found["vulgar_space"] or ""
        return _Amount(whole + fraction, True, space, fraction.denominator)
    if found["numerator"]:
        denominator = int(found["denominator"])
        if denominator == 0:
            return None
        whole = int(found["mixed_whole"] or 0)
        value = whole + Fraction(int(found["numerator"]), denominator)
        return _Amount(value, denominator=denominator)
    if found["separator"] == "," and len(found["decimals"]) > 2:
        return None  # "1,500": a thousand and a half, or one and a half? Left alone.
    return _Amount(Fraction(f"{found['integer']}.{found['decimals'] or 0}"))


def _nearest_fraction(value: Fraction, amount: _Amount) -> Fraction | None:
    """The closest amount in halves, thirds, quarters or eighths (or the denominator the line
    used), when it is close enough to stand for `value`."""
    denominators = list(_KITCHEN_DENOMINATORS)
    if amount.denominator and amount.denominator <= 16 and amount.denominator not in denominators:
        denominators.append(amount.denominator)
    if amount.vulgar:
        denominators = [d for d in denominators if d in _VULGAR_DENOMINATORS]
    whole = value.numerator // value.denominator
    candidates = [whole + Fraction(round((value - whole) * d), d) for d in denominators]
    nearest = min(candidates, key=lambda candidate: abs(candidate - value))
    return nearest if abs(nearest - value) <= value * _CLOSE_ENOUGH else None


def _decimal_text(value: Fraction, separator: str) -> str:
    """At most two decimals, without trailing zeros; more only where two would show 0."""
    places = 2
    while round(value, places) == 0 and value != 0 and places < 12:
        places += 1
    scaled = round(value * 10**places)
    whole, rest = divmod(scaled, 10**places)
    decimals = f"{rest:0{places}d}".rstrip("0")
    return f"{whole}{separator}{decimals}" if decimals else str(whole)


def _written(value: Fraction, amount: _Amount, separator: str) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    nearest = _nearest_fraction(value, amount) if value < _FRACTIONS_BELOW else None
    if nearest is None:
        return _decimal_text(value, separator)
    whole = nearest.numerator // nearest.denominator
    part = nearest - whole
    if not part:
        return str(whole)
    if amount.vulgar:
        return f"{whole}{amount.vulgar_space}{_VULGAR_OF[part]}" if whole else _VULGAR_OF[part]
    fraction = f"{part.numerator}/{part.denominator}"
    return f"{whole} {fraction}" if whole else fraction


# Units (and a few things counted whole) whose noun follows the quantity's number: "1 cup",
# "2 cups", "1/2 cup". Words not listed are left as written.
_REGULAR_NOUNS = (
    "bag bottle can clove cup drop egg fillet gallon gram handful head jar kilogram liter litre "
    "ounce package packet piece pint pound quart sheet slice sprig stalk stick tablespoon teaspoon"
)
_NOUNS = {
    **{word: word + "s" for word in _REGULAR_NOUNS.split()},
    **{
        "bunch": "bunches",
        "dash": "dashes",
        "pinch": "pinches",
        "leaf": "leaves",
        "loaf": "loaves",
    },
}
_SINGULAR_OF = {plural: singular for singular, plural in _NOUNS.items()}
_NOUN = re.compile(r"(\s+)([A-Za-z]+)\b")


def _agreeing(rest: str, value: Fraction) -> str:
    """The text after a scaled quantity, its unit in the number `value` asks for (one or
    less: singular)."""
    match = _NOUN.match(rest)
    if match is None:
        return rest
    word = match[2]
    lower = word.lower()
    singular = _SINGULAR_OF.get(lower, lower if lower in _NOUNS else None)
    if singular is None:
        return rest
    wanted = singular if value <= 1 else _NOUNS[singular]
    if word[0].isupper():
        wanted = wanted.capitalize()
    return match[1] + wanted + rest[match.end() :]


def scale_line(line: str, factor: Fraction) -> str:
    """The ingredient line with its leading quantity (a number or a range of two) multiplied
    by `factor` (> 0), and a unit after it in the number it now needs ("1 cup", "2 cups"); a
    line without a quantity is returned as it is, and so is every line when `factor` is 1.
    Example: scale_line("1 1/2 cups flour", Fraction(2)) == "3 cups flour"."""
    if factor <= 0:
        raise ValueError(f"A scaling factor must be positive, not {factor}.")
    if factor == 1:
        return line  # exactly as written, "3/2" and "0.50" included
    position = len(line) - len(line.lstrip())
    first = _NUMBER.match(line, position)
    if first is None:
        return line
    numbers = [first]
    dash = _RANGE.match(line, first.end())
    second = _NUMBER.match(line, dash.end()) if dash else None
    if dash and second:
        numbers.append(second)
    amounts = []
    for number in numbers:
        amount = _amount(number)
        if amount is None:
            return line
        amounts.append(amount)
    separator = "," if any(number["separator"] == "," for number in numbers) else "."
    pieces = [line[:position]]
    for index, (number, amount) in enumerate(zip(numbers, amounts, strict=True)):
        if index:
            pieces.append(line[numbers[index - 1].end() : number.start()])
        pieces.append(_written(amount.value * factor, amount, separator))
    pieces.append(_agreeing(line[numbers[-1].end() :], amounts[-1].value * factor))
    return "".join(pieces)


def scale_ingredients(lines: Iterable[str], from_servings: int, to_servings: int) -> list[str]:
    """Ingredient lines for `to_servings` instead of `from_servings` (both positive).
    Example: scale_ingredients(["2 eggs", "salt"], 2, 4) == ["4 eggs", "salt"]."""
    if from_servings <= 0 or to_servings <= 0:
        raise ValueError("Servings must be positive.")
    factor = Fraction(to_servings, from_servings)
    return [scale_line(line, factor) for line in lines]

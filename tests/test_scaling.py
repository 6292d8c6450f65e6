"""Scaling ingredient lines to another number of servings (the recipe page's servings
control): the leading quantity in every form a recipe writes it, the rest of the line as it
was, and any line at all handled without an error."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from potluck.services.scaling import scale_ingredients, scale_line

HALF = Fraction(1, 2)
THIRD = Fraction(1, 3)


@pytest.mark.parametrize(
    ("line", "factor", "scaled"),
    [
        # Whole numbers
        ("2 cups flour", 2, "4 cups flour"),
        ("2 cups flour", Fraction(3, 4), "1 1/2 cups flour"),
        ("3 eggs", THIRD, "1 egg"),
        ("2 eggs", THIRD, "2/3 egg"),
        ("500g flour", 2, "1000g flour"),
        ("125 g butter", Fraction(3, 2), "187.5 g butter"),  # decimals from 10 on
        # Decimals, with a point or a comma
        ("1.5 l milk", 2, "3 l milk"),
        ("1.5 l milk", HALF, "3/4 l milk"),
        ("0.3 l water", 2, "0.6 l water"),
        ("1,5 l Milch", 2, "3 l Milch"),
        ("1,5 l Milch", Fraction(7, 5), "2,1 l Milch"),
        ("12.5 g yeast", 3, "37.5 g yeast"),
        # Fractions and mixed numbers
        ("1/2 tsp salt", 3, "1 1/2 tsp salt"),
        ("1/2 tsp salt", 2, "1 tsp salt"),
        ("1 1/2 cups sugar", 2, "3 cups sugar"),
        ("1 1/2 cups sugar", THIRD, "1/2 cup sugar"),
        ("2 3/4 cups stock", HALF, "1 3/8 cups stock"),
        ("1/16 tsp cloves", 3, "3/16 tsp cloves"),  # the line's own denominator
        ("1\u20442 cup", 3, "1 1/2 cups"),  # FRACTION SLASH
        ("1  1/2 cups", 2, "3 cups"),
        # Unicode vulgar fractions
        ("½ cup cream", 3, "1½ cups cream"),
        ("½ cup cream", HALF, "¼ cup cream"),
        ("1½ cups rice", HALF, "¾ cup rice"),
        ("1 ½ cups rice", 3, "4 ½ cups rice"),
        ("1 ⅓ cups oats", HALF, "⅔ cup oats"),
        ("¾ cup milk", Fraction(2, 3), "½ cup milk"),
        # Ranges
        ("2-3 cloves garlic", 2, "4-6 cloves garlic"),
        ("2\u20133 cloves garlic", HALF, "1\u20131 1/2 cloves garlic"),
        ("2 - 3 apples", 2, "4 - 6 apples"),
        ("2 to 3 apples", 2, "4 to 6 apples"),
        ("½-1 cup", 2, "1-2 cups"),
        ("1 1/2-2 cups", 2, "3-4 cups"),
        # Not close to a kitchen fraction: up to two decimals, no "2.0"
        ("3 eggs", Fraction(2, 5), "1.2 eggs"),
        ("1 cup", Fraction(1, 100), "0.01 cup"),
        ("1 cup", Fraction(1, 1000), "0.001 cup"),
        ("1 cup", Fraction(333, 1000), "1/3 cup"),  # close enough to a third
        ("4 cups", Fraction(1, 2), "2 cups"),
        # Whitespace before the quantity and everything after it kept as it was
        ("  3 eggs, beaten  ", 2, "  6 eggs, beaten  "),
        ("2 (14 oz) cans tomatoes", 2, "4 (14 oz) cans tomatoes"),
        ("2 to taste", 2, "4 to taste"),
    ],
)
def test_leading_quantities_are_scaled(line: str, factor: Fraction | int, scaled: str) -> None:
    assert scale_line(line, Fraction(factor)) == scaled


@pytest.mark.parametrize(
    "line",
    [
        "salt and pepper",
        "a pinch of salt",
        "",
        "   ",
        "one onion",
        "Eggs: 2",
        "1,500 g flour",  # a thousand and a half, or one and a half
        "1/0 cup",
        "1.5.3 x",
        "1234567890 grains of rice",  # past nine digits: not a measure
        "٣ eggs",  # other scripts' digits are not read as numbers
        ".5 cup",
    ],
)
def test_lines_without_a_leading_quantity_are_unchanged(line: str) -> None:
    assert scale_line(line, Fraction(2)) == line


@pytest.mark.parametrize("line", ["3/2 cups", "0.50 l", "1/16 tsp", "2.0 kg", "1 1/2 cups"])
def test_scaling_by_one_keeps_the_line_as_written(line: str) -> None:
    assert scale_line(line, Fraction(1)) == line


@pytest.mark.parametrize("factor", [Fraction(0), Fraction(-1)])
def test_a_factor_must_be_positive(factor: Fraction) -> None:
    with pytest.raises(ValueError, match="positive"):
        scale_line("2 eggs", factor)


def test_ingredients_for_another_number_of_servings() -> None:
    lines = ["2 cups flour", "1 1/2 tsp salt", "½ cup milk", "pepper"]
    assert scale_ingredients(lines, 4, 2) == [
        "1 cup flour",
        "3/4 tsp salt",
        "¼ cup milk",
        "pepper",
    ]
    assert scale_ingredients(lines, 4, 6) == [
        "3 cups flour",
        "2 1/4 tsp salt",
        "¾ cup milk",
        "pepper",
    ]
    assert scale_ingredients(lines, 4, 4) == lines
    assert scale_ingredients([], 1, 50) == []
    with pytest.raises(ValueError, match="Servings"):
        scale_ingredients(lines, 0, 2)
    with pytest.raises(ValueError, match="Servings"):
        scale_ingredients(lines, 2, 0)


@given(st.text())
def test_scaling_by_one_is_the_identity(line: str) -> None:
    assert scale_line(line, Fraction(1)) == line


factors = st.fractions(min_value=Fraction(1, 1000), max_value=1000)
quantities = st.one_of(
    st.integers(0, 10**9).map(str),
    st.from_regex(
        r"[0-9]{1,4}[.,][0-9]{1,3}|[0-9]{1,3} ?[1-9]/[1-9][0-9]?|[0-9]?[½⅓¼¾⅛]", fullmatch=True
    ),
)


@pytest.mark.parametrize(
    ("line", "factor", "scaled"),
    [
        ("2 cups flour", Fraction(1, 2), "1 cup flour"),
        ("1 cup milk", 2, "2 cups milk"),
        ("1/2 cup milk", 3, "1 1/2 cups milk"),
        ("3 cups stock", Fraction(1, 3), "1 cup stock"),
        ("2 Tablespoons butter", Fraction(1, 2), "1 Tablespoon butter"),
        ("1 pinch salt", 3, "3 pinches salt"),
        ("2 loaves bread", Fraction(1, 2), "1 loaf bread"),
        ("1-2 cups stock", Fraction(1, 2), "1/2-1 cup stock"),  # the larger end decides
        ("2 cupcakes", Fraction(1, 2), "1 cupcakes"),  # not a unit: as written
        ("2 cups", Fraction(1, 4), "1/2 cup"),
    ],
)
def test_a_unit_agrees_with_its_scaled_quantity(
    line: str, factor: Fraction | int, scaled: str
) -> None:
    assert scale_line(line, Fraction(factor)) == scaled


@given(st.text(), factors)
def test_any_line_is_scaled_without_an_error(line: str, factor: Fraction) -> None:
    assert isinstance(scale_line(line, factor), str)


@given(quantities, st.sampled_from(["", " ", " to ", "-"]), quantities, st.text(), factors)
def test_the_rest_of_the_line_is_kept(
    first: str, dash: str, second: str, rest: str, factor: Fraction
) -> None:
    words = " of " + rest
    line = first + (dash + second if dash else "") + words
    assert scale_line(line, factor).endswith(words)

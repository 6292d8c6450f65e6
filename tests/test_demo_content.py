"""The generated demo content: deterministic, within the API's bounds, and consistent."""

from __future__ import annotations

import random
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from potluck.services.demo_content import RecipeContent, recipe_content, usernames

FIELDS = {
    "name",
    "description",
    "num_of_servings",
    "cook_time",
    "prep_time",
    "ingredients",
    "directions",
    "tags",
}
USERNAME = re.compile(r"^[a-z0-9_.-]{3,30}$")
TAG = re.compile(r"^[\w][\w '&+-]*$")
MEAT_OR_FISH = re.compile(
    r"\b(chicken|beef|pork|lamb|veal|turkey|duck|steaks?|bacon|ham|sausages?|chorizo|salmon"
    r"|shrimp|prawns?|cod|tuna|fish|anchov(y|ies)|crab|mussels|clams?)\b",
    re.IGNORECASE,
)
DAIRY_OR_EGG = re.compile(
    r"\b(butter|buttermilk|milk|cream|cheese|cheddar|parmesan|feta|halloumi|paneer|gruyère"
    r"|emmental|yogurt|eggs?|egg yolks|honey|mayonnaise|crème fraîche|naan)\b",
    re.IGNORECASE,
)
PLANT_BASED = re.compile(r"\b(peanut|almond|oat|coconut) (butter|milk|cream)\b", re.IGNORECASE)
COOKING_METHOD = re.compile(
    r"\b(sauté|simmer|bake|roast|grill|stir-fry|boil|cook|fry|sear|brown|poach|churn|whisk)",
    re.IGNORECASE,
)
# Hypothesis keeps no example database, so the tests write nothing into the repository.
SEEDS = settings(max_examples=40, deadline=None, database=None)


def draw(seed: int, count: int) -> list[RecipeContent]:
    rng = random.Random(seed)
    return [recipe_content(rng) for _ in range(count)]


RECIPES = draw(2024, 2000)


@SEEDS
@given(st.integers())
def test_a_seed_always_gives_the_same_recipes(seed: int) -> None:
    assert draw(seed, 20) == draw(seed, 20)


def test_different_seeds_give_different_recipes() -> None:
    assert draw(1, 20) != draw(2, 20)


def test_every_field_stays_within_the_api_bounds() -> None:
    for recipe in RECIPES:
        assert set(recipe) == FIELDS
        name, description = recipe["name"], recipe["description"]
        assert 1 <= len(name) <= 100
        assert name == " ".join(name.split())
        assert unicodedata.is_normalized("NFC", name)
        assert 1 <= len(re.split(r"(?<=[.!?])\s+", description)) <= 3
        assert len(description) <= 1000
        assert description.endswith(".")
        for value, low, high in (
            (recipe["num_of_servings"], 1, 50),
            (recipe["cook_time"], 1, 1440),
            (recipe["prep_time"], 1, 1440),
        ):
            assert type(value) is int
            assert low <= value <= high
        assert 4 <= len(recipe["ingredients"]) <= 14
        assert 3 <= len(recipe["directions"]) <= 9
        assert 1 <= len(recipe["tags"]) <= 5
        for line in (*recipe["ingredients"], *recipe["directions"]):
            assert line == line.strip()
            assert 0 < len(line) <= 500
        assert len(set(recipe["ingredients"])) == len(recipe["ingredients"])


def test_most_values_are_the_everyday_ones() -> None:
    def share(values: list[int], low: int, high: int) -> float:
        return sum(low <= value <= high for value in values) / len(values)

    assert share([recipe["num_of_servings"] for recipe in RECIPES], 2, 8) > 0.8
    assert share([recipe["cook_time"] for recipe in RECIPES], 10, 120) > 0.8
    assert share([recipe["prep_time"] for recipe in RECIPES], 5, 45) > 0.8


def test_tags_are_lowercase_distinct_and_valid() -> None:
    for recipe in RECIPES:
        tags = recipe["tags"]
        assert len(set(tags)) == len(tags)
        for tag in tags:
            assert tag == tag.lower()
            assert len(tag) <= 30
            assert TAG.match(tag)


def test_no_meat_or_fish_in_a_vegetarian_or_vegan_recipe() -> None:
    with_meat = [
        recipe for recipe in RECIPES if any(map(MEAT_OR_FISH.search, recipe["ingredients"]))
    ]
    assert 0.2 < len(with_meat) / len(RECIPES) < 0.8
    for recipe in with_meat:
        assert not {"vegetarian", "vegan"} & set(recipe["tags"]), recipe
    assert any("vegetarian" in recipe["tags"] for recipe in RECIPES)


def test_no_dairy_or_eggs_in_a_vegan_recipe() -> None:
    vegan = [recipe for recipe in RECIPES if "vegan" in recipe["tags"]]
    assert vegan
    for recipe in vegan:
        for line in recipe["ingredients"]:
            assert not DAIRY_OR_EGG.search(PLANT_BASED.sub("", line)), recipe


def test_directions_use_the_ingredients_and_a_cooking_method() -> None:
    for recipe in RECIPES:
        steps = " ".join(recipe["directions"]).lower()
        assert COOKING_METHOD.search(steps)
        mentioned = [
            line
            for line in recipe["ingredients"]
            if any(
                len(word) > 3 and word in steps for word in re.findall(r"[^\W\d]+", line.lower())
            )
        ]
        assert len(mentioned) >= 3, recipe


def test_names_are_varied_and_some_are_not_ascii() -> None:
    names = [recipe["name"] for recipe in RECIPES]
    assert len(set(names)) > 0.8 * len(names)
    assert 0.01 < sum(not name.isascii() for name in names) / len(names) < 0.25


@SEEDS
@given(st.integers(), st.integers(min_value=0, max_value=500))
def test_usernames_are_distinct_and_valid(seed: int, count: int) -> None:
    names = usernames(random.Random(seed), count)
    assert len(names) == count
    assert len(set(names)) == count
    assert all(USERNAME.match(name) and name[0].isalpha() for name in names)
    assert names == usernames(random.Random(seed), count)


def test_many_usernames_stay_distinct() -> None:
    names = usernames(random.Random(7), 50_000)
    assert len(set(names)) == 50_000
    assert all(USERNAME.match(name) for name in names)

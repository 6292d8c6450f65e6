"""Full-text search queries built from what a user typed, never passed through raw:
words (letters and digits) match as prefixes, "quoted words" as a phrase, all must match."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import REAL, Select, column, func, literal_column, select, table, text

from .http import abort
from .models import Recipe

_TERM = re.compile(r'"([^"]*)"|([^\W_]+)')
_WORD = re.compile(r"[^\W_]+")
recipe_search = table("recipe_search", column("rowid"))


def _fold(word: str) -> str:
    # Accents off and case folded, as the indexes store them.
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search_terms(query: str) -> list[list[str]]:
    """The phrases of a query, each a list of folded words; a bare word is a one-word phrase."""
    terms = []
    for phrase, word in _TERM.findall(query):
        words = [_fold(w) for w in _WORD.findall(phrase or word)]
        if words:
            terms.append(words)
    if not terms:
        abort(
            400,
            "q needs at least one letter or digit to search for.",
            errors={"q": ["Needs at least one letter or digit."]},
        )
    return terms


def _sqlite_match(terms: list[list[str]]) -> str:
    # Every token is letters and digits only, so quoting it cannot change the query's syntax.
    return " ".join(
        f'"{words[0]}"*' if len(words) == 1 else '"' + " ".join(words) + '"' for words in terms
    )


def _postgresql_query(terms: list[list[str]]) -> str:
    return " & ".join(
        f"{words[0]}:*" if len(words) == 1 else "(" + " <-> ".join(words) + ")" for words in terms
    )


def matching(statement: Select[Any], query: str, dialect: str) -> tuple[Select[Any], Any]:
    """`statement` narrowed to recipes matching `query`, and a relevance expression (higher
    is better) to sort by."""
    terms = search_terms(query)
    if dialect == "postgresql":
        tsquery = _postgresql_query(terms)
        narrowed = statement.where(
            text("recipes.search_vector @@ to_tsquery('simple', :fts_filter)").bindparams(
                fts_filter=tsquery
            )
        )
        # An expression, not text: cursors compare it and select it beside each recipe.
        rank = func.ts_rank_cd(
            literal_column("recipes.search_vector"),
            func.to_tsquery(literal_column("'simple'"), tsquery),
            type_=REAL,
        )
        return narrowed, rank
    # The matches first, materialized: left to itself SQLite runs the MATCH once per recipe.
    # bm25 is lower for better matches; columns weigh name, description, ingredients, tags.
    hits = (
        select(
            recipe_search.c.rowid.label("recipe_id"),
            literal_column("-bm25(recipe_search, 10.0, 1.0, 3.0, 5.0)").label("relevance"),
        )
        .select_from(recipe_search)
        .where(text("recipe_search MATCH :fts").bindparams(fts=_sqlite_match(terms)))
        .cte("hits")
        .prefix_with("MATERIALIZED")
    )
    return statement.join(hits, hits.c.recipe_id == Recipe.id), hits.c.relevance

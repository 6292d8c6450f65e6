"""Typed models of what the API answers: recipes, authors, users, pages, keys and tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# What a client may write to a recipe (POST, PUT, PATCH); everything else the server sets.
WRITABLE_FIELDS = (
    "name",
    "description",
    "num_of_servings",
    "cook_time",
    "prep_time",
    "ingredients",
    "directions",
    "tags",
    "source_url",
)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class Image:
    """The URLs of a cover or avatar at each size (paths on the server, e.g. /media/…)."""

    large: str
    thumbnail: str
    width: int | None = None
    height: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Image:
        """Example: ``Image.from_json({"large": "/media/a-large.webp", "thumbnail": "…"})``"""
        return cls(data["large"], data["thumbnail"], data.get("width"), data.get("height"))


@dataclass(frozen=True)
class Author:
    """Who wrote a recipe."""

    id: int
    username: str
    avatar_url: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Author:
        """Example: ``Author.from_json({"id": 1, "username": "sam"}).username == "sam"``"""
        return cls(data["id"], data["username"], data.get("avatar_url"))


@dataclass(frozen=True)
class Recipe:
    """A recipe as the API shows it; `etag` is the version this copy was read at."""

    id: int
    name: str
    description: str = ""
    num_of_servings: int = 1
    cook_time: int | None = None
    prep_time: int | None = None
    ingredients: list[str] = field(default_factory=list)
    directions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    is_publish: bool = False
    cover_url: str | None = None
    cover: Image | None = None
    source_url: str | None = None
    author: Author | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    etag: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], etag: str | None = None) -> Recipe:
        """A recipe from the API's JSON.

        Example:
            >>> Recipe.from_json({"id": 1, "name": "Soup"}).name
            'Soup'
        """
        cover = data.get("cover")
        author = data.get("author")
        return cls(
            id=data["id"],
            name=data["name"],
            description=data.get("description") or "",
            num_of_servings=data.get("num_of_servings") or 1,
            cook_time=data.get("cook_time"),
            prep_time=data.get("prep_time"),
            ingredients=list(data.get("ingredients") or []),
            directions=list(data.get("directions") or []),
            tags=list(data.get("tags") or []),
            is_publish=bool(data.get("is_publish")),
            cover_url=data.get("cover_url"),
            cover=Image.from_json(cover) if cover else None,
            source_url=data.get("source_url"),
            author=Author.from_json(author) if author else None,
            created_at=_time(data.get("created_at")),
            updated_at=_time(data.get("updated_at")),
            etag=etag,
        )

    def to_json(self) -> dict[str, Any]:
        """The recipe as the API's JSON (what `export --format json` writes).

        Example:
            >>> Recipe(id=1, name="Soup").to_json()["name"]
            'Soup'
        """
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "num_of_servings": self.num_of_servings,
            "cook_time": self.cook_time,
            "prep_time": self.prep_time,
            "ingredients": list(self.ingredients),
            "directions": list(self.directions),
            "tags": list(self.tags),
            "is_publish": self.is_publish,
            "cover_url": self.cover_url,
            "source_url": self.source_url,
            "author": (
                {
                    "id": self.author.id,
                    "username": self.author.username,
                    "avatar_url": self.author.avatar_url,
                }
                if self.author
                else None
            ),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }

    def writable_fields(self) -> dict[str, Any]:
        """The fields a client can write, to copy the recipe elsewhere.

        Example:
            >>> other.create_recipe(recipe.writable_fields())
        """
        data = self.to_json()
        return {name: data[name] for name in WRITABLE_FIELDS}


@dataclass(frozen=True)
class User:
    """A user's profile; `email` only in your own (`Client.me()`)."""

    id: int
    username: str
    display_name: str = ""
    bio: str = ""
    avatar_url: str | None = None
    created_at: datetime | None = None
    email: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        """Example: ``User.from_json({"id": 1, "username": "sam"}).email is None``"""
        return cls(
            id=data["id"],
            username=data["username"],
            display_name=data.get("display_name") or "",
            bio=data.get("bio") or "",
            avatar_url=data.get("avatar_url"),
            created_at=_time(data.get("created_at")),
            email=data.get("email"),
        )


@dataclass(frozen=True)
class ApiKey:
    """An API key; `key`, the secret, is there only in the answer that created it."""

    id: int
    name: str
    scope: str
    prefix: str
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    key: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApiKey:
        """Example: ``ApiKey.from_json(answer).key`` is the secret, shown once."""
        return cls(
            id=data["id"],
            name=data["name"],
            scope=data["scope"],
            prefix=data["prefix"],
            created_at=_time(data.get("created_at")),
            expires_at=_time(data.get("expires_at")),
            last_used_at=_time(data.get("last_used_at")),
            key=data.get("key"),
        )


@dataclass(frozen=True)
class TokenPair:
    """What logging in or refreshing gives: an access token and the refresh token."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_in: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenPair:
        """Example: ``TokenPair.from_json(answer).access_token``"""
        return cls(
            data["access_token"],
            data["refresh_token"],
            data.get("token_type", "Bearer"),
            data.get("expires_in"),
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; `next_cursor` fetches the next (None on the last page)."""

    items: list[T]
    total: int
    per_page: int
    next_cursor: str | None = None
    page: int | None = None

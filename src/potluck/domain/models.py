"""Database models: users, recipes, their tags and images, API keys, revoked tokens,
the mail outbox, idempotency keys and cache generations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    literal_column,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from potluck.domain.database import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


recipe_tags = Table(
    "recipe_tags",
    db.metadata,
    Column("recipe_id", ForeignKey("recipes.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_recipe_tags_tag_id_recipe_id", "tag_id", "recipe_id"),
)


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(30))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(80), default="")
    bio: Mapped[str] = mapped_column(String(500), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # None until the address is confirmed; an unconfirmed account cannot log in.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every JWT: raising it logs out every session of the account at once.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    recipes: Mapped[list[Recipe]] = relationship(
        back_populates="author", cascade="all, delete-orphan", passive_deletes=True
    )
    avatar_image: Mapped[UserAvatar | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @property
    def avatar_hash(self) -> str | None:
        return self.avatar_image.image_hash if self.avatar_image else None

    @property
    def version_key(self) -> str:
        """What the account's representations are made from: any write moves its version;
        the update instant too, as a recipe's (SQLite may reuse a deleted row's id)."""
        written = int(self.updated_at.timestamp() * 1_000_000)
        return f"u{self.id}.{self.version}.{written:x}"

    # Profiles are part of every recipe they wrote (author), so their version is in its ETag.
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


# Case-insensitive uniqueness lives in the database, not in a racy validator.
Index("uq_users_username_lower", func.lower(User.username), unique=True)


class Tag(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "tags"
    # Serves GET /tags in count order (and count order's ties by name) without a sort.
    __table_args__ = (Index("ix_tags_recipe_count_name", "recipe_count", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    # Published recipes with this tag, kept by database triggers (migration 0006), never here.
    recipe_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# What a list row reads besides its sort key: the filter on cook time, and what names the
# version of the recipe's document (services/recipe_documents.py).
LIST_ROW_COLUMNS = ("cook_time", "author_id", "version", "updated_at")


class Recipe(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "recipes"
    __table_args__ = (
        CheckConstraint("num_of_servings BETWEEN 1 AND 50", name="servings_range"),
        CheckConstraint(
            "cook_time IS NULL OR cook_time BETWEEN 1 AND 1440", name="cook_time_range"
        ),
        CheckConstraint(
            "prep_time IS NULL OR prep_time BETWEEN 1 AND 1440", name="prep_time_range"
        ),
        # One index per public sort, led by is_publish so the public list never scans drafts,
        # and covering a list row (LIST_ROW_COLUMNS): a page is read from the index alone, in
        # order, with a max_cook_time filter checked there too (no table rows, no sort).
        Index("ix_recipes_public_created", "is_publish", "created_at", "id", *LIST_ROW_COLUMNS),
        Index(
            "ix_recipes_public_updated", "is_publish", "updated_at", "id", *LIST_ROW_COLUMNS[:-1]
        ),
        Index("ix_recipes_public_name", "is_publish", "name", "id", *LIST_ROW_COLUMNS),
        Index("ix_recipes_public_cook_time", "is_publish", "cook_time", "id"),
        Index(
            "ix_recipes_public_servings", "is_publish", "num_of_servings", "id", *LIST_ROW_COLUMNS
        ),
        Index("ix_recipes_author_created", "author_id", "created_at", "id"),
        # Which search matches are public, read without the wide recipe rows: a search's count.
        Index("ix_recipes_public_id", "is_publish", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    num_of_servings: Mapped[int] = mapped_column(Integer, default=1)
    cook_time: Mapped[int | None] = mapped_column(Integer)
    prep_time: Mapped[int | None] = mapped_column(Integer)
    ingredients: Mapped[list[str]] = mapped_column(JSON, default=list)
    directions: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_url: Mapped[str | None] = mapped_column(String(2048))
    is_publish: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    author: Mapped[User] = relationship(back_populates="recipes")
    tag_objects: Mapped[list[Tag]] = relationship(
        secondary=recipe_tags, order_by=Tag.name, lazy="selectin"
    )
    cover_image: Mapped[RecipeCover | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    # The version column makes every UPDATE check-and-write atomically (optimistic locking).
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}

    @property
    def tags(self) -> list[str]:
        return [tag.name for tag in self.tag_objects]

    @property
    def cover_hash(self) -> str | None:
        return self.cover_image.image_hash if self.cover_image else None

    def visible_to(self, user: User | None) -> bool:
        return visible(self.is_publish, self.author_id, user)


def visible(is_publish: bool, author_id: int, viewer: User | None) -> bool:
    """A published recipe is anyone's to read; a draft only its author's."""
    return is_publish or (viewer is not None and viewer.id == author_id)


# NULL cook times sort last both ways as a value outside 1-1440, so the order is one
# expression an index serves and a cursor compares with (key, id) > (v, i), no OR.
COOK_TIME_KEYS = {
    "asc": func.coalesce(Recipe.cook_time, literal_column("1441")),
    "desc": func.coalesce(Recipe.cook_time, literal_column("0")),
}
for _order, _key in COOK_TIME_KEYS.items():
    Index(
        f"ix_recipes_public_cook_time_{_order}",
        Recipe.is_publish,
        _key,
        Recipe.id,
        *(getattr(Recipe, name) for name in LIST_ROW_COLUMNS),
    )


class RevokedToken(db.Model):  # type: ignore[name-defined,misc]
    """A JWT that was logged out or rotated; rows can go once the token has expired."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IdempotencyKey(db.Model):  # type: ignore[name-defined,misc]
    """The first answer to a POST sent with an Idempotency-Key, replayed to its retries."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CacheGeneration(db.Model):  # type: ignore[name-defined,misc]
    """A counter bumped in the same transaction as every write a cached answer depends on,
    so every worker and instance stops using stale entries at once."""

    __tablename__ = "cache_generations"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class StoredImage(db.Model):  # type: ignore[name-defined,misc]
    """A processed upload whose files are in media storage, named by their content hash.

    Covers and avatars refer to it; while one does, the foreign keys forbid deleting the row,
    which is what keeps a file from being removed under a concurrent upload of the same image.
    """

    __tablename__ = "images"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecipeCover(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "recipe_covers"

    recipe_id: Mapped[int] = mapped_column(
        ForeignKey("recipes.id", ondelete="CASCADE"), primary_key=True
    )
    image_hash: Mapped[str] = mapped_column(ForeignKey("images.hash"), index=True)


class UserAvatar(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user_avatars"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    image_hash: Mapped[str] = mapped_column(ForeignKey("images.hash"), index=True)


class ApiKey(db.Model):  # type: ignore[name-defined,misc]
    """A long-lived credential for scripts; only a hash of the secret is stored."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("scope IN ('read', 'write')", name="scope_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    scope: Mapped[str] = mapped_column(String(10))
    prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class OutboxMail(db.Model):  # type: ignore[name-defined,misc]
    """A mail written in the same transaction as the change it announces, sent later."""

    __tablename__ = "outbox_mails"
    __table_args__ = (Index("ix_outbox_mails_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A sender owns a row until this time; a crashed sender's rows become due again.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


# Kept by migrations and database triggers, not by these models: full-text search (the FTS5
# table and its shadow tables on SQLite, the tsvector column and its index on PostgreSQL).
DATABASE_ONLY_NAMES = ("recipe_search", "search_vector", "ix_recipes_search_vector")


def described_by_models(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's include_object: compare only what the models describe."""
    return not (name or "").startswith(DATABASE_ONLY_NAMES)

"""Covers and avatars: image rows and image files kept in step.

The order of operations is what keeps them in step:
- saving: the image row and the reference are written (and, on PostgreSQL, locked) first,
  then the files, then the commit; if anything fails, the files this upload created go.
- releasing: the row is deleted only when nothing refers to it (a foreign key stops a
  concurrent upload of the same image), its files are removed, then the commit.
`potluck media check` finds and repairs whatever a crash left between those steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from potluck.domain.database import db
from potluck.domain.images import SIZES, media_name
from potluck.domain.models import Recipe, RecipeCover, StoredImage, User, UserAvatar, utcnow
from potluck.domain.transactions import after_commit, commit, flush, on_rollback
from potluck.services.images import ProcessedImage
from potluck.services.storage import media_storage

# A file younger than this may belong to an upload whose transaction is still open.
ORPHAN_GRACE = timedelta(hours=1)


def _file_names(image_hash: str) -> list[str]:
    return [media_name(image_hash, size) for size in SIZES]


def save_image(image: ProcessedImage, attach: Callable[[], None]) -> None:
    """Record `image`, run `attach` (which points a cover or avatar at it), write the files
    and commit; on any failure, now or when a deferred commit fails, nothing new is left in
    storage."""
    storage = media_storage()
    insert = (
        postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )
    written: list[str] = []
    is_new = False

    def remove_written() -> None:
        if is_new:  # an existing row's files are someone else's, even if we rewrote them
            for name in written:
                storage.delete(name)

    try:
        row = {"hash": image.hash, "width": image.width, "height": image.height}
        inserted = db.session.execute(
            insert(StoredImage).values(created_at=utcnow(), **row).on_conflict_do_nothing()
        )
        is_new = bool(getattr(inserted, "rowcount", 0))
        on_rollback(remove_written)
        attach()
        flush()  # a concurrent change to the recipe or user is a 409, before files are written
        for name, data in zip(image.file_names().values(), image.files.values(), strict=True):
            if storage.save(name, data):
                written.append(name)
        commit()
    except BaseException:
        db.session.rollback()  # runs remove_written
        raise


def release_images(hashes: Iterable[str | None]) -> list[str]:
    """Delete the images nobody refers to any more, rows and files; returns their hashes."""
    storage = media_storage()
    released = []
    for image_hash in sorted({h for h in hashes if h}):
        unreferenced = delete(StoredImage).where(
            StoredImage.hash == image_hash,
            ~exists().where(RecipeCover.image_hash == image_hash),
            ~exists().where(UserAvatar.image_hash == image_hash),
        )
        try:
            deleted = db.session.execute(unreferenced)
            if getattr(deleted, "rowcount", 0):
                for name in _file_names(image_hash):
                    storage.delete(name)
                released.append(image_hash)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # an upload attached it meanwhile: it stays
    return released


def replace_cover(recipe: Recipe, image: ProcessedImage | None) -> str | None:
    """Show `image` as the recipe's cover (None removes it) and commit; the previous cover,
    returned, is released once the transaction has committed."""
    previous = recipe.cover_hash
    if image is None:
        set_cover(recipe, None)
        commit()
    else:
        save_image(image, lambda: set_cover(recipe, image.hash))
    after_commit(lambda: release_images([previous]))
    return previous


def replace_avatar(user: User, image: ProcessedImage | None) -> str | None:
    """Show `image` as the user's avatar (None removes it), as replace_cover does."""
    previous = user.avatar_hash
    if image is None:
        set_avatar(user, None)
        commit()
    else:
        save_image(image, lambda: set_avatar(user, image.hash))
    after_commit(lambda: release_images([previous]))
    return previous


def set_cover(recipe: Recipe, image_hash: str | None) -> None:
    if image_hash is None:
        recipe.cover_image = None
    elif recipe.cover_image is not None:
        recipe.cover_image.image_hash = image_hash
    else:
        recipe.cover_image = RecipeCover(image_hash=image_hash)
    recipe.updated_at = utcnow()  # the representation changed: new version, new ETag


def set_avatar(user: User, image_hash: str | None) -> None:
    if image_hash is None:
        user.avatar_image = None
    elif user.avatar_image is not None:
        user.avatar_image.image_hash = image_hash
    else:
        user.avatar_image = UserAvatar(image_hash=image_hash)
    user.updated_at = utcnow()


@dataclass
class MediaReport:
    """Drift between the image rows and the stored files."""

    missing_files: list[str] = field(default_factory=list)  # hashes whose files are gone
    unreferenced: list[str] = field(default_factory=list)  # hashes nothing points at
    orphan_files: list[str] = field(default_factory=list)  # files with no row
    stale_uploads: list[str] = field(default_factory=list)  # temporary files of crashed uploads

    @property
    def clean(self) -> bool:
        return not (
            self.missing_files or self.unreferenced or self.orphan_files or self.stale_uploads
        )


def _detach_everywhere(image_hash: str) -> None:
    for cover in db.session.scalars(
        select(RecipeCover).where(RecipeCover.image_hash == image_hash)
    ):
        recipe = db.session.get(Recipe, cover.recipe_id)
        if recipe is not None:
            set_cover(recipe, None)
    for avatar in db.session.scalars(select(UserAvatar).where(UserAvatar.image_hash == image_hash)):
        user = db.session.get(User, avatar.user_id)
        if user is not None:
            set_avatar(user, None)
    db.session.flush()


def check_media(*, repair: bool) -> MediaReport:
    """Compare rows and files; with `repair`, make them agree (covers whose files are lost
    are detached, since a lost file cannot be rebuilt)."""
    storage = media_storage()
    report = MediaReport()
    hashes = set(db.session.scalars(select(StoredImage.hash)))
    referenced = set(db.session.scalars(select(RecipeCover.image_hash))) | set(
        db.session.scalars(select(UserAvatar.image_hash))
    )
    files = set(storage.names())
    report.missing_files = sorted(h for h in hashes if not set(_file_names(h)) <= files)
    report.unreferenced = sorted(hashes - referenced - set(report.missing_files))
    expected = {name for h in hashes for name in _file_names(h)}
    cutoff = datetime.now(UTC) - ORPHAN_GRACE
    for name in sorted(files - expected):
        stored = storage.stat(name)
        if stored is not None and stored.modified < cutoff:
            report.orphan_files.append(name)
    report.stale_uploads = storage.stale_uploads(remove=repair)
    if not repair:
        return report
    for image_hash in report.missing_files:
        _detach_everywhere(image_hash)
    commit()
    release_images(report.missing_files + report.unreferenced)
    for name in report.orphan_files:
        storage.delete(name)
    return report

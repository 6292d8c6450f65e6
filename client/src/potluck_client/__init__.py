"""potluck_client: the Potluck recipe API from Python, and the `potluck-client` command.

Example:
    >>> from potluck_client import Client
    >>> with Client("http://127.0.0.1:8000") as client:
    ...     for recipe in client.search("tomato"):
    ...         print(recipe.id, recipe.name)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .client import Client
from .errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    PotluckError,
    PreconditionFailed,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from .models import ApiKey, Author, Image, Page, Recipe, TokenPair, User
from .retries import RetryPolicy

__all__ = [
    "ApiKey",
    "Author",
    "BadRequest",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "Image",
    "NotFound",
    "Page",
    "PotluckError",
    "PreconditionFailed",
    "RateLimited",
    "Recipe",
    "RetryPolicy",
    "ServerError",
    "TokenPair",
    "Unauthorized",
    "Unavailable",
    "User",
    "ValidationFailed",
    "__version__",
]

"""Potluck: a self-hostable recipe-sharing platform."""

from potluck.app import create_app

__all__ = ["create_app"]

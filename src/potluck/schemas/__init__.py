"""Marshmallow schemas: one per direction (create, update, output) for each resource."""

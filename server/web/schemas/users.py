"""Accounts (``/api/v1/users``)."""
from __future__ import annotations

from marshmallow import Schema, fields

from server.web.schemas.common import integer, required, string


class UserSchema(Schema):
    id = integer()
    name = string()
    admin = required(fields.Boolean())


class NewUserSchema(Schema):
    name = string()
    password = string(metadata={"description": "at least 10 characters"})
    admin = fields.Boolean()

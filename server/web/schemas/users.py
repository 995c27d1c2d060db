"""Accounts (``/api/v1/users``)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.assess.catalogs import LANGUAGES

from server.web.schemas.common import integer, required, string


class UserSchema(Schema):
    id = integer()
    name = string()
    admin = required(fields.Boolean())


class NewUserSchema(Schema):
    name = string()
    password = string(metadata={"description": "at least 10 characters"})
    admin = fields.Boolean()


class LanguageSchema(Schema):
    language = required(fields.String(
        allow_none=True, validate=validate.OneOf([*LANGUAGES, ""]),
        metadata={"description": "the account's language for pages and phrases; null or \"\": the browser's"}))

"""Accounts over HTTP: only an admin lists or creates users (``/api/v1/users``)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user
from sqlalchemy import select

from server.assess import catalogs
from server.store.accounts import AccountError, create_user, set_language
from server.store.db import User
from server.problems import InputProblem
from server.web.requests.context import current_services
from server.web.requests.errors import error_response
from server.web.requests.inputs import json_object

users_api = Blueprint("users_api", __name__, url_prefix="/api/v1")


def _forbidden_unless_admin() -> Any:
    if not current_user.is_admin:
        return error_response("forbidden", "Only an admin may see or create accounts.", 403)
    return None


@users_api.get("/users")
def list_users() -> Any:
    """Every account's id, name and role (admins only)."""
    refused = _forbidden_unless_admin()
    if refused is not None:
        return refused
    with current_services().db.session() as session:
        users = session.scalars(select(User).order_by(User.id)).all()
        return jsonify([{"id": u.id, "name": u.name, "admin": u.is_admin} for u in users])


@users_api.post("/users")
def add_user() -> Any:
    """JSON ``{"name", "password", "admin"?}`` -> the new account (admins only)."""
    refused = _forbidden_unless_admin()
    if refused is not None:
        return refused
    body = json_object(request)
    if not isinstance(body.get("name"), str) or not isinstance(body.get("password"), str):
        raise InputProblem("missing_field", 'Send JSON {"name": "...", "password": "...", "admin": false}.')
    admin = body.get("admin", False)
    if not isinstance(admin, bool):  # "yes", 1 or "false" must not make (or fail to make) an admin by accident
        raise InputProblem("bad_field_type", "'admin' must be JSON true or false.")
    try:
        account = create_user(current_services().db, body["name"], body["password"], admin)
    except AccountError as error:
        raise InputProblem("bad_account", str(error)) from None
    return jsonify({"id": account.id, "name": account.name, "admin": account.is_admin}), 201


@users_api.put("/users/me/language")
def set_my_language() -> Any:
    """JSON ``{"language": "de"}``: this account's pages and phrases in that language; ``""`` or null: the
    browser's Accept-Language again. Answers ``{"language"}`` (null when it follows the browser)."""
    body = json_object(request)
    language = body.get("language")
    if language is not None and not isinstance(language, str):
        raise InputProblem("bad_field_type", "'language' must be text.")
    if language and language not in catalogs.LANGUAGES:
        raise InputProblem("bad_parameter", "'language' is one of %(languages)s, or empty.",
                           languages=", ".join(catalogs.LANGUAGES))
    set_language(current_services().db, current_user.id, language or None)
    return jsonify({"language": language or None})

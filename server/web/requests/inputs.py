"""Reading images, videos and parameters out of HTTP requests (multipart, JSON or raw body)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Request
from werkzeug.datastructures import FileStorage

from server.problems import N_, InputProblem

_TRUE = ("1", "true", "yes", "on")

# The refusals of a JSON body, the same on every endpoint that reads one (the third, too deep,
# is raised while parsing: server/web/security/safe_json.py).
NOT_JSON = N_("The request body is not JSON: send a JSON object with Content-Type: application/json.")
NOT_AN_OBJECT = N_('The JSON body must be an object such as {"name": value}, not an array, a string or a number.')


@dataclass(frozen=True)
class ImageUpload:
    """The photo to analyse, optional neutral references, and options."""

    image: bytes | str
    references: list[bytes | str]
    options: dict[str, Any]


def read_image_upload(request: Request) -> ImageUpload:
    """Multipart ``image`` (+ ``reference`` ...), JSON ``{"image", "reference"}``, or a raw image body."""
    mimetype = request.mimetype or ""
    if mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            raise InputProblem(
                "missing_field", "Send the photo in the multipart field 'image' (got: %(fields)s).",
                fields=sent_fields(request),
            )
        refs = [f.read() for f in request.files.getlist("reference")]
        return ImageUpload(upload.read(), refs, dict(request.form))
    if sends_json(request):
        body = json_object(request)
        if "image" not in body:
            raise InputProblem("missing_field", "The JSON body needs an 'image' field (base64 or data URL).")
        refs = body.get("reference", [])
        if isinstance(refs, str):
            refs = [refs]
        if not isinstance(body["image"], str) or not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise InputProblem(
                "bad_field_type", "'image' must be a base64 string and 'reference' a list of base64 strings."
            )
        options = {k: v for k, v in body.items() if k not in ("image", "reference")}
        return ImageUpload(body["image"], refs, options)
    data = request.get_data(cache=False)
    if not data:
        raise InputProblem("empty", "The request has no body. Send a photo in the multipart field 'image'.")
    if mimetype.startswith("image/") or mimetype == "application/octet-stream":
        return ImageUpload(data, [], {})
    raise InputProblem(
        "unsupported_media_type",
        "Send multipart/form-data, application/json or an image body, not %(sent)s.",
        sent=mimetype or "an untyped body",
    )


def sends_json(request: Request) -> bool:
    """Whether the request says its body is JSON (``application/json`` or a ``+json`` type)."""
    mimetype = request.mimetype or ""
    return mimetype == "application/json" or mimetype.endswith("+json")


def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON body as an object; anything else is a 400 saying which way it failed.

    Not JSON (broken, or not sent as JSON) is ``invalid_json``, JSON other than an object
    ``bad_json_type``; a body nested deeper than ``safe_json.MAX_JSON_DEPTH`` is refused
    ``json_too_deep`` by the app's JSON provider while it is parsed.
    """
    body = request.get_json(silent=True)  # None when the body is not JSON or not sent as JSON
    if body is None:
        raise InputProblem("invalid_json", NOT_JSON)
    if not isinstance(body, dict):
        raise InputProblem("bad_json_type", NOT_AN_OBJECT)
    return body


def read_video_upload(request: Request) -> tuple[bytes, list[bytes], dict[str, Any]]:
    """Multipart ``video`` read into memory (+ optional ``reference`` photos) and form options: the checks of
    :func:`video_upload`."""
    upload, refs, options = video_upload(request)
    return upload.read(), refs, options


def video_upload(request: Request) -> tuple[FileStorage, list[bytes], dict[str, Any]]:
    """Multipart ``video`` (its stream, not read here: it is spooled), ``reference`` photos, form options."""
    if request.mimetype != "multipart/form-data":
        if not request.content_length and not request.get_data(cache=False):
            raise InputProblem("empty", "The request has no body. Send a video in the multipart field 'video'.")
        raise InputProblem("unsupported_media_type", "Send the video as multipart/form-data in the field 'video'.")
    upload = request.files.get("video")
    if upload is None:
        raise InputProblem(
            "missing_field", "Send the video in the multipart field 'video' (got: %(fields)s).",
            fields=sent_fields(request),
        )
    refs = [f.read() for f in request.files.getlist("reference")]
    return upload, refs, dict(request.form)


def field_name(name: str | None) -> str:
    """A form field's name for a message: a multipart part without a name has the name None."""
    return name or "(unnamed)"


def sent_fields(request: Request) -> str:
    """The names of the form fields and files a request sent, for a refusal that says what arrived."""
    return ", ".join(sorted({field_name(name) for name in (*request.files, *request.form)})) or "nothing"


def option(request: Request, options: dict[str, Any], name: str) -> Any:
    """An option from the query string, else from the form / JSON body."""
    if name in request.args:
        return request.args[name]
    return options.get(name)


def flag(value: Any) -> bool:
    """A boolean option: 1/true/yes/on."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE if value is not None else False


def estimator_name(value: Any) -> str | None:
    """The ``estimator`` option: a name, or None for the server's default; anything else is a 400."""
    if value is None or isinstance(value, str):
        return value
    raise InputProblem("bad_parameter", "'estimator' must be an estimator's name (a string), e.g. \"geometry\".")


def face_index(value: Any) -> int | None:
    """The ``face`` option: which face is the patient (0 = largest), or None."""
    if value is None or value == "":
        return None
    try:
        index = int(value)
    except (TypeError, ValueError):
        raise InputProblem("bad_parameter", "'face' must be a whole number (0 = the largest face).") from None
    if index < 0:
        raise InputProblem("bad_parameter", "'face' must be 0 or more.")
    return index


def read_file_field(req: Request, name: str, max_bytes: int, label: str) -> bytes | None:
    """A multipart file, or the same name sent as a text field (``curl -F name=<file.csv``)."""
    upload = req.files.get(name)
    if upload is not None:
        return _read_capped(upload.stream, max_bytes, label)
    if name in req.form:
        data = req.form[name].encode()
        if len(data) > max_bytes:
            raise InputProblem("too_large", "%(label)s is larger than %(mb)s MB.", label=label,
                               mb=f"{max_bytes / (1024 * 1024):g}")
        return data
    return None


def _read_capped(stream: Any, max_bytes: int, label: str) -> bytes:
    data = stream.read(max_bytes + 1)  # one byte more tells an oversized file without reading all of it
    if len(data) > max_bytes:
        raise InputProblem("too_large", "%(label)s is larger than %(mb)s MB.", label=label,
                           mb=f"{max_bytes / (1024 * 1024):g}")
    return data

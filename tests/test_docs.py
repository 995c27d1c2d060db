"""The README and docs/ stay true (docs/testing.md "The docs test").

- Every relative link and image in README.md and docs/*.md names a file or folder of the
  repository, and every ``#anchor`` names a heading of the page it points into (GitHub's slugs).
- Every setting server/config.py reads (``PAINSCOPE_`` + a ``Settings`` field in upper case) is
  defined once: exactly one row of the table in docs/deployment.md "Configuration" names it in its
  first cell, and no other page has a table row that does. Prose anywhere may mention a setting.
  A row for a setting config.py does not read fails too.
- Every route and method of the OpenAPI document (/openapi.json) appears in docs/api.md as
  METHOD /path in backticks (its endpoint index).
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from server.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONFIGURATION_PAGE = ROOT / "docs" / "deployment.md"
CONFIGURATION_HEADING = "## Configuration"
API_PAGE = ROOT / "docs" / "api.md"

# [text](target) and ![alt](target), with an optional "title"; nested brackets are not used here.
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
SETTING = re.compile(r"`(PAINSCOPE_[A-Z0-9_]+)`")


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """The page's lines outside fenced code blocks, numbered from 1."""
    lines, fence = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        stripped = line.lstrip()
        marker = re.match(r"(`{3,}|~{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif stripped.startswith(fence):
                fence = None
            continue
        if fence is None:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: links and images by their text, code and emphasis marks
    dropped, lower case, punctuation removed (letters, digits, ``-`` and ``_`` kept), spaces to ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a page; a repeated slug gets -1, -2, ... as on GitHub."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for _, line in prose_lines(path):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = counts.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        counts[base] = count + 1
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link and image outside code."""
    found = []
    for number, line in prose_lines(path):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            found.append((number, match.group(1)))
    return found


def table_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line, cells) of every table row outside code, separator rows left out."""
    rows = []
    for number, line in prose_lines(path):
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-{3,}:?", cell) for cell in cells):
            continue
        rows.append((number, cells))
    return rows


def section_lines(path: Path, heading: str) -> set[int]:
    """Line numbers of a ``##`` section, up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    inside, numbers = False, set()
    for number, line in prose_lines(path):
        match = re.match(r"(#{1,6})\s", line)
        if match and inside and len(match.group(1)) <= level:
            break
        if line.strip() == heading:
            inside = True
        elif inside:
            numbers.add(number)
    return numbers


def settings_read_by_config() -> set[str]:
    """What Settings.from_env reads: PAINSCOPE_ + each field's name in upper case."""
    return {ENV_PREFIX + field.name.upper() for field in dataclasses.fields(Settings)}


def test_the_pages_exist():
    names = {page.name for page in PAGES}
    for name in ("README.md", "user-guide.md", "api.md", "deployment.md", "models.md", "validation.md",
                 "testing.md", "ARCHITECTURE.md"):
        assert name in names, f"{name} is missing"


def test_the_anchor_slugs_follow_github():
    assert slug("Heart rate from the face (rPPG)") == "heart-rate-from-the-face-rppg"
    assert slug("Clinical pain scales (PAINAD, CPOT, FLACC)") == "clinical-pain-scales-painad-cpot-flacc"
    assert slug("Live protocol (Socket.IO `/live`)") == "live-protocol-socketio-live"
    assert slug("What was tested, and how") == "what-was-tested-and-how"
    assert slug("Respiration rate: measured accuracy") == "respiration-rate-measured-accuracy"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for number, target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
            continue  # http:, https:, mailto: ...
        path_part, _, fragment = target.partition("#")
        linked = (page.parent / unquote(path_part)).resolve() if path_part else page
        where = f"{page.relative_to(ROOT)}:{number}: {target}"
        if ROOT not in linked.parents and linked != ROOT:
            broken.append(f"{where} leaves the repository")
            continue
        if not linked.exists():
            broken.append(f"{where}: no such file")
            continue
        if fragment:
            if linked.suffix != ".md":
                broken.append(f"{where}: an anchor into a file that is not a page")
            elif unquote(fragment) not in anchors(linked):
                broken.append(f"{where}: no heading #{fragment} in {linked.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


def test_every_setting_is_defined_once_in_the_configuration_table():
    settings = settings_read_by_config()
    section = section_lines(CONFIGURATION_PAGE, CONFIGURATION_HEADING)
    assert section, f"no {CONFIGURATION_HEADING!r} section in {CONFIGURATION_PAGE.relative_to(ROOT)}"
    defined: dict[str, list[str]] = {}
    for page in PAGES:
        for number, cells in table_rows(page):
            for name in SETTING.findall(cells[0]):
                in_table = page == CONFIGURATION_PAGE and number in section
                place = f"{page.relative_to(ROOT)}:{number}" + ("" if in_table else " (outside the configuration table)")
                defined.setdefault(name, []).append(place)
    problems = []
    for name in sorted(settings):
        places = defined.get(name, [])
        if len(places) != 1 or "outside" in places[0]:
            problems.append(f"{name}: defined in {places or 'no row'}; "
                            f"wanted exactly one row of {CONFIGURATION_PAGE.name} {CONFIGURATION_HEADING!r}")
    for name in sorted(set(defined) - settings):
        problems.append(f"{name}: a row in {defined[name]}, but server/config.py reads no such setting")
    assert not problems, "\n".join(problems)


def test_every_openapi_route_is_in_the_api_page(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    text = API_PAGE.read_text(encoding="utf-8")
    operations = [(method.upper(), path) for path, item in document["paths"].items()
                  for method in item if method in {"get", "put", "post", "delete", "patch", "head", "options"}]
    assert len(operations) > 30
    missing = [f"`{method} {path}`" for method, path in operations if f"`{method} {path}`" not in text]
    assert not missing, f"not in {API_PAGE.relative_to(ROOT)}: " + ", ".join(missing)

"""The layering of server/ (docs/ARCHITECTURE.md), checked by reading the source with ``ast``.

Every module under server/ belongs to a room (its folder, or for the few root
modules, its job). An import is an arrow from one room to another; the test
fails on an arrow the dependency rule does not allow and on any import cycle
among server modules.

What counts: every ``import`` and ``from ... import`` in a module, at module
level, under ``if TYPE_CHECKING:`` and inside functions alike (a type-only or a
lazy import is still a dependency, and a cycle through one is still a circle).
The one exemption is an ``if __name__ == "__main__":`` block: a module's
command-line entry point is not something other modules depend on.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parent.parent / "server"

# Root modules by job; every other module's room is its first folder under server/.
ROOT_ROOMS = {
    "server": "app",  # create_app(): wires the web layer to the services
    "server.__main__": "app",  # the command line
    "server.services": "services",  # the composition root: builds the long-lived objects
    "server.config": "base",
    "server.problems": "base",
    "server.version": "base",
}
FOLDER_ROOMS = {
    "web": "web",
    "assess": "assess",
    "store": "store",
    "migrations": "store",
    "pain": "pain",
    "vision": "vision",
    "vitals": "vitals",
    "training": "training",
}
# The analysis rooms, lowest first: vision (frames, faces, bodies) knows no vitals and no pain;
# vitals (heart rate from skin colour, ECG) may use vision's frames and faces; pain may use both.
ANALYSIS = {"vision", "vitals", "pain"}
# Which rooms each room may import (itself included where listed).
ALLOWED = {
    "base": {"base"},
    "vision": {"base", "vision"},
    "vitals": {"base", "vision", "vitals"},
    "pain": {"base", "vision", "vitals", "pain"},
    "store": {"base", "store"} | ANALYSIS,  # analysis: the Result and the pain scale it stores
    "assess": {"base", "store", "assess"} | ANALYSIS,
    "training": {"base", "assess", "training"} | ANALYSIS,  # evaluate_clips runs the upload analysis
    "services": {"base", "store", "assess", "services"} | ANALYSIS,
    "web": {"base", "store", "assess", "services", "web"} | ANALYSIS,
    "app": {"base", "store", "assess", "services", "web", "app"} | ANALYSIS,
}
# Outside libraries a room must not use: the analysis and assessment code stays pure.
WEB_LIBRARIES = {"flask", "flask_socketio", "flask_login", "flask_wtf", "marshmallow", "apispec", "prometheus_client"}
FORBIDDEN_LIBRARIES = {
    "base": WEB_LIBRARIES | {"sqlalchemy", "alembic"},
    **dict.fromkeys(ANALYSIS, WEB_LIBRARIES | {"sqlalchemy", "alembic", "werkzeug"}),
    "assess": WEB_LIBRARIES | {"werkzeug"},
    "store": WEB_LIBRARIES,
    "training": WEB_LIBRARIES | {"sqlalchemy", "alembic", "werkzeug"},
    "services": WEB_LIBRARIES,
}


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it was written."""

    source: str
    target: str  # a server module, or the top-level name of an outside library
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVER.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SERVER.rglob("*.py"))}


def room_of(module: str) -> str | None:
    if module in ROOT_ROOMS:
        return ROOT_ROOMS[module]
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in FOLDER_ROOMS):
        return FOLDER_ROOMS.get(parts[1])
    return None  # a root module without a room


def _is_main_block(node: ast.If) -> bool:
    test = node.test
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _statements(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import in the tree except those under ``if __name__ == "__main__":``."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_main_block(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The server modules and outside libraries ``module`` imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[Import] = []
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            if node.level:  # relative: from .x import y
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # "from server.store import records" imports the module server.store.records
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix for a in node.names]
        for name in names:
            if name == "server" or name.startswith("server."):
                # the longest server module the dotted name starts with
                while name not in modules and "." in name:
                    name = name.rpartition(".")[0]
                out.append(Import(module, name, node.lineno))
            else:
                out.append(Import(module, name.split(".")[0], node.lineno))
    return out


def import_graph() -> dict[str, list[Import]]:
    modules = all_modules()
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def wrong_arrows(graph: dict[str, list[Import]]) -> list[str]:
    problems = []
    for module, imports in graph.items():
        room = room_of(module)
        if room is None:
            problems.append(f"{module}: a module at the server/ root without a room")
            continue
        for imp in imports:
            if imp.target == "server" or imp.target.startswith("server."):
                target_room = room_of(imp.target)
                if target_room not in ALLOWED[room]:
                    problems.append(f"{module}:{imp.line} ({room}) imports {imp.target} ({target_room})")
            elif imp.target in FORBIDDEN_LIBRARIES.get(room, set()):
                problems.append(f"{module}:{imp.line} ({room}) imports {imp.target}")
    return problems


def cycles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), and self-imports."""
    edges = {m: sorted({i.target for i in imps if i.target in graph and i.target != m}) for m, imps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


# Blueprint modules that still import another one, each with why. Keep this list empty: what two
# blueprints share belongs in a helper module inside web/requests/ (context, inputs, uploads,
# ecg_fields, rppg_sessions, seed).
BLUEPRINT_IMPORTS_KNOWN: set[tuple[str, str]] = set()
# server.web.routes.metrics holds the Prometheus instruments; its /metrics route comes with them, and
# the recorder (record_analysis) is meant to be called from every handler.
SHARED_BLUEPRINT_MODULES = {"server.web.routes.metrics"}


def blueprint_modules() -> set[str]:
    """The modules under server/web that create a Flask Blueprint."""
    found = set()
    for module, path in all_modules().items():
        if module.startswith("server.web.") and "Blueprint(" in path.read_text():
            found.add(module)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return import_graph()


def test_the_reader_sees_the_imports(graph):
    """A guard for the checks below: the graph holds the arrows one can read in the code."""
    targets = {i.target for i in graph["server.web.routes.live"]}
    assert {"server.assess.live_session", "server.store.records", "flask"} <= targets
    assert "server.vitals.rppg" in {i.target for i in graph["server.vitals.skin"]}
    assert len(graph) > 80


def test_every_import_follows_the_dependency_rule(graph):
    """web -> services -> assess -> store -> pain -> vitals -> vision -> base, never back up; no Flask below web."""
    assert wrong_arrows(graph) == []


def test_the_analysis_rooms_import_downwards_only():
    """vision imports neither vitals nor pain, vitals does not import pain: such an arrow is reported."""
    graph = {
        "server.vision.sketch": [Import("server.vision.sketch", "server.pain.result", 3),
                                 Import("server.vision.sketch", "server.vitals.rppg", 4),
                                 Import("server.vision.sketch", "server.vision.face", 5)],
        "server.vitals.sketch": [Import("server.vitals.sketch", "server.pain.physiology.physiology", 3),
                                 Import("server.vitals.sketch", "server.vision.frames", 4)],
        "server.pain.sketch": [Import("server.pain.sketch", "server.vitals.rppg", 3),
                               Import("server.pain.sketch", "server.vision.face", 4)],
    }
    assert wrong_arrows(graph) == [
        "server.vision.sketch:3 (vision) imports server.pain.result (pain)",
        "server.vision.sketch:4 (vision) imports server.vitals.rppg (vitals)",
        "server.vitals.sketch:3 (vitals) imports server.pain.physiology.physiology (pain)",
    ]


def test_there_is_no_import_cycle(graph):
    assert cycles(graph) == []


def test_blueprints_are_siblings(graph):
    """No blueprint module imports another; the known exceptions are listed above with their reason."""
    blueprints = blueprint_modules()
    assert {"server.web.routes.api", "server.web.routes.compat_api", "server.web.routes.pages"} <= blueprints
    arrows = {
        (module, imp.target)
        for module in blueprints
        for imp in graph[module]
        if imp.target in blueprints - SHARED_BLUEPRINT_MODULES and imp.target != module
    }
    assert arrows - BLUEPRINT_IMPORTS_KNOWN == set()
    assert BLUEPRINT_IMPORTS_KNOWN - arrows == set(), "an exception is fixed: strike it from the list"


def _reads_services_of_current_app(node: ast.AST) -> bool:
    """``current_app.extensions[...]``: a request reaching the services around web.requests.context."""
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute) and node.value.attr == "extensions"
        and isinstance(node.value.value, ast.Name) and node.value.value.id == "current_app"
        and isinstance(node.slice, ast.Constant) and node.slice.value == "painscope"
    )


def test_one_services_accessor():
    """A request reaches the services through server.web.requests.context alone: no helper of its own, and no
    ``current_app.extensions["painscope"]`` anywhere else (set-up code given the app may read it)."""
    copies = []
    for module, path in all_modules().items():
        tree = ast.parse(path.read_text())
        copies += [
            f"{module}.{node.name}" for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name == "_services"
        ]
        if module != "server.web.requests.context":
            copies += [f"{module}:{node.lineno}" for node in ast.walk(tree) if _reads_services_of_current_app(node)]
    assert copies == []


# Inside pain/ and web/: rooms by job, each importing only itself and the rooms listed before it (lowest
# first). A sub-package is a room of its own (its folder's name); a module at pain/'s root belongs to the tier
# PAIN_ROOT names (the estimator protocol reads the face's NeutralBaseline, so it stands above face/; the
# registry imports every estimator, so it stands on top). A module at a root without a tier fails, as at server/'s.
PAIN_ORDER = ["reading", "clinical", "face", "protocol", "facs", "physiology", "models", "registry"]
PAIN_ROOT = {
    "server.pain": "reading",
    "server.pain.scale": "reading",
    "server.pain.estimate": "reading",
    "server.pain.result": "reading",
    "server.pain.verdict": "reading",
    "server.pain.smoothing": "reading",
    "server.pain.estimator": "protocol",
    "server.pain.registry": "registry",
}
# schemas: the OpenAPI shapes; requests: what handlers read and share; security: who may, and how much;
# routes: the blueprints and Socket.IO namespaces.
WEB_ORDER = ["root", "schemas", "requests", "security", "routes"]
WEB_ROOT = {"server.web": "root"}
INNER_ROOMS = {"server.pain": (PAIN_ORDER, PAIN_ROOT), "server.web": (WEB_ORDER, WEB_ROOT)}


def inner_room(module: str) -> tuple[str, str] | None:
    """(package, room) of a module under server/pain or server/web; None elsewhere; room "?" when unplaced."""
    for package, (order, root) in INNER_ROOMS.items():
        if module == package or module.startswith(package + "."):
            if module in root:
                return package, root[module]
            rest = module[len(package) + 1:].split(".")
            room = rest[0] if len(rest) > 1 or rest[0] in order else "?"
            return package, room if room in order else "?"
    return None


def wrong_inner_arrows(graph: dict[str, list[Import]]) -> list[str]:
    problems = []
    for module, imports in graph.items():
        placed = inner_room(module)
        if placed is None:
            continue
        package, room = placed
        order = INNER_ROOMS[package][0]
        if room == "?":
            problems.append(f"{module}: a module of {package} without a room")
            continue
        for imp in imports:
            target = inner_room(imp.target)
            if target is None or target[0] != package:
                continue
            if target[1] == "?" or order.index(target[1]) > order.index(room):
                problems.append(f"{module}:{imp.line} ({room}) imports {imp.target} ({target[1]})")
    return problems


def test_pain_and_web_rooms_import_downwards_only(graph):
    """pain: reading -> clinical -> face -> protocol -> facs -> physiology -> models -> registry;
    web: schemas -> requests -> security -> routes; never back up, and no module outside a room."""
    assert wrong_inner_arrows(graph) == []
    placed = {inner_room(module) for module in graph} - {None}
    assert {room for package, room in placed if package == "server.pain"} == set(PAIN_ORDER)
    assert {room for package, room in placed if package == "server.web"} == set(WEB_ORDER)


def test_an_upward_arrow_inside_pain_or_web_is_reported():
    graph = {
        "server.pain.face.sketch": [Import("server.pain.face.sketch", "server.pain.models.resnet", 3),
                                    Import("server.pain.face.sketch", "server.pain.estimator", 4),
                                    Import("server.pain.face.sketch", "server.pain.scale", 5)],
        "server.pain.sketch": [Import("server.pain.sketch", "server.pain.scale", 3)],
        "server.web.security.sketch": [Import("server.web.security.sketch", "server.web.routes.api", 3),
                                       Import("server.web.security.sketch", "server.web.requests.errors", 4)],
        "server.web.sketch": [],
    }
    assert wrong_inner_arrows(graph) == [
        "server.pain.face.sketch:3 (face) imports server.pain.models.resnet (models)",
        "server.pain.face.sketch:4 (face) imports server.pain.estimator (protocol)",
        "server.pain.sketch: a module of server.pain without a room",
        "server.web.security.sketch:3 (security) imports server.web.routes.api (routes)",
        "server.web.sketch: a module of server.web without a room",
    ]

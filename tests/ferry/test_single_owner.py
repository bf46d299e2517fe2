"""Rules with one owner: the scan tag names, the pending statuses and the stable link's format are each
written once, in their core module, and nowhere else in product code (a grep over the source tree)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ferry import links, models, objects
from ferry.config import PROJECT_ROOT
from ferry.models import PENDING_STATUSES
from ferry.objects import ScanTag

PRODUCT = ("ferry", "uploader", "viewer", "scanner", "authorizer", "genesys", "devstack")
# The path segment "/files" of the stable link (and of the QA list and the API), not "viewer/files.html".
LINK = re.compile(r"/files(?![\w.])")

Finder = Callable[[ast.AST], list[str]]


def product_files(*suffixes: str) -> Iterator[Path]:
    for package in PRODUCT:
        for path in sorted((PROJECT_ROOT / package).rglob("*")):
            if path.suffix in suffixes and path.is_file():
                yield path


def string_literals(tree: ast.AST) -> Iterator[ast.Constant]:
    """Every string constant in code (f-string pieces included), docstrings left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


def tag_names(tree: ast.AST) -> list[str]:
    """Scan tag names written as strings."""
    names = {tag.value for tag in ScanTag}
    return [f"{node.lineno}: {node.value}" for node in string_literals(tree) if node.value in names]


def pending_sets(tree: ast.AST) -> list[str]:
    """Tuples, lists and sets of exactly the pending AttachmentStatus members."""
    pending = {status.name for status in PENDING_STATUSES}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) == len(pending):
            members = {
                e.attr
                for e in node.elts
                if isinstance(e, ast.Attribute)
                and isinstance(e.value, ast.Name)
                and e.value.id == "AttachmentStatus"
            }
            if members == pending:
                found.append(f"{node.lineno}: pending statuses")
    return found


def link_paths(tree: ast.AST) -> list[str]:
    """Strings that spell the stable link's path."""
    return [f"{node.lineno}: {node.value!r}" for node in string_literals(tree) if LINK.search(node.value)]


def copies(find: Finder, owner: Path) -> dict[str, list[str]]:
    """What `find` sees in each product module but its owner."""
    found = {}
    for path in product_files(".py"):
        hits = find(ast.parse(path.read_text(), str(path)))
        if hits and path != owner:
            found[str(path.relative_to(PROJECT_ROOT))] = hits
    return found


def module_path(module: object) -> Path:
    return Path(str(getattr(module, "__file__", "")))


@pytest.mark.parametrize(
    ("find", "module"),
    [(tag_names, objects), (pending_sets, models), (link_paths, links)],
    ids=["scan tag names: ferry/objects.py", "pending statuses: ferry/models.py", "link: ferry/links.py"],
)
def test_each_rule_is_written_only_by_its_owner(find: Finder, module: object) -> None:
    owner = module_path(module)
    assert find(ast.parse(owner.read_text())), "the owner defines it"
    assert copies(find, owner) == {}


def test_no_page_or_script_spells_the_link() -> None:
    """Templates build links with url_for, scripts get them from the API."""
    spelled = [
        str(p.relative_to(PROJECT_ROOT)) for p in product_files(".html", ".js") if LINK.search(p.read_text())
    ]
    assert spelled == []


def test_the_finders_see_a_copy() -> None:
    copy = ast.parse(
        '"""A module that mentions scan-status and /files/<id> in its docstring only."""\n'
        'TAGS = {"scan-status": "clean"}\n'
        "WAITING = (AttachmentStatus.SCANNING, AttachmentStatus.CREATED, AttachmentStatus.UPLOADED)\n"
        'LINK = f"{base}/files/{attachment_id}"\n'
        'TEMPLATE = "viewer/files.html"\n'
        "CLAIMABLE = [AttachmentStatus.CREATED, AttachmentStatus.UPLOADED]\n"
    )
    assert tag_names(copy) == ["2: scan-status"]
    assert pending_sets(copy) == ["3: pending statuses"]
    assert link_paths(copy) == ["4: '/files/'"]

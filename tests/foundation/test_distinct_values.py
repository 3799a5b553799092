"""Every distinct-values query in the code base is order-independent.

`Model.objects.values_list("field").distinct()` on a model whose Meta.ordering names other columns
runs `SELECT DISTINCT field, ordering columns`: one row per product instead of one per category
(issue #16: the sampling form listed 321 category checkboxes). Each such chain must say its own
order (`.order_by(...)`, empty for none) before it asks for distinct values."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("fashionsite", "catalogue", "embeddings", "search", "surveys", "benchmarks")


def _chain(node: ast.AST) -> list[str]:
    """Method names called along a queryset chain, innermost first."""
    names = []
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        names.append(node.func.attr)
        node = node.func.value
    return list(reversed(names))


def distinct_value_queries() -> list[tuple[str, int, list[str]]]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "distinct"
                ):
                    chain = _chain(node)
                    if {"values", "values_list"} & set(chain):
                        found.append((str(path.relative_to(ROOT)), node.lineno, chain))
    return found


def test_the_scan_finds_the_distinct_value_queries():
    # The scan itself must see the known queries, or the rule below would pass vacuously.
    places = {path for path, _line, _chain in distinct_value_queries()}
    assert {"catalogue/selectors.py", "surveys/selectors.py", "surveys/report.py"} <= places


def test_every_distinct_values_query_sets_its_own_order():
    unordered = [
        f"{path}:{line} {'.'.join(chain)}"
        for path, line, chain in distinct_value_queries()
        if "order_by" not in chain[: chain.index("distinct")]
    ]
    assert unordered == [], "distinct values without .order_by(): " + "; ".join(unordered)

"""Qrels and runs as files: TREC text (trec_eval, ir-measures, ranx read it) and ranx's JSON.

- qrels: one line per judged (query, product): `query_id 0 product_id grade`;
- run: one line per shown product: `query_id Q0 product_id rank score tag`, rank from 1, in the
  order shown (a score that does not follow the order is replaced by one that does, since every
  TREC tool re-sorts by score);
- JSON: `{query_id: {product_id: grade or score}}`, what `ranx.Qrels.from_file(path)` /
  `ranx.Run.from_file(path)` load.
"""

from __future__ import annotations

import json
import re

_TOKEN = re.compile(r"^\S+$")


def _token(value, what: str) -> str:
    text = str(value)
    if not _TOKEN.match(text):
        raise ValueError(f"A TREC {what} cannot be empty or contain whitespace: {text!r}.")
    return text


def qrels_trec(qrels: dict) -> str:
    """TREC qrels text of `{query id: {product id: grade}}` (queries and products in id order as given)."""
    lines = []
    for qid, judged in qrels.items():
        for doc, grade in judged.items():
            lines.append(f"{_token(qid, 'query id')} 0 {_token(doc, 'product id')} {int(grade)}")
    return "\n".join(lines) + ("\n" if lines else "")


def ranked_scores(ranking: list[tuple[object, float]]) -> list[tuple[object, int, float]]:
    """(product, rank, score) for a shown ranking of (product, score); scores made strictly
    decreasing where the shown order disagrees with them, so any tool re-sorting by score keeps it."""
    rows, previous = [], None
    for rank, (doc, score) in enumerate(ranking, start=1):
        score = float(score)
        if previous is not None and score >= previous:
            score = previous - 1e-6
        rows.append((doc, rank, score))
        previous = score
    return rows


def run_trec(run: dict[object, list[tuple[object, float]]], *, tag: str) -> str:
    """TREC run text of `{query id: [(product id, score), ...] in shown order}` for one arm."""
    lines = []
    for qid, ranking in run.items():
        for doc, rank, score in ranked_scores(ranking):
            lines.append(
                f"{_token(qid, 'query id')} Q0 {_token(doc, 'product id')} {rank} {score!r} {_token(tag, 'run tag')}"
            )
    return "\n".join(lines) + ("\n" if lines else "")


def run_dict(run: dict[object, list[tuple[object, float]]]) -> dict[str, dict[str, float]]:
    """The ranx form of a shown run: `{query id: {product id: score}}` with scores that keep the order."""
    return {
        str(qid): {str(doc): score for doc, _rank, score in ranked_scores(ranking)}
        for qid, ranking in run.items()
    }


def ranx_json(mapping: dict) -> str:
    """ranx's JSON for qrels (`{q: {d: grade}}`) or a run in its ranx form (see run_dict)."""
    return json.dumps({str(q): {str(d): v for d, v in docs.items()} for q, docs in mapping.items()}, indent=1)

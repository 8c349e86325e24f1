"""How alike two task kinds are: trigram similarity, as PostgreSQL's ``pg_trgm`` computes it.

The server borrows estimates between similar kinds with ``pg_trgm``; the board uses the
same measure to merge the all-day counts and to group similar pending work, so the two
agree on what "similar" means. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

SIMILAR = 0.5
"""Kinds at least this similar are treated as one in all-day counts and batches."""

_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=4096)
def trigrams(text: str) -> frozenset[str]:
    """pg_trgm's trigrams: each word lower-cased, padded with two spaces before and one
    after, cut into every run of three characters."""
    grams: set[str] = set()
    for word in _WORD.findall(text.casefold()):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(grams)


def similarity(a: str, b: str) -> float:
    """Shared trigrams over all trigrams (0 = nothing in common, 1 = the same)."""
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 1.0 if a == b else 0.0
    return len(ta & tb) / len(ta | tb)


def group_similar(keys: Iterable[str], threshold: float = SIMILAR) -> list[list[str]]:
    """Keys in groups of similar ones (each joins the first group whose first key it is
    similar to), in first-seen order. Deterministic for a given input order."""
    groups: list[list[str]] = []
    for key in keys:
        for group in groups:
            if key == group[0] or similarity(key, group[0]) >= threshold:
                group.append(key)
                break
        else:
            groups.append([key])
    return groups


def most_similar(key: str, others: Sequence[str], threshold: float = SIMILAR) -> list[str]:
    """``others`` at least ``threshold`` similar to ``key``, most similar first."""
    scored = [(similarity(key, o), o) for o in others if o != key]
    return [o for s, o in sorted(scored, key=lambda x: (-x[0], x[1])) if s >= threshold]

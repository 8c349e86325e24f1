"""Filter values as REST and Realtime share them (one `in.(…)` grammar), Realtime's typed
filters, and the text → JSON values of change payloads. No database."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from caterking_server.catalog import PgType
from caterking_server.filter_grammar import GrammarError, parse_in_list, split_top, unquote
from caterking_server.realtime.pgoutput import UNCHANGED
from caterking_server.realtime.postgres_changes.filters import (
    NO_VALUE,
    FilterError,
    split_filter,
    typed_filter,
    typed_value,
)
from caterking_server.realtime.postgres_changes.values import converter


@pytest.mark.parametrize(
    ("raw", "values"),
    [
        ("(a,b)", ["a", "b"]),
        ("( a , b )", ["a", "b"]),
        ('("a,b",c)', ["a,b", "c"]),
        ('("say \\"hi\\"",x)', ['say "hi"', "x"]),
        ('(" padded ")', [" padded "]),
        ("()", []),
        ("( )", []),
        ("(f(x),y)", ["f(x)", "y"]),
    ],
)
def test_in_lists(raw: str, values: list[str]) -> None:
    assert parse_in_list(raw) == values


@pytest.mark.parametrize("raw", ["a,b", "(a,b", '("a,b)', "(a))"])
def test_bad_in_lists(raw: str) -> None:
    with pytest.raises(GrammarError):
        parse_in_list(raw)


def test_in_lists_may_be_capped() -> None:
    assert len(parse_in_list("(" + ",".join("x" * 100) + ")", most=100)) == 100
    with pytest.raises(GrammarError) as err:
        parse_in_list("(" + ",".join("x" * 101) + ")", most=100)
    assert err.value.details == "in. takes at most 100 values"


def test_split_top_and_unquote() -> None:
    assert split_top('a,or(b,c),"d,e"') == ["a", "or(b,c)", '"d,e"']
    assert unquote('"a\\\\b"') == "a\\b" and unquote("plain") == "plain"


def test_realtime_filters_are_typed_by_column() -> None:
    f = typed_filter("priority", "gt", "1", "int4")
    assert f.values == [Decimal(1)]
    assert f.matches_typed(typed_value(f.key, "2"))
    assert not f.matches_typed(typed_value(f.key, "1"))
    # NULL, an unchanged TOAST value and text that is no number match nothing.
    for text in (None, UNCHANGED, "many"):
        assert typed_value(f.key, text) is NO_VALUE
        assert not f.matches_typed(typed_value(f.key, text))
    kid = uuid.uuid4()
    f = typed_filter("kitchen_id", "in", f"({kid},{uuid.uuid4()})", "uuid")
    assert f.matches_typed(typed_value(f.key, str(kid).upper()))
    f = typed_filter("status", "in", '(pending,"claimed")', "text")
    assert f.values == ["pending", "claimed"]
    assert not typed_filter("status", "in", "()", "text").matches_typed("pending")


@pytest.mark.parametrize(
    ("column", "op", "value", "typname"),
    [
        ("kitchen_id", "eq", "not-a-uuid", "uuid"),
        ("priority", "eq", "sNaN", "numeric"),
        ("status", "in", "pending,claimed", "text"),
        ("status", "in", "(" + ",".join("x" * 101) + ")", "text"),
    ],
)
def test_realtime_filter_values_that_do_not_parse(
    column: str, op: str, value: str, typname: str
) -> None:
    with pytest.raises(FilterError) as err:
        typed_filter(column, op, value, typname)
    assert str(err.value).startswith("Error parsing `filter` params: ")


def test_realtime_filter_syntax() -> None:
    assert split_filter("kitchen_id=eq.a=b") == ("kitchen_id", "eq", "a=b")
    with pytest.raises(FilterError) as err:
        split_filter("title=like.x*")
    assert str(err.value) == 'Error parsing `filter` params: ["title", "like.x*"]'


@pytest.mark.parametrize(
    ("typ", "text", "value"),
    [
        (PgType(23, "int4", None), "42", 42),
        (PgType(1700, "numeric", None), "1.50", 1.5),
        (PgType(1700, "numeric", None), "NaN", "NaN"),
        (PgType(16, "bool", None), "t", True),
        (PgType(3802, "jsonb", None), '{"a": [1]}', {"a": [1]}),
        (PgType(1184, "timestamptz", None), "2030-01-01 10:00:00+00", "2030-01-01T10:00:00+00:00"),
        (PgType(1114, "timestamp", None), "2030-01-01 10:00:00", "2030-01-01T10:00:00"),
        (PgType(25, "text", None), "plain", "plain"),
        (PgType(1007, "_int4", "int4"), "{1,NULL,3}", [1, None, 3]),
        (PgType(1009, "_text", "text"), '{"a,b",c}', ["a,b", "c"]),
        (PgType(1009, "_text", "text"), "{{a},{b}}", [["a"], ["b"]]),
    ],
)
def test_change_values_as_json(typ: PgType, text: str, value: object) -> None:
    assert converter(typ)(text) == value

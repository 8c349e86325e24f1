"""PostgREST's filter-value grammar, shared by REST (`?col=in.(a,b)`, `or=(…)`) and
Realtime (`filter: "col=in.(a,b)"`): lists split on commas outside parentheses and
double quotes, double-quoted items with backslash escapes."""

from __future__ import annotations

import re


class GrammarError(ValueError):
    """Text that does not parse; `message` and `details` as PostgREST words them."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses and double quotes (backslash escapes)."""
    out: list[str] = []
    buf: list[str] = []
    depth = 0
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            buf.append(ch)
            if ch == "\\" and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            buf.append(ch)
        elif ch == "(":
            depth += 1
            buf.append(ch)
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise GrammarError(f'"failed to parse" unbalanced parentheses in {text!r}')
            buf.append(ch)
        elif ch == sep and depth == 0:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if quoted or depth != 0:
        raise GrammarError(f"failed to parse {text!r}", "unbalanced quotes or parentheses")
    out.append("".join(buf))
    return out


def unquote(value: str) -> str:
    """`"a \\"b\\""` → `a "b"`; anything not double-quoted as it is."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        return re.sub(r"\\(.)", r"\1", inner)
    return value


def parse_in_list(raw: str, *, most: int | None = None) -> list[str]:
    """The values of `in.(a,"b,c")` (`raw` is the part after `in.`): `()` is no value.
    GrammarError if it is not a list in parentheses, or has more than `most` values."""
    if not (raw.startswith("(") and raw.endswith(")")):
        raise GrammarError(
            f'"failed to parse filter (in.{raw})"', "in. needs a list in parentheses: in.(a,b)"
        )
    inner = raw[1:-1]
    if inner.strip() == "":
        return []
    values = [unquote(v.strip()) for v in split_top(inner)]
    if most is not None and len(values) > most:
        raise GrammarError(
            f'"failed to parse filter (in.{raw[:40]}…)"', f"in. takes at most {most} values"
        )
    return values

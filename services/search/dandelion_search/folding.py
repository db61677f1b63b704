"""Accent and case folding of searchable text, done in Python on both sides of the index.

The OpenSearch distribution we test against has no analysis-common module (no `asciifolding`
filter, no `english` analyser) and PostgreSQL's `unaccent` is an extension we would have to
install; folding here gives both backends the very same tokens: NFKD, drop combining marks,
casefold, and split on anything that is not a letter or digit (so "Buzsáki" == "buzsaki" and
"sub-01_ses-2.nwb" is the words "sub 01 ses 2 nwb" whatever the engine's tokenizer thinks).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Letters and digits only: underscores split too, as PostgreSQL's parser splits them.
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The folded words of `text`."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(stripped.casefold())


def fold(parts: Iterable[str | None]) -> str:
    """The folded words of all `parts`, space-separated (what the engines tokenise)."""
    return " ".join(w for part in parts if part for w in words(part))

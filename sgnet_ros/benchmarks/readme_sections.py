"""Generated sections of the README, between `<!-- NAME:start -->` and `<!-- NAME:end -->`.

The parameter table and the performance table are produced by code (the schema, the
benchmark), so the README is rewritten from them rather than edited by hand.
"""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(path: Path, name: str, content: str) -> None:
    """Put `content` between the NAME markers of the file at `path`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no '{start}' ... '{end}' section")
    pattern = re.escape(start) + ".*?" + re.escape(end)
    path.write_text(re.sub(pattern, lambda _: f"{start}\n{content}\n{end}", text,
                           flags=re.DOTALL))

"""When two scripts are the same: as Python reads them, so comments, blank lines and layout do not
count. The execution cache reuses a result by this key, and the offline coder avoids proposing a
script whose key the run has already tried."""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache


@lru_cache(maxsize=4096)
def script_key(code: str) -> str:
    """A hash of the script as `ast` parses and unparses it; a script that does not parse counts by
    its stripped, non-blank lines."""
    try:
        normal = ast.unparse(ast.parse(code))
    except (SyntaxError, ValueError, RecursionError):
        normal = "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip())
    return hashlib.sha256(normal.encode()).hexdigest()

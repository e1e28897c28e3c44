"""A benchmark's scratch folder: its databases, request files and server logs."""

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_folder(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """A new folder, removed when the benchmark ends: a run of the API's leaves ~100 MB of databases behind. One that
    fails keeps it, and names it, for its servers' logs."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield folder
    except BaseException:
        print(f"the run's databases and server logs are kept in {folder}", file=sys.stderr)
        raise
    shutil.rmtree(folder, ignore_errors=True)

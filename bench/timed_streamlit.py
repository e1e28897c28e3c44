"""`streamlit` with a timer on every script run, for the benchmarks: `python bench/timed_streamlit.py run APP ...`.

Each run's server time (the script, then Streamlit's own clean-up after it) is appended to the file named by
`BENCH_RUN_LOG` as `fragment <ms>` or `full <ms>`: what the server spends, without the browser's share.
"""

import os
import sys
import time

from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
from streamlit.web.cli import main

_run_script = ScriptRunner._run_script


def _timed_run_script(self, rerun_data):
    started = time.perf_counter()
    try:
        _run_script(self, rerun_data)
    finally:
        kind = "fragment" if rerun_data.fragment_id_queue else "full"
        with open(os.environ["BENCH_RUN_LOG"], "a") as log:
            log.write(f"{kind} {(time.perf_counter() - started) * 1000:.2f}\n")


ScriptRunner._run_script = _timed_run_script

if __name__ == "__main__":
    sys.exit(main())

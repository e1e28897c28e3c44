"""Keep Streamlit's garbage collection after every script run cheap.

Streamlit runs a full `gc.collect(2)` when each script run ends (`runner.postScriptGC`), before the browser hears
that the run is over. A full collection walks every object the process holds: here Streamlit, pydantic, SQLAlchemy
and the engine, some 100,000 objects, about 60 ms a click, more than the run itself. Nearly all of them are module
state that lives as long as the process, so they are moved out of the collector's sight with `gc.freeze()`.
Frozen objects are still freed by reference counting; only a reference cycle among them would outlive its use.
"""

import sys

from ticketing.heap import freeze_what_start_built

_modules_at_last_freeze = 0


def freeze_loaded_modules() -> None:
    """At the end of a run: if modules were loaded since the last freeze (a first run, a first visit to a page that
    imports more), collect once and freeze what is alive. Runs that load nothing new cost one comparison."""
    global _modules_at_last_freeze
    if len(sys.modules) == _modules_at_last_freeze:
        return
    _modules_at_last_freeze = len(sys.modules)
    freeze_what_start_built()

"""The engine's app made with settings of its own (its database in `OWN_DB`), not the environment's, for
`tests/test_shared_sale_writer.py`: `python -m ticketing.serve --app tests.own_settings_app:app`."""

import os

from ticketing.api import create_app
from ticketing.settings import Settings

app = create_app(Settings(database=os.environ["OWN_DB"], simulator=False))

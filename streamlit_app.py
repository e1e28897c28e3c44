"""The jackpot terminal: `streamlit run streamlit_app.py`.

The body is `terminal_ui/app.py`: an imported module is compiled once per process, while Streamlit's AppTest
compiles the entry script on every run, even a run of another page."""

from terminal_ui.app import run_app

run_app()

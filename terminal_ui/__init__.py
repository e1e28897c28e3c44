"""Streamlit-side helpers shared by the pages: the engine connection, the sidebar, markdown escaping, the receipt."""

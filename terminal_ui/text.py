"""Show untrusted text (team names, messages) as text: Streamlit renders labels and st.markdown as Markdown."""

import re

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def md_escape(text: str) -> str:
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))


def format_countdown(seconds: float) -> str:
    """`2 d 04:05:09`, `04:05:09`, or `closed`."""
    if seconds <= 0:
        return "closed"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days} d {clock}" if days else clock

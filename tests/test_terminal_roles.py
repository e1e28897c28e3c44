"""The roles inside the terminal (embedded mode, under AppTest): the sell page acts as the till; coupon QA publishes
only as an admin, once that credential is configured or entered; the sidebar says who acts; secrets never show."""

from streamlit.testing.v1 import AppTest

from tests.support import APP
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET, DEMO_FEED_KEY_ID, DEMO_FEED_SECRET


def qa_page_with_a_good_sample() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/coupon_qa.py").run()
    at.selectbox(key="sample").select("good_coupon.json").run()
    return at


def sign_in(at: AppTest, key_id: str, secret: str) -> AppTest:
    at.text_input(key="admin_key_id").input(key_id)
    at.text_input(key="admin_secret").input(secret)
    next(b for b in at.button if b.label == "Sign in as admin").click()
    return at.run()


def everything_shown(at: AppTest) -> str:
    elements = [*at.markdown, *at.caption, *at.error, *at.success, *at.sidebar.markdown, *at.text_input]
    return " ".join(str(element.value) for element in elements)


def sidebar(at: AppTest) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


def sidebar_seen_from_qa(at: AppTest) -> str:
    """The sidebar is drawn by the entry script, which AppTest does not run for a switched-to page."""
    at.switch_page("streamlit_app.py").run()
    text = sidebar(at)
    at.switch_page("pages/coupon_qa.py").run()
    return text


def test_the_sidebar_says_the_till_acts_and_no_admin_is_signed_in(shop):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "**Till:** site's Betstack key" in sidebar(at)
    assert "**Admin:** not signed in" in sidebar(at)


def test_coupon_qa_publishes_only_after_an_admin_signs_in(shop):
    at = qa_page_with_a_good_sample()
    assert "save_draft" not in [b.key for b in at.button]
    assert any("Admin credential needed" in m.value for m in at.markdown)

    sign_in(at, DEMO_FEED_KEY_ID, DEMO_FEED_SECRET)
    assert any("is a feed credential" in e.value for e in at.error)
    assert at.text_input(key="admin_secret").value == "", "a refused secret is not kept, nor sent back to the page"
    assert DEMO_FEED_SECRET not in repr(at.session_state.to_dict())
    sign_in(at, DEMO_ADMIN_KEY_ID, "not-the-secret")
    assert any("Wrong secret for site-admin" in e.value for e in at.error)
    assert "save_draft" not in [b.key for b in at.button]

    sign_in(at, DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET)
    assert not at.exception
    assert any("Acting as admin: site\\-admin" in c.value for c in at.caption)
    assert "**Admin:** site\\-admin" in sidebar_seen_from_qa(at)
    at.selectbox(key="sample").select("good_coupon.json").run()
    for key in ("save_draft", "qa_publish", "qa_publish_confirm"):
        at.button(key=key).click().run()
    assert any("JP\\-2099\\-20 is on sale" in s.value for s in at.success)
    for secret in (DEMO_ADMIN_SECRET, DEMO_FEED_SECRET):
        assert secret not in everything_shown(at)
        assert secret not in repr(at.session_state.to_dict())

    at.button(key="admin_sign_out").click().run()
    assert "save_draft" not in [b.key for b in at.button] and "**Admin:** not signed in" in sidebar_seen_from_qa(at)


def test_a_configured_admin_acts_without_signing_in(shop, monkeypatch):
    monkeypatch.setenv("TICKETING_ADMIN_KEY_ID", DEMO_ADMIN_KEY_ID)
    monkeypatch.setenv("TICKETING_ADMIN_SECRET", DEMO_ADMIN_SECRET)
    at = qa_page_with_a_good_sample()
    assert not at.exception
    assert "save_draft" in [b.key for b in at.button]
    assert "**Admin:** site\\-admin" in sidebar_seen_from_qa(at)
    assert DEMO_ADMIN_SECRET not in everything_shown(at)


def test_a_wrong_configured_admin_is_said_plainly_and_gives_no_admin(shop, monkeypatch):
    monkeypatch.setenv("TICKETING_ADMIN_KEY_ID", DEMO_ADMIN_KEY_ID)
    monkeypatch.setenv("TICKETING_ADMIN_SECRET", "stale-secret")
    at = qa_page_with_a_good_sample()
    assert "save_draft" not in [b.key for b in at.button]
    assert any("configured admin credential was refused" in e.value for e in at.error)
    assert "stale-secret" not in everything_shown(at)

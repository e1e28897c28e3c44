"""A click on a toggle taken once, though Streamlit's page can send it twice (`terminal_ui/clicks.py`)."""

from terminal_ui.clicks import REPEATED_CLICK_SECONDS, RepeatedClicks
from terminal_ui.drafts import Draft

JUST_UNDER = REPEATED_CLICK_SECONDS - 0.01


def test_the_same_button_within_the_time_is_the_same_click_and_another_button_is_a_new_one():
    clicks = RepeatedClicks()
    assert clicks.take("a", now=100.0)
    assert not clicks.take("a", now=100.0 + JUST_UNDER)
    assert clicks.take("b", now=100.1)
    assert clicks.take("a", now=100.2)
    assert clicks.take("a", now=100.2 + REPEATED_CLICK_SECONDS)


def test_the_time_counts_from_the_first_draw_that_showed_the_click():
    clicks = RepeatedClicks()
    assert clicks.take("a", now=100.0)
    clicks.shown(now=103.0)  # a run that took three seconds
    clicks.shown(now=105.0)  # later refreshes change nothing
    assert not clicks.take("a", now=103.0 + JUST_UNDER)
    assert clicks.take("a", now=103.0 + REPEATED_CLICK_SECONDS)


def test_toggles_set_another_way_make_the_next_click_a_new_one():
    clicks = RepeatedClicks()
    assert clicks.take("a", now=100.0)
    clicks.forget()
    assert clicks.take("a", now=100.1)


def test_a_drafts_pick_toggles_once_a_click_and_its_picks_replaced_forget_the_click():
    slip = Draft(id="d")
    assert slip.toggle_pick(1, 101, now=100.0) and slip.picks == {1: 101}
    assert not slip.toggle_pick(1, 101, now=100.0 + JUST_UNDER) and slip.picks == {1: 101}
    assert slip.toggle_pick(1, 101, now=100.0 + REPEATED_CLICK_SECONDS) and slip.picks == {}
    slip.replace_picks({})  # Clear, a pick string, a quick pick, a new slip
    assert slip.toggle_pick(1, 101, now=100.6) and slip.picks == {1: 101}

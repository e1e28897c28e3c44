"""The till's keyboard and the page's compact layout: one small v2 component in the page's own document.

Streamlit has no focus API, and a button that changes kind (a pick turning green) is drawn anew, which drops the
focus to the page body. This script, installed once per page load, gives the cashier:
- the cursor where the next keystroke belongs: the pick field on load and after a sale, the stake as soon as
  Enter sends a pick string of the right length (the server names its targets with a sequence number, `focus`);
- a numeric keypad in the grid: on a focused pick, 1, X or 0, and 2 pick that event and move to the next one;
  the arrows move between picks; ArrowDown from the pick field enters the grid; a pick made with Space or Enter
  keeps the focus;
- Ctrl+Enter: the field being typed in is applied first, then the server is asked to sell if it can or to say
  what is missing (`sell_key`): never the slip as it was before the last keystrokes, never nothing at all (a
  press the page does not show taken is sent again, and taken once);
- Alt+P prints the receipt on screen.
The stylesheet makes the sell page fit a 1366x768 till: a compact grid, the slip held in view while the grid
scrolls, fixture names cut with an ellipsis instead of wrapping a letter a line at 1024 px.
"""

from collections.abc import Callable

import streamlit as st

PAGE_CSS = """
[data-testid="stMainBlockContainer"] { padding-top: 3.2rem; padding-bottom: 2rem; }
.st-key-grid-picks > [data-testid="stLayoutWrapper"], .jp-fixture { height: 2.05rem; flex: none; }
.st-key-grid-picks [data-testid="stHorizontalBlock"] { height: 100%; }
.st-key-grid-picks .stButton button { min-height: 1.85rem; padding: 0 0.3rem; }
.st-key-grid [data-testid="stHtml"] { min-width: 0; }
.st-key-grid > [data-testid="stElementContainer"] { min-width: 13rem; flex: 1 1 13rem; }
.jp-fixture { line-height: 2.05rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.jp-teams { font-weight: 600; }
.jp-when { color: rgba(19, 32, 26, 0.6); }
.jp-badge { background: #f6a821; color: #13201a; border-radius: 0.25rem; padding: 0 0.3rem; font-size: 0.8rem;
  text-transform: uppercase; }
.st-key-quick_pick [aria-label^="Shortcut"], .st-key-clear [aria-label^="Shortcut"],
.st-key-show_token [aria-label^="Shortcut"] { display: none; }
.st-key-slip-summary { position: sticky; top: 3.9rem; align-self: flex-start; }
.jp-slip { border-collapse: collapse; margin-bottom: 0.5rem; }
.jp-slip th, .jp-slip td { border: 1px solid rgba(49, 51, 63, 0.1); padding: 0.15rem 0.5rem; }
.jp-slip th { font-weight: 600; text-align: left; }
.jp-slip th:last-child, .jp-slip td:last-child { text-align: right; }
.jp-slip code { font-family: "Source Code Pro", monospace; font-size: 0.8rem; padding: 0.1rem 0.25rem;
  border-radius: 0.25rem; background: rgba(49, 51, 63, 0.05); }
.jp-net { font-size: 1.5rem; font-weight: 700; line-height: 1.2; padding: 0.2rem 0 0.4rem; }
.jp-note { color: rgba(49, 51, 63, 0.6); }
.jp-problem { color: #ff2b2b; }
/* ▲/▼ of a chosen pick: white on its green (the theme's green and red would be 1.3-1.5:1 there); the shape says
   which way the odds moved. */
.st-key-grid-picks button[data-testid="stBaseButton-primary"]:not(:disabled) span { color: #fff !important; }
/* A chosen pick that can no longer change (a closed coupon, a suspended event) stays legible and marked: Streamlit
   draws a disabled button pale, where white text vanished. */
.st-key-grid-picks button[data-testid="stBaseButton-primary"]:disabled { border: 2px solid #0b7a3e; }
.st-key-grid-picks button[data-testid="stBaseButton-primary"]:disabled span { color: #0b7a3e !important;
  font-weight: 600; }
"""

KEYS_JS = """
const TARGETS = {
  pick: '.st-key-pick_string input',
  stake: '.st-key-stake input',
  token: '.st-key-player_token input',
  lookup: '.st-key-lookup_ref input',
  payout: '.st-key-payout_ref input',
};
const KEYPAD = { '1': '101', 'x': '102', 'X': '102', '0': '102', '2': '103' };
const CELL = /^st-key-pick-(\\d+)-(\\d+)$/;
const RESEND_AFTER_MS = 1500;
const RESENDS = 3;

function cellOf(element) {
  const box = element && element.closest ? element.closest('[class*="st-key-pick-"]') : null;
  if (!box) return null;
  for (const name of box.classList) {
    const match = name.match(CELL);
    if (match) return { event: match[1], bet: match[2], name };
  }
  return null;
}

function events() {
  const ids = [];
  for (const box of document.querySelectorAll('[class*="st-key-pick-"]')) {
    const cell = cellOf(box);
    if (cell && !ids.includes(cell.event)) ids.push(cell.event);
  }
  return ids;
}

function fieldValue(selector) {
  const input = document.querySelector(selector);
  return input ? input.value : null;
}

function pickButton(event, bet) {
  return document.querySelector(`.st-key-pick-${event}-${bet} button`);
}

function focusWhenDrawn(keys, selector) {
  // Tried until the element is drawn (10 s at most), unless a later request or a click takes over: a stale
  // attempt must never pull the cursor away from where the cashier is now.
  const token = {};
  keys.focusToken = token;
  const attempt = (tries) => {
    if (keys.focusToken !== token) return;
    const element = document.querySelector(selector);
    if (element === document.activeElement) return;  // already there: the cashier may be typing in it
    if (element && !element.disabled) {
      element.focus();
      if (element.select) element.select();
    } else if (tries > 0) {
      setTimeout(() => attempt(tries - 1), 50);
    }
  };
  attempt(200);
}

function sendAgainIfUnheard(keys, press, tries) {
  // A press the server never took (seen a few times in the browser tests on a loaded machine: the key did nothing,
  // no sale and no message) is sent again while the page is idle and does not show it taken, unless the cashier has
  // pressed a key or the pointer since: a copy must never sell what the cashier went on to change. The server takes
  // a press once, and a copy only for the slip it was pressed on (`take_sell_key`).
  setTimeout(() => {
    if (keys.unheard !== press) return;  // taken, a newer press, or the cashier went on
    const app = document.querySelector('[data-testid="stApp"]');
    const idle = app && app.getAttribute('data-test-script-state') === 'notRunning';
    if (idle) keys.trigger('sell_key', { ...press, copy: true });
    if (tries > 1) sendAgainIfUnheard(keys, press, tries - 1);
    else keys.unheard = null;
  }, RESEND_AFTER_MS);
}

function keep(keys, name) {
  keys.want = { name, until: Date.now() + 3000 };
}

function restore(keys) {
  const want = keys.want;
  if (!want) return;
  if (Date.now() > want.until) { keys.want = null; return; }
  const active = document.activeElement;
  if (active && active !== document.body && !cellOf(active)) { keys.want = null; return; }
  const button = document.querySelector(`.${want.name} button`);
  if (button && active !== button) button.focus({ preventScroll: true });
}

function move(keys, event, bet) {
  const button = pickButton(event, bet);
  if (!button) return false;
  keys.focusToken = null;
  keep(keys, `st-key-pick-${event}-${bet}`);
  button.focus();
  return true;
}

const MODIFIERS = ['Control', 'Shift', 'Alt', 'Meta'];

function onKey(keys, e) {
  const active = document.activeElement;
  if (!MODIFIERS.includes(e.key)) keys.unheard = null;
  if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
    // Every Ctrl+Enter comes here, not to the Sell button's own shortcut: that one clicks on keydown and the
    // field being typed in applies its text a moment later, so a stake typed just before could arrive after
    // the sale. Here the field is applied first (blur), then the server is asked to sell what it then holds.
    const sell = document.querySelector('.st-key-sell button');
    if (!sell) return;
    e.preventDefault();
    e.stopPropagation();
    if (sell.innerText.includes('Selling')) return;
    // What the fields show at this key press is what the server sells (`take_keyed_fields`): the run of a
    // keystroke just before may reach it after this key's.
    const shown = {
      at: Date.now(), slip: keys.slip, stake: fieldValue(TARGETS.stake), pick: fieldValue(TARGETS.pick),
    };
    if (active && active.tagName === 'INPUT') active.blur();
    keys.unheard = shown;
    setTimeout(() => keys.trigger('sell_key', shown), 0);
    sendAgainIfUnheard(keys, shown, RESENDS);
    return;
  }
  // Only a receipt the cashier sees: one left in a hidden tab (the desk's Shift tab open) printed a blank page.
  if (e.altKey && e.code === 'KeyP' && [...document.querySelectorAll('.jp-receipt')].some(r => r.checkVisibility())) {
    e.preventDefault();
    window.print();
    return;
  }
  if (e.ctrlKey || e.altKey || e.metaKey) return;
  if (active && active.matches && active.matches(TARGETS.pick) && e.key === 'Enter') {
    // A pick string that will be taken (the server's rules: spaces, case and a JP prefix ignored) sends the
    // cursor to the stake at once, not a round trip later: the stake typed straight after Enter lands there.
    const cleaned = active.value.replace(/\\s+/g, '').toUpperCase().replace(/^JP/, '');
    const stake = document.querySelector(TARGETS.stake);
    if (keys.picks && cleaned.length === keys.picks && /^[1X02]+$/.test(cleaned) && stake && !stake.disabled) {
      // Now, inside the keydown: a key pressed straight after Enter must not reach the pick field. The pick
      // field's own Enter handler still runs (the event keeps its target) and its blur applies the string too.
      keys.focusToken = null;
      stake.focus();
      stake.select();
    }
    return;
  }
  if (active && active.matches && active.matches(TARGETS.pick) && e.key === 'ArrowDown') {
    const first = events()[0];
    if (first && move(keys, first, '101')) e.preventDefault();
    return;
  }
  const cell = cellOf(active);
  if (!cell) return;
  const ids = events();
  const index = ids.indexOf(cell.event);
  if (KEYPAD[e.key]) {
    e.preventDefault();
    const bet = KEYPAD[e.key];
    const target = pickButton(cell.event, bet);
    if (target && !target.disabled && target.getAttribute('data-testid') !== 'stBaseButton-primary') target.click();
    const next = ids[index + 1];
    if (next) move(keys, next, bet);
    else {
      const stake = document.querySelector(TARGETS.stake);
      focusWhenDrawn(keys, stake && !stake.disabled ? TARGETS.stake : '.st-key-sell button');
    }
    return;
  }
  const bets = ['101', '102', '103'];
  const steps = {
    ArrowDown: [ids[index + 1], cell.bet],
    ArrowUp: [ids[index - 1], cell.bet],
    ArrowRight: [cell.event, bets[bets.indexOf(cell.bet) + 1]],
    ArrowLeft: [cell.event, bets[bets.indexOf(cell.bet) - 1]],
  };
  const step = steps[e.key];
  if (step && step[0] && step[1] && move(keys, step[0], step[1])) e.preventDefault();
}

export default function ({ data, setTriggerValue }) {
  const keys = window.__jackpotKeys || (window.__jackpotKeys = { installed: false, focusSeq: null, want: null });
  keys.trigger = setTriggerValue;
  keys.picks = data ? data.picks : null;
  keys.slip = data ? data.slip : null;
  if (data && keys.unheard && data.taken === keys.unheard.at) keys.unheard = null;
  if (!keys.installed) {
    keys.installed = true;
    document.addEventListener('keydown', (e) => onKey(keys, e), true);
    document.addEventListener('pointerdown', () => { keys.focusToken = null; keys.unheard = null; }, true);
    document.addEventListener('click', (e) => {
      // Only a pick made from the keyboard (Space, Enter: a click without a pointer) keeps the focus: moving the
      // focus costs the browser a layout, which a mouse pick does not need.
      const cell = e.detail === 0 ? cellOf(e.target) : null;
      if (cell) keep(keys, cell.name);
    }, true);
    new MutationObserver(() => {
      if (keys.want && !keys.restoring) {
        keys.restoring = true;
        requestAnimationFrame(() => { keys.restoring = false; restore(keys); });
      }
    }).observe(document.body, { childList: true, subtree: true });
  }
  if (data && data.focus && data.seq !== keys.focusSeq) {
    keys.focusSeq = data.seq;
    focusWhenDrawn(keys, TARGETS[data.focus]);
  }
}
"""

_keys_component = st.components.v2.component(
    "jackpot_keys", html="<span></span>", css=PAGE_CSS, js=KEYS_JS, isolate_styles=False
)


def request_focus(target: str) -> None:
    """Put the cursor in `target` (`pick`, `stake`, `token`, `lookup`, `payout`) once the next run is drawn."""
    state = st.session_state
    state.focus_target = target
    state.focus_seq = state.get("focus_seq", 0) + 1


def keyboard(
    on_sell_key: Callable[[], None] | None = None,
    picks: int | None = None,
    taken: int | None = None,
    slip: str | None = None,
) -> None:
    """Mount the keyboard script (once per page load it installs itself) and pass the latest focus request, the
    number of picks a pick string needs, the last Ctrl+Enter the server took (`taken`, its timestamp) and the slip
    on screen (its sale key)."""
    state = st.session_state
    _keys_component(
        key="keys",
        data={
            "focus": state.get("focus_target"),
            "seq": state.get("focus_seq", 0),
            "picks": picks,
            "taken": taken,
            "slip": slip,
        },
        height=0,
        on_sell_key_change=on_sell_key or _ignore,
    )


def _ignore() -> None:
    return None

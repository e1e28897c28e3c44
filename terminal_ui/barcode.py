"""Code 128 (code set B) as an SVG, for the ticket code on the receipt: a shop's 1-D scanner reads it where a QR
reader is not at hand.

Written here rather than taken from a package: ticket codes are six characters of one code set, so the whole
symbology needed is one table and a checksum (ISO/IEC 15417), about forty lines that the tests check bar by bar,
against a dependency to pin and keep on every till. segno does the QR code but has no linear barcodes.
"""

PATTERNS = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
)  # fmt: skip
"""Bar and space widths, bar first, of the 107 symbols by value (106 is the stop, 13 modules; the others 11)."""
START_B, STOP = 104, 106
QUIET_ZONE = 10
"""Modules of white on each side: the standard's minimum."""


def code128_values(text: str) -> list[int]:
    """Start B, one value a character, the check value, stop."""
    if not text or any(not 32 <= ord(ch) <= 126 for ch in text):
        raise ValueError(f"Code 128 B takes printable ASCII only, not {text!r}")
    values = [START_B, *(ord(ch) - 32 for ch in text)]
    check = (values[0] + sum(position * value for position, value in enumerate(values[1:], start=1))) % 103
    return [*values, check, STOP]


def code128_modules(text: str) -> str:
    """The symbol as modules, `1` for bar and `0` for space, without the quiet zones."""
    modules = []
    for value in code128_values(text):
        for element, width in enumerate(PATTERNS[value]):
            modules.append(("1" if element % 2 == 0 else "0") * int(width))
    return "".join(modules)


def code128_svg(text: str, height_modules: int = 40) -> str:
    """An SVG sized by its viewBox (one unit a module), quiet zones included: the page sets its printed size."""
    modules = code128_modules(text)
    width = len(modules) + 2 * QUIET_ZONE
    bars, x = [], QUIET_ZONE
    for run in _runs(modules):
        if run[0] == "1":
            bars.append(f"M{x} 0h{len(run)}v{height_modules}h-{len(run)}z")
        x += len(run)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height_modules}' "
        f"preserveAspectRatio='none' role='img' aria-label='Code 128 barcode of {text}'>"
        f"<rect width='{width}' height='{height_modules}' fill='#fff'/><path d='{''.join(bars)}' fill='#000'/></svg>"
    )


def _runs(modules: str) -> list[str]:
    runs: list[str] = []
    for module in modules:
        if runs and runs[-1][0] == module:
            runs[-1] += module
        else:
            runs.append(module)
    return runs

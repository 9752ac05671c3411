"""tools/planted_bugs.py plants each bug by replacing one exact snippet: every bug that names a file
of the current layout must find its snippet there exactly once, or a refactor has silently turned
it into "not applicable" and the mutation test measures less than it says."""

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_current_layout_bug_still_applies():
    spec = importlib.util.spec_from_file_location("planted_bugs", REPO / "tools" / "planted_bugs.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    stale = []
    for i, (what, current, _flat, old, new) in enumerate(tool.BUGS, 1):
        if current is None:
            continue
        count = (REPO / "mialib" / current).read_text().count(old)
        if count != 1 or old == new:
            stale.append(f"bug {i} ({what}): snippet found {count} times in mialib/{current}")
    assert not stale, "; ".join(stale)

import sys
import weakref
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "node", ROOT / "operator", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from tests.support.node_process import made_nodes  # noqa: E402

# -- node logs of a failed test ----------------------------------------------------------

NODE_LOG_LINES = 400
_marks = pytest.StashKey[weakref.WeakKeyDictionary]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """How much each node had printed before the test: its report shows what came after."""
    item.stash[_marks] = weakref.WeakKeyDictionary({n: n.lines for n in made_nodes()})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries what every node printed during it (the tail of each,
    runs before a kill or restart included), so a failure in CI can be read afterwards."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    marks = item.stash.get(_marks, weakref.WeakKeyDictionary())
    for node in sorted(made_nodes(), key=lambda n: n.name):
        text = node.transcript_since(marks.get(node, 0), NODE_LOG_LINES)
        if text:
            report.sections.append((f"node {node.name} log ({node.data})", text))

"""A node process's transcript: what a failed test's report shows of each node's log."""

from tests.support.node_process import NodeProcess


def _node(tmp_path, lines: int) -> NodeProcess:
    node = NodeProcess(tmp_path)
    for i in range(lines):
        node._record(f"line {i}\n")
    return node


def test_transcript_since_a_mark_holds_only_the_lines_after_it(tmp_path):
    node = _node(tmp_path, 5)
    assert node.transcript_since(3, 100) == "line 3\nline 4\n"


def test_transcript_since_a_mark_keeps_the_tail_and_says_how_much_it_left_out(tmp_path):
    node = _node(tmp_path, 10)
    assert node.transcript_since(2, 3) == "[5 earlier lines left out]\nline 7\nline 8\nline 9\n"


def test_transcript_since_the_last_line_is_empty(tmp_path):
    node = _node(tmp_path, 4)
    assert node.transcript_since(4, 100) == ""


def test_transcript_outlives_the_bound_of_lines_kept(tmp_path):
    node = NodeProcess(tmp_path)
    node.transcript = type(node.transcript)(maxlen=3)
    for i in range(6):
        node._record(f"line {i}\n")
    assert node.transcript_since(0, 100) == "[3 earlier lines left out]\nline 3\nline 4\nline 5\n"

"""bench.io: atomic writes get the mode a plain open() would (the umask, not 0600), and the
temp files of killed writes can be removed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from bench.io import FILE_MODE, remove_stale_temps, write_json_atomic


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_mode_equals_a_plain_open(tmp_path):
    written = write_json_atomic(tmp_path / "a.json", {"x": 1})
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert _mode(written) == _mode(plain) == FILE_MODE


def test_atomic_write_follows_the_umask_of_the_process(tmp_path):
    code = (
        "import os, sys; from bench.io import write_text_atomic; "
        "p = write_text_atomic(sys.argv[1], 'x'); print(oct(os.stat(p).st_mode & 0o777))"
    )
    for umask, expected in ((0o022, "0o644"), (0o027, "0o640")):
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / f"f{umask}")],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=lambda m=umask: os.umask(m),
        )
        assert out.stdout.strip() == expected


def test_remove_stale_temps_removes_only_that_files_temps(tmp_path):
    for name in (".model.pt.abc.tmp", ".model.pt.x.tmp", ".other.pt.abc.tmp", "model.pt"):
        (tmp_path / name).write_bytes(b"x")
    removed = remove_stale_temps(tmp_path / "model.pt")
    assert [p.name for p in removed] == [".model.pt.abc.tmp", ".model.pt.x.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.pt.abc.tmp", "model.pt"]

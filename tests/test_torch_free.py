"""The provable side installs and runs without torch (DEVELOPERS.md): run it with torch made unimportable."""

import subprocess
import sys

CODE = r"""
import sys


class NoTorch:
    # a meta-path finder that makes every 'import torch...' fail, as on a machine without torch
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test: " + name)
        return None


sys.meta_path.insert(0, NoTorch())
import pathlib, tempfile
import simulators, provable, proofs_checks
from provable.harness.cli import regret_main
from proofs_checks.__main__ import main as checks_main
out = pathlib.Path(tempfile.mkdtemp())
assert regret_main(["--instance", "random", "--param", "S=6", "--param", "A=2", "--d", "3", "--H", "2",
                    "--K", "32", "--seeds", "2", "--workers", "1", "--no-progress", "--bootstrap", "20",
                    "--out", str(out / "r"), "--figures", str(out / "f")]) == 0
assert checks_main(["--quick", "--only", "cvar", "--out", str(out / "c"), "--figures", ""]) == 0
assert "torch" not in sys.modules
print("ok")
"""


def test_provable_side_runs_without_torch():
    p = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip().endswith("ok")

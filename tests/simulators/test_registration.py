"""``import simulators`` registers every gymnasium id without importing the scheduling package."""

import subprocess
import sys


def test_import_registers_all_ids_lazily():
    code = (
        "import sys, gymnasium as gym, simulators\n"
        "ids = ['simulators/LinearMDP-v0', 'simulators/Scheduling-v0', 'simulators/SchedulingPO-v0',"
        " 'simulators/SchedulingNoisy-v0']\n"
        "assert all(i in gym.registry for i in ids), ids\n"
        "assert 'simulators.scheduling' not in sys.modules\n"
        "env = gym.make('simulators/SchedulingPO-v0')\n"
        "obs, info = env.reset(seed=0)\n"
        "assert 'simulators.scheduling' in sys.modules\n"
        "assert 'torch' not in sys.modules\n"
        "print('ok')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok"

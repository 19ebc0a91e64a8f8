"""machine.py: the counters that let the report flag a run the machine disturbed."""
import subprocess
import sys

import pytest

from tf_ffm.bench import machine

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_another_process_shows_as_system_cpu_not_ours():
    before = machine.counters()
    # A child that burns 0.3 s of its own CPU time, whatever the machine's load.
    subprocess.run([sys.executable, "-c",
                    "import time\nwhile time.process_time() < 0.3: pass"], check=True)
    d = machine.delta(before, machine.counters())
    assert d["system_busy_s"] >= 0.25
    assert set(d) >= {"minflt", "nvcsw", "nivcsw", "system_steal_s", "read_bytes"}


def test_page_faults_are_counted():
    before = machine.counters()
    block = bytearray(64 << 20)  # fresh zero pages, touched when written
    for i in range(0, len(block), 4096):
        block[i] = 1
    d = machine.delta(before, machine.counters())
    assert d["minflt"] >= 1000  # 16k pages; THP or fault-around may merge some


def test_delta_skips_unknown_counters():
    assert machine.delta({"a": 1, "b": None, "c": 5}, {"a": 4, "b": 2}) == {"a": 3}


def test_selected_setting():
    assert machine._selected("always [madvise] never") == "madvise"
    assert machine._selected("[never]") == "never"
    assert machine._selected(None) is None


def test_state_describes_the_machine():
    s = machine.state()
    assert s["cpus"] >= 1 and len(s["loadavg"]) == 3
    assert s["thp_enabled"] in (None, "always", "madvise", "never")
    assert isinstance(s["damon_pageout"], list)
    assert machine.read_bytes() >= 0


def test_wait_for_quiet_gives_up_after_max_wait():
    import time

    t0 = time.perf_counter()
    waited, busy = machine.wait_for_quiet(threshold=-1.0, max_wait_s=0.5, window_s=0.1)
    assert 0.5 <= waited < 1.5 and time.perf_counter() - t0 < 2.0
    assert busy >= 0.0
    waited, _ = machine.wait_for_quiet(threshold=1e9, max_wait_s=30, window_s=0.1)
    assert waited < 1.0  # "quiet" at once

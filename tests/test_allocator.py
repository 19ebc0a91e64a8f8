"""`import tf_ffm` keeps glibc's per-thread heaps mapped (tf_ffm/_allocator):
measured as page faults of a thread that fills and frees a batch-sized set
of ~150 KiB buffers four times, in fresh interpreters."""
import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="M_TOP_PAD is a glibc setting")

# One "batch": 300 buffers of 150 KiB (45 MB, as 256 records of the bench's
# large dataset), written, then freed, by one non-main thread.
BATCH_PAGES = 300 * (150 << 10) // 4096
_PROBE = r"""
import ctypes, json, resource, sys, threading
import tf_ffm
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
SIZE, COUNT = 150 << 10, 300
faults = []
def batches():
    for _ in range(4):
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        buffers = [libc.malloc(SIZE) for _ in range(COUNT)]
        for b in buffers:
            libc.memset(b, 1, SIZE)
        for b in buffers:
            libc.free(b)
        faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
t = threading.Thread(target=batches)
t.start(); t.join()
print(json.dumps({"state": tf_ffm._allocator.state, "faults": faults}))
"""


def _probe(**env):
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("MALLOC_TOP_PAD_", "GLIBC_TUNABLES", "TF_FFM_MALLOC_TOP_PAD")}
    full_env.update(env)
    out = subprocess.run([sys.executable, "-c", _PROBE], env=full_env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_keeps_emptied_heaps_so_later_batches_do_not_fault():
    result = _probe()
    assert result["state"] == "M_TOP_PAD=67108864"
    first, *later = result["faults"]
    assert first >= BATCH_PAGES * 0.9  # the first batch maps its pages
    assert max(later) < BATCH_PAGES * 0.05, result


def test_veto_leaves_glibc_unmapping_heaps():
    result = _probe(TF_FFM_MALLOC_TOP_PAD="0")
    assert result["state"] == "off (TF_FFM_MALLOC_TOP_PAD=0)"
    # glibc's own behaviour, which the setting exists to change.
    assert max(result["faults"][1:]) > BATCH_PAGES * 0.3, result


def test_a_top_pad_the_user_chose_is_left_alone():
    result = _probe(MALLOC_TOP_PAD_=str(1 << 20))
    assert result["state"] == "the user's (MALLOC_TOP_PAD_ or GLIBC_TUNABLES)"

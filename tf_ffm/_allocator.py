"""Keeps glibc from handing each thread's malloc heaps back to the kernel
between batches.

Every record becomes a string tensor whose bytes are malloc'd by the thread
running the pipeline (a tf.data prefetch thread) and freed by another (the
consumer, after the batch). glibc serves such threads from their own arena,
made of heaps of at most 64 MiB, and unmaps a heap as soon as it is empty
unless M_TOP_PAD keeps that much: a batch of 256 records of ~150 KiB spans
such heaps, so each batch was written into freshly mapped pages. Measured on
the bench's local dataset of ~150 KiB records (perf stat, 4 passes): about
one page fault per 5 KiB read, ~1.8x the CPU per byte, and 0.5-2x swings
between identical processes depending on how frees and allocations
interleaved. With M_TOP_PAD = 64 MiB an emptied heap stays mapped and is
reused: faults drop ~3x and both readers (stock too) run at the page
cache's pace. The cost is that each arena used that hard keeps up to 64 MiB
resident, as jemalloc and tcmalloc keep theirs.

Process-wide, so it is the user's to veto: TF_FFM_MALLOC_TOP_PAD=0 leaves
malloc as it is; a top pad the user chose (MALLOC_TOP_PAD_,
GLIBC_TUNABLES=glibc.malloc.top_pad) is never overridden; not glibc:
nothing is done.
"""
import ctypes
import os
import platform

_M_TOP_PAD = -2  # malloc.h
# glibc's HEAP_MAX_SIZE on 64-bit: a heap is unmapped when empty only if the
# pad is smaller than this.
TOP_PAD_BYTES = 64 << 20

_OFF = ("0", "false", "no", "off")

# What keep_thread_heaps() did, for the bench's machine line and bug reports.
state = "not applied"


def keep_thread_heaps():
    """Sets M_TOP_PAD unless the user decided otherwise; returns `state`."""
    global state
    if os.environ.get("TF_FFM_MALLOC_TOP_PAD", "").strip().lower() in _OFF:
        state = "off (TF_FFM_MALLOC_TOP_PAD=0)"
    elif "MALLOC_TOP_PAD_" in os.environ or \
            "glibc.malloc.top_pad" in os.environ.get("GLIBC_TUNABLES", ""):
        state = "the user's (MALLOC_TOP_PAD_ or GLIBC_TUNABLES)"
    elif platform.libc_ver()[0] != "glibc":
        state = "not glibc"
    else:
        try:
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError):
            state = "no mallopt"
        else:
            ok = mallopt(ctypes.c_int(_M_TOP_PAD), ctypes.c_int(TOP_PAD_BYTES))
            state = f"M_TOP_PAD={TOP_PAD_BYTES}" if ok == 1 else "mallopt failed"
    return state

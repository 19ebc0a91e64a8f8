"""What the machine was doing around a measurement, read from /proc and /sys.

Two ~2x different results for the same cell are useless unless the report
can say which one to believe, so every run records (see worker.py):

    counters()   process and system counters; `delta(before, after)` over the
                 timed window: page faults, context switches, migrations of
                 the process's threads, system-wide busy/steal CPU seconds and
                 bytes read from block devices (a "local" read that hits the
                 disk is no longer a page-cache read)
    state()      settings that change timings between otherwise equal runs:
                 transparent huge pages, DAMON page-out schemes, free page
                 reporting of a VM balloon, load average, malloc tunables

Linux only; anything unreadable is left out rather than guessed.
"""
import os
import resource

from tf_ffm import _allocator

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _system_cpu():
    """(busy, steal) seconds of all CPUs since boot. busy excludes idle,
    iowait and steal (steal is time the hypervisor gave to someone else)."""
    line = (_read("/proc/stat") or "").splitlines()[:1]
    if not line or not line[0].startswith("cpu "):
        return None, None
    v = [int(x) for x in line[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq = v[:7]
    steal = v[7] if len(v) > 7 else 0
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


def _vmstat(keys):
    out = {}
    for line in (_read("/proc/vmstat") or "").splitlines():
        name, _, value = line.partition(" ")
        if name in keys:
            out[name] = int(value)
    return out


def _thread_migrations():
    """Sum of se.nr_migrations over the process's live threads (needs
    CONFIG_SCHED_DEBUG's /proc/PID/sched; None without it)."""
    total, seen = 0, False
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    for tid in tasks:
        for line in (_read(f"/proc/self/task/{tid}/sched") or "").splitlines():
            if line.startswith("se.nr_migrations"):
                total += int(line.split(":")[1])
                seen = True
                break
    return total if seen else None


def read_bytes(pid="self"):
    """Bytes process `pid` made the kernel fetch from block devices
    (/proc/PID/io read_bytes; page-cache hits are not counted), or None."""
    for line in (_read(f"/proc/{pid}/io") or "").splitlines():
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    return None


def counters() -> dict:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    busy, steal = _system_cpu()
    vm = _vmstat({"pgpgin", "thp_fault_alloc"})
    out = {"user_s": ru.ru_utime, "sys_s": ru.ru_stime, "minflt": ru.ru_minflt, "majflt": ru.ru_majflt, "nvcsw": ru.ru_nvcsw,
           "nivcsw": ru.ru_nivcsw, "system_busy_s": busy, "system_steal_s": steal,
           "migrations": _thread_migrations(), "read_bytes": read_bytes(),
           # pgpgin is in KiB read from block devices, system-wide.
           "disk_read_mb": vm["pgpgin"] * 1024 / 1e6 if "pgpgin" in vm else None,
           "thp_fault_alloc": vm.get("thp_fault_alloc")}
    return out


def delta(before: dict, after: dict) -> dict:
    """after - before for every counter known at both ends."""
    return {k: after[k] - before[k] for k in before
            if before[k] is not None and after.get(k) is not None}


def _selected(text):
    """"always [madvise] never" -> "madvise"."""
    if not text:
        return None
    for word in text.split():
        if word.startswith("["):
            return word.strip("[]")
    return text


def _damon_pageout():
    """Running DAMON schemes that page out cold memory, e.g. "paddr pageout
    age>=12". With no memory pressure they still evict page cache that was not
    touched for a while, so a "warm" dataset can quietly go back to disk."""
    root = "/sys/kernel/mm/damon/admin/kdamonds"
    found = []
    try:
        daemons = [d for d in os.listdir(root) if d.isdigit()]
    except OSError:
        return found
    for d in daemons:
        if _read(f"{root}/{d}/state") != "on":
            continue
        ctx_root = f"{root}/{d}/contexts"
        for c in (x for x in os.listdir(ctx_root) if x.isdigit()):
            ops = _read(f"{ctx_root}/{c}/operations")
            schemes = f"{ctx_root}/{c}/schemes"
            for s in (x for x in os.listdir(schemes) if x.isdigit()):
                action = _read(f"{schemes}/{s}/action")
                if action in ("pageout", "lru_deprio"):
                    age = _read(f"{schemes}/{s}/access_pattern/age/min")
                    found.append(f"{ops} {action} age>={age}")
    return found


def _balloon_free_page_reporting():
    """True when a virtio balloon reports free guest pages to the host: the
    host then drops them, and the guest's next touch of each page costs a
    hypervisor fault (fresh processes pay it, long-lived ones less)."""
    root = "/sys/bus/virtio/devices"
    try:
        devices = os.listdir(root)
    except OSError:
        return None
    for dev in devices:
        if _read(f"{root}/{dev}/device") == "0x0005":  # balloon
            bits = _read(f"{root}/{dev}/features") or ""
            return len(bits) > 5 and bits[5] == "1"  # VIRTIO_BALLOON_F_REPORTING
    return None


def busy_cores(window_s=0.25):
    """CPUs' worth of busy time over the next window_s (0.0 idle .. cpus)."""
    import time

    b0, _ = _system_cpu()
    if b0 is None:
        return None
    t0 = time.perf_counter()
    time.sleep(window_s)
    b1, _ = _system_cpu()
    return (b1 - b0) / (time.perf_counter() - t0)


def wait_for_quiet(threshold=0.15, max_wait_s=20.0, window_s=0.25):
    """Wait until the machine is nearly idle (busy < threshold CPUs over a
    window) or max_wait_s have passed; return (seconds waited, busy CPUs in
    the last window). A run started while another job holds a core measures
    that job as much as the reader (see report.py, flag "busy")."""
    import time

    t0 = time.perf_counter()
    while True:
        busy = busy_cores(window_s)
        waited = time.perf_counter() - t0
        if busy is None or busy < threshold or waited >= max_wait_s:
            return waited, busy


def loadavg():
    text = _read("/proc/loadavg")
    return [float(x) for x in text.split()[:3]] if text else None


def state() -> dict:
    """Machine settings worth knowing when comparing two runs."""
    thp = "/sys/kernel/mm/transparent_hugepage"
    return {
        "cpus": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else None,
        "kernel": os.uname().release,
        "loadavg": loadavg(),
        "thp_enabled": _selected(_read(f"{thp}/enabled")),
        "thp_defrag": _selected(_read(f"{thp}/defrag")),
        "damon_pageout": _damon_pageout(),
        "balloon_free_page_reporting": _balloon_free_page_reporting(),
        "cpufreq_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "malloc_env": {k: v for k, v in os.environ.items()
                       if k.startswith(("MALLOC_", "GLIBC_TUNABLES", "TF_CPU_ALLOC",
                                        "LD_PRELOAD", "TF_FFM_MALLOC"))},
        # Every worker imports tf_ffm with this environment, so has this too.
        "malloc_top_pad": _allocator.state,
    }

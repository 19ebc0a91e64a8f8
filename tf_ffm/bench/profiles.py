"""Storage profiles: where the benchmark's readers read the same datasets from.

    local   the dataset directory itself, page cache warm
    mount   a FUSE mount (rclone) of the emulated S3 endpoint: Fast File Mode
    s3      s3://bench/<key> against the emulated endpoint, read directly:
            by tf_ffm, and by the stock reader through tf_ffm's s3://
            filesystem (TF 2.21 has none of its own); beside them the stock
            reader on the mount ("stock_<mode>@mount") when the mount profile
            does not measure it anyway

Each profile has a cell per (reader, read mode) asked for (labels.py).

`open_profiles` starts what the profiles need on an ExitStack (one nginx for
mount and s3, one rclone mount) and returns the usable ones plus, for each
profile it had to drop, the reason.
"""
import dataclasses
import os
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

from tf_ffm.bench.labels import READ_MODES, READERS, label
from tf_ffm.bench.runner import Target
from tf_ffm.bench.servers import EmulatedS3, FuseMount, Unavailable

PROFILES = ("local", "mount", "s3")
BUCKET = "bench"


@dataclasses.dataclass
class Cell:
    reader: str          # stock or ffm
    read_mode: str       # none, n, autotune, gen (labels.READ_MODES)
    label: str           # name in the report, e.g. ffm_autotune, stock_none@mount
    target: Target


@dataclasses.dataclass
class Profile:
    name: str
    cells: Dict[str, List[Cell]]                 # dataset -> cells
    ceiling_targets: Dict[str, Target]           # dataset -> what the ceiling reads
    note: str = ""


def _targets(datasets, paths_of: Callable[[dict], List[str]], env=None, urls_of=None,
             helper_pgid=None, server_pgids=()):
    out = {}
    for name, manifest in datasets.items():
        sizes = [f["size"] for f in manifest["files"]]
        source = [os.path.join(manifest["dir"], f["name"]) for f in manifest["files"]]
        out[name] = Target(paths_of(manifest), sizes, dict(env or {}),
                           urls_of(manifest) if urls_of else None, helper_pgid,
                           tuple(server_pgids), source)
    return out


def _rel(manifest, root):
    return [os.path.relpath(os.path.join(manifest["dir"], f["name"]), root)
            for f in manifest["files"]]


def s3_env(endpoint) -> Dict[str, str]:
    """Environment pointing the AWS chain at the emulated endpoint, nothing else."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench-dummy-key",
        "AWS_SECRET_ACCESS_KEY": "bench-dummy-secret",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def s3_problem() -> Optional[str]:
    """Why tf_ffm cannot read s3:// here, or None."""
    try:
        import tf_ffm
    except Exception as e:  # noqa: BLE001 -- any import failure means no s3
        return f"tf_ffm does not import: {e}"
    supported = getattr(tf_ffm, "s3_supported", None)
    if supported is None or not supported():
        return "tf_ffm built without S3 support"
    return None


def _cells(reader, read_modes, target, where=None):
    return [Cell(reader, m, label(reader, m, where), target) for m in read_modes]


def _pair(readers, read_modes, target):
    """Cells of both readers on one target, the two of each read mode together."""
    return [c for m in read_modes for r in readers for c in _cells(r, [m], target)]


def open_profiles(stack, wanted, datasets, *, latency_s=0.02, rate="90m",
                  log_dir=None, readers=READERS, read_modes=tuple(READ_MODES)
                  ) -> Tuple[List[Profile], Dict[str, str]]:
    """Start servers on `stack` and return (profiles, {skipped profile: reason}).

    datasets: {name: manifest} (see datagen); nginx serves the directory
    above them as bucket "bench". readers, read_modes: the cells wanted.
    """
    profiles, skipped = [], {}
    # Keys keep the dataset's directory name: s3://bench/small/part-...
    root = os.path.commonpath([os.path.dirname(m["dir"]) for m in datasets.values()])

    if "local" in wanted:
        local = _targets(datasets, lambda m: [os.path.join(m["dir"], f["name"])
                                              for f in m["files"]])
        profiles.append(Profile(
            "local", {d: _pair(readers, read_modes, t) for d, t in local.items()},
            local, note="page cache"))

    s3_reason = s3_problem() if "s3" in wanted else None
    if s3_reason:
        skipped["s3"] = s3_reason
    remote = [p for p in ("mount", "s3") if p in wanted and p not in skipped]
    if not remote:
        return profiles, skipped
    try:
        server = stack.enter_context(EmulatedS3(
            root, latency_s=latency_s, rate=rate, bucket=BUCKET,
            prefix_dir=os.path.join(log_dir, "nginx") if log_dir else None))
    except (Unavailable, RuntimeError) as e:
        for p in remote:
            skipped[p] = f"emulated S3 unavailable: {e}"
        return profiles, skipped

    # Both remote profiles need the mount: s3's stock baseline reads it.
    mount_targets, mount_reason = None, None
    mountpoint = tempfile.mkdtemp(prefix="tf-ffm-bench-mnt-")
    stack.callback(_rmdir_quietly, mountpoint)  # runs after the unmount
    try:
        mount = stack.enter_context(FuseMount(
            server.url, mountpoint,
            log_path=os.path.join(log_dir, "rclone.log") if log_dir else None))
        mount_targets = _targets(
            datasets, lambda m: [os.path.join(mountpoint, r) for r in _rel(m, root)],
            helper_pgid=mount.pid, server_pgids=[server.pid])
    except (Unavailable, RuntimeError) as e:
        mount_reason = f"FUSE mount unavailable: {e}"

    if "mount" in remote:
        if mount_targets is None:
            skipped["mount"] = mount_reason
        else:
            profiles.append(Profile(
                "mount", {d: _pair(readers, read_modes, t)
                          for d, t in mount_targets.items()},
                mount_targets,
                note=f"rclone FUSE over nginx ({latency_s * 1000:.0f} ms, {rate}/conn)"))

    if "s3" in remote:
        s3 = _targets(datasets, lambda m: [f"s3://{BUCKET}/{r}" for r in _rel(m, root)],
                      env=s3_env(server.endpoint),
                      urls_of=lambda m: [server.key_url(r) for r in _rel(m, root)],
                      server_pgids=[server.pid])
        # Stock on the mount is measured here only when the mount profile does
        # not measure it anyway.
        stock_here = mount_targets is not None and "mount" not in remote
        cells = {}
        for d, t in s3.items():
            cells[d] = []
            for m in read_modes:
                if stock_here and "stock" in readers:
                    cells[d] += _cells("stock", [m], mount_targets[d], where="mount")
                cells[d] += _pair(readers, [m], t)
        note = ("ffm and stock (through tf_ffm's s3:// filesystem) on s3:// URIs; "
                "stock on the mount beside them")
        if mount_targets is None:
            note += f" (none: {mount_reason})"
        profiles.append(Profile("s3", cells, s3, note=note))
    return profiles, skipped


def _rmdir_quietly(path):
    try:
        os.rmdir(path)
    except OSError:
        pass

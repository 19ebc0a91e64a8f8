"""Deterministic TFRecord datasets for the benchmark.

    small   records of ~10 KiB (8-12 KiB), e.g. small images or feature rows
    large   records of ~150 KiB (112-188 KiB), e.g. encoded images

Each dataset is `shards` files of (nearly) equal size in
`<work_dir>/<name>/part-0000i-of-0000n.tfrecord`, written with
tf.io.TFRecordWriter. Record lengths and bytes come from a numpy Generator
seeded with (seed, dataset, shard), so the same parameters always give the
same files, byte for byte. `manifest.json` beside the shards records the
parameters, per-file sizes and record counts; a dataset whose manifest
matches is not generated again.
"""
import json
import os
import zlib

import numpy as np

MiB = 1 << 20
KiB = 1 << 10
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FRAMING_BYTES = 16  # per record: length (8) + its CRC (4) + data CRC (4)

# name -> (mean record bytes, half-width of the uniform length spread)
KINDS = {
    "small": (10 * KiB, 2 * KiB),
    "large": (150 * KiB, 38 * KiB),
}


def _params(name, size_bytes, shards, seed):
    mean, spread = KINDS[name]
    return {"format_version": FORMAT_VERSION, "name": name,
            "size_bytes": int(size_bytes), "shards": int(shards), "seed": int(seed),
            "record_bytes_mean": mean, "record_bytes_spread": spread}


def shard_name(i, n):
    return f"part-{i:05d}-of-{n:05d}.tfrecord"


def load_manifest(dataset_dir):
    """The manifest of a generated dataset, or None."""
    try:
        with open(os.path.join(dataset_dir, MANIFEST)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _is_complete(dataset_dir, manifest, params):
    if manifest is None or manifest.get("params") != params:
        return False
    for entry in manifest["files"]:
        path = os.path.join(dataset_dir, entry["name"])
        if not os.path.isfile(path) or os.path.getsize(path) != entry["size"]:
            return False
    return True


def _shard_rng(seed, name, shard):
    # A stable integer per dataset name (Python's hash() is salted per process).
    return np.random.default_rng([seed, zlib.crc32(name.encode()), shard])


def _write_shard(path, rng, target_bytes, mean, spread):
    """Write records filling exactly target_bytes; return (records, payload).

    Lengths are uniform in mean +- spread except the last, which fills the
    shard (up to about twice the mean).
    """
    import tensorflow as tf  # only needed when generating

    tmp = path + ".tmp"
    written = payload = records = 0
    with tf.io.TFRecordWriter(tmp) as writer:
        while written < target_bytes:
            length = int(rng.integers(mean - spread, mean + spread + 1))
            room = target_bytes - written - FRAMING_BYTES
            if room - length < mean - spread + FRAMING_BYTES:
                # No room for another record after this one: let this one fill
                # the shard, so every shard has exactly target_bytes.
                length = max(1, room)
            writer.write(rng.bytes(length))
            written += length + FRAMING_BYTES
            payload += length
            records += 1
    os.replace(tmp, path)
    return records, payload


def generate(work_dir, name, size_mb=512, shards=4, seed=0, progress=None):
    """Generate dataset `name` ("small" or "large") under work_dir unless it exists.

    Returns its manifest dict: {"params", "dir", "files": [{"name", "size",
    "records", "payload_bytes"}], "records", "payload_bytes", "size"}.
    `progress` is called with the bytes written after each shard.
    """
    if name not in KINDS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(KINDS)}")
    if shards < 1 or size_mb <= 0:
        raise ValueError(f"need shards >= 1 and size_mb > 0, got {shards}, {size_mb}")
    size_bytes = int(size_mb * MiB)
    params = _params(name, size_bytes, shards, seed)
    dataset_dir = os.path.join(os.path.abspath(work_dir), name)
    manifest = load_manifest(dataset_dir)
    if _is_complete(dataset_dir, manifest, params):
        manifest["dir"] = dataset_dir
        return manifest

    os.makedirs(dataset_dir, exist_ok=True)
    with_manifest = os.path.join(dataset_dir, MANIFEST)
    if os.path.exists(with_manifest):
        os.unlink(with_manifest)  # stale: rewritten only once every shard is done
    for entry in os.listdir(dataset_dir):  # shards of earlier parameters
        if entry.startswith("part-") and entry.endswith((".tfrecord", ".tmp")):
            os.unlink(os.path.join(dataset_dir, entry))

    mean, spread = KINDS[name]
    per_shard = size_bytes // shards
    files = []
    for i in range(shards):
        fname = shard_name(i, shards)
        path = os.path.join(dataset_dir, fname)
        records, payload = _write_shard(path, _shard_rng(seed, name, i),
                                        per_shard, mean, spread)
        files.append({"name": fname, "size": os.path.getsize(path),
                      "records": records, "payload_bytes": payload})
        if progress:
            progress(files[-1]["size"])
    manifest = {
        "params": params, "files": files,
        "records": sum(f["records"] for f in files),
        "payload_bytes": sum(f["payload_bytes"] for f in files),
        "size": sum(f["size"] for f in files),
    }
    tmp = with_manifest + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, with_manifest)
    manifest["dir"] = dataset_dir
    return manifest


def dataset_files(manifest):
    """Absolute paths of a manifest's shards, in order."""
    return [os.path.join(manifest["dir"], f["name"]) for f in manifest["files"]]


def describe_user_data(path):
    """A manifest-like dict for user-provided TFRecord files (a dir or a glob).

    Record counts are unknown (None) until a reader has been through them.
    """
    import glob

    if "://" in str(path):
        raise ValueError(f"--data {path}: only local or mounted paths are supported "
                         "(an s3:// prefix is not yet)")
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(path):
        matches = sorted(os.path.join(path, e) for e in os.listdir(path)
                         if os.path.isfile(os.path.join(path, e))
                         and not e.endswith((".json", ".idx", ".index")))
        root = path
    else:
        matches = sorted(p for p in glob.glob(path) if os.path.isfile(p))
        root = os.path.dirname(path)
    if not matches:
        raise FileNotFoundError(f"no files found at {path}")
    root = os.path.commonpath([root] + [os.path.dirname(m) for m in matches])
    files = [{"name": os.path.relpath(m, root), "size": os.path.getsize(m),
              "records": None, "payload_bytes": None} for m in matches]
    return {"params": {"name": "user", "source": path}, "dir": root, "files": files,
            "records": None, "payload_bytes": None,
            "size": sum(f["size"] for f in files)}

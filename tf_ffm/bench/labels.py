"""Names of what the benchmark measures, their order, and number formatting.

Shared by report.py (table, JSON) and chart.py (PNG) so that neither needs
the other. Pure Python: no TensorFlow, no matplotlib.

A cell's reader label is `<reader>_<read mode>[@<where>]`:
    reader     stock (tf.data.TFRecordDataset) or ffm (tf_ffm.FFMRecordDataset)
    read mode  how the user passes files and num_parallel_reads (see READ_MODES)
    where      set when the reader reads another profile's storage (the s3
               profile's stock run on the mount: "stock_none@mount")
"""
READERS = ("stock", "ffm")
READ_MODES = {  # name -> what the user writes (worker.make_dataset builds it)
    "none": "files, num_parallel_reads=None",
    "n": "files, num_parallel_reads=N (a fixed integer)",
    "autotune": "files, num_parallel_reads=tf.data.AUTOTUNE",
    "gen": "Dataset.from_generator(file names), num_parallel_reads=AUTOTUNE",
}
CONSUMPTIONS = ("batched", "elementwise")
UNSTABLE_SPREAD = 1.3  # max/min of a cell's runs above this: flagged "unstable"


def label(reader, read_mode, where=None) -> str:
    return f"{reader}_{read_mode}" + (f"@{where}" if where else "")


def parse_label(text):
    """"ffm_gen" -> ("ffm", "gen", None); "stock_none@mount" -> (..., "mount")."""
    name, _, where = text.partition("@")
    reader, _, read_mode = name.partition("_")
    return reader, read_mode, where or None


def label_key(text):
    """Table/chart order: by read mode (in READ_MODES order), stock before ffm,
    so the two readers of one mode sit next to each other."""
    reader, read_mode, where = parse_label(text)
    modes = list(READ_MODES)
    return (modes.index(read_mode) if read_mode in modes else len(modes),
            READERS.index(reader) if reader in READERS else len(READERS),
            where or "", text)


def fmt(value, spec, missing="-") -> str:
    """`spec.format(value)`, or `missing` for None."""
    return missing if value is None else spec.format(value)


def fmt_range(lo, hi, spec) -> str:
    """"848–1,625" for a min–max pair (one number when they are equal)."""
    if lo is None or hi is None:
        return "-"
    a, b = spec.format(lo), spec.format(hi)
    return a if a == b else f"{a}–{b}"


def fmt_ratio(value) -> str:
    return fmt(value, "{:.2f}x")

// tf_ffm._engine: the engine calls that are not a tensor pipeline (the
// record index, listing, whole-object reads and writes, the reader
// counters), for Python without TensorFlow's Python package; the dataset
// ops stay TF ops. Like an op file, this only translates: Python types to
// the engine's, the interpreter lock released around every call that reads,
// writes, lists or scans, and absl::Status to the tf.errors class of its
// code, once, here (through tf_ffm/_errors.py).
//
// The engine is linked statically into this module and into the op library,
// so process-wide engine state (ffm::IoStats, the S3 client cache) exists
// once per library: tf_ffm.stats() adds the two libraries' counters.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ffm/index/index_builder.h"
#include "ffm/index/index_store.h"
#include "ffm/index/index_writer.h"
#include "ffm/index/record_index.h"
#include "ffm/io/io_stats.h"
#include "ffm/io/storage.h"
#include "ffm/tfrecord/format.h"

namespace py = pybind11;

namespace ffm {
namespace {

// An engine error on its way out; the module's translator raises it.
struct StatusError {
  absl::Status status;
};

void ThrowIfError(const absl::Status& s) {
  if (!s.ok()) throw StatusError{s};
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> v) {
  ThrowIfError(v.status());
  return *std::move(v);
}

// Raises the tf.errors exception for `s`. TensorFlow's Python package is
// imported there, on the error path only (see tf_ffm/_errors.py).
void SetPythonError(const absl::Status& s) {
  try {
    py::object error = py::module_::import("tf_ffm._errors")
                           .attr("from_status")(static_cast<int>(s.code()),
                                                std::string(s.message()));
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())),
                    error.ptr());
  } catch (py::error_already_set& e) {
    e.restore();  // e.g. TensorFlow failed to import: the caller sees that
  }
}

// The bytes of a Python bytes object; valid while the caller holds it.
absl::string_view BytesView(const py::bytes& b) {
  char* data = nullptr;
  Py_ssize_t size = 0;
  if (PyBytes_AsStringAndSize(b.ptr(), &data, &size) != 0) {
    throw py::error_already_set();
  }
  return absl::string_view(data, static_cast<size_t>(size));
}

// Runs `f(storage)` on a Storage made from `options` without the interpreter
// lock. The Storage is made per call: it reads the environment, and a
// listing should see what a dataset made at the same time sees.
template <typename F>
auto WithStorage(const std::string& options, F f)
    -> decltype(f(std::declval<const Storage&>())) {
  py::gil_scoped_release unlocked;
  absl::StatusOr<std::shared_ptr<Storage>> storage = Storage::Create(options);
  if (!storage.ok()) return storage.status();
  return f(**storage);
}

// A read-only int64 array owning `values`. Offsets and lengths are below
// 2^63 (file sizes), so their bits read the same as int64, the dtype these
// arrays always had.
py::array_t<int64_t> ReadOnlyArray(std::vector<uint64_t> values) {
  auto* owned = new std::vector<uint64_t>(std::move(values));
  py::capsule free(owned, [](void* p) {
    delete static_cast<std::vector<uint64_t>*>(p);
  });
  py::array_t<int64_t> array({static_cast<py::ssize_t>(owned->size())},
                             reinterpret_cast<const int64_t*>(owned->data()),
                             free);
  array.attr("setflags")(py::arg("write") = false);
  return array;
}

template <typename Field>
py::array_t<int64_t> FileColumn(const RecordIndex& index, Field field) {
  py::array_t<int64_t> out(static_cast<py::ssize_t>(index.files().size()));
  auto w = out.mutable_unchecked<1>();
  for (size_t i = 0; i < index.files().size(); ++i) {
    w(i) = static_cast<int64_t>(index.files()[i].*field);
  }
  return out;
}

using Int64Array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

std::shared_ptr<RecordIndex> CreateIndex(const std::vector<std::string>& uris,
                                         const Int64Array& sizes,
                                         const Int64Array& mtimes_ns,
                                         const Int64Array& counts,
                                         const Int64Array& lengths) {
  const size_t n = uris.size();
  if (sizes.ndim() != 1 || mtimes_ns.ndim() != 1 || counts.ndim() != 1 ||
      lengths.ndim() != 1 || static_cast<size_t>(sizes.size()) != n ||
      static_cast<size_t>(mtimes_ns.size()) != n ||
      static_cast<size_t>(counts.size()) != n) {
    ThrowIfError(absl::InvalidArgumentError("index file columns differ in length"));
  }
  std::vector<IndexedFile> files(n);
  for (size_t i = 0; i < n; ++i) {
    if (sizes.at(i) < 0 || counts.at(i) < 0) {
      ThrowIfError(absl::InvalidArgumentError(
          absl::StrCat(uris[i], ": negative size or record count")));
    }
    files[i] = {uris[i], static_cast<uint64_t>(sizes.at(i)), mtimes_ns.at(i),
                static_cast<uint64_t>(counts.at(i)), 0};
  }
  std::vector<uint64_t> lens(static_cast<size_t>(lengths.size()));
  const int64_t* data = lengths.data();
  for (size_t i = 0; i < lens.size(); ++i) {
    if (data[i] < 0) {
      ThrowIfError(absl::InvalidArgumentError(
          absl::StrCat("negative length of record ", i)));
    }
    lens[i] = static_cast<uint64_t>(data[i]);
  }
  absl::StatusOr<RecordIndex> index;
  {
    py::gil_scoped_release unlocked;
    index = RecordIndex::Create(std::move(files), lens);
  }
  return std::make_shared<RecordIndex>(ValueOrThrow(std::move(index)));
}

// Scans `uris` in parallel with the lock released. `progress(n)` is called
// on this thread, with the lock, with the number of files finished since
// its last call; an exception it raises (or Ctrl-C) stops the build once
// the scans under way end, and is raised here.
std::shared_ptr<RecordIndex> BuildIndexFromPython(
    const std::vector<std::string>& uris, const std::string& storage_options,
    int num_workers, const py::object& progress) {
  IndexBuildOptions options;
  options.num_workers = num_workers;
  size_t reported = 0;
  std::optional<py::error_already_set> raised;
  IndexBuildProgress on_progress = [&](size_t done) -> absl::Status {
    py::gil_scoped_acquire locked;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (done > reported && !progress.is_none()) progress(done - reported);
      reported = done;
      return absl::OkStatus();
    } catch (py::error_already_set& e) {
      raised.emplace(std::move(e));
      return absl::CancelledError("building the index was interrupted");
    }
  };
  absl::StatusOr<RecordIndex> built =
      WithStorage(storage_options, [&](const Storage& storage) {
        return BuildIndex(uris, storage.Opener(), options, on_progress);
      });
  if (raised.has_value()) throw *raised;
  return std::make_shared<RecordIndex>(ValueOrThrow(std::move(built)));
}

}  // namespace
}  // namespace ffm

PYBIND11_MODULE(_engine, m) {
  using namespace ffm;  // NOLINT: the module is all engine names
  m.doc() =
      "tf-ffm's engine for what is not a tensor pipeline: record index, "
      "listing, whole-object reads and writes, reader counters. Importing it "
      "does not import TensorFlow; errors are raised as tf.errors classes.";
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      SetPythonError(e.status);
    }
  });

  m.attr("FRAMING_SIZE") = py::int_(tfrecord::kFramingSize);
  m.attr("HEADER_SIZE") = py::int_(tfrecord::kHeaderSize);

  py::class_<RecordIndex, std::shared_ptr<RecordIndex>>(
      m, "Index", "The engine's RecordIndex: (file, offset, length) of every record.")
      .def_static(
          "parse",
          [](const py::bytes& data, const std::string& name) {
            absl::string_view bytes = BytesView(data);
            absl::StatusOr<RecordIndex> index;
            {
              py::gil_scoped_release unlocked;
              index = RecordIndex::Parse(bytes, name);
            }
            return std::make_shared<RecordIndex>(ValueOrThrow(std::move(index)));
          },
          py::arg("data"), py::arg("name") = "index",
          "Parses a serialised index; DataLossError naming `name` if corrupt.")
      .def_static(
          "open",
          [](const std::string& uri, const std::string& storage_options) {
            absl::StatusOr<std::shared_ptr<const RecordIndex>> index =
                WithStorage(storage_options, [&](const Storage& storage) {
                  return OpenIndexFile(uri, storage.Opener());
                });
            // Read-only in Python too; the const is the engine's sharing.
            return std::const_pointer_cast<RecordIndex>(
                ValueOrThrow(std::move(index)));
          },
          py::arg("uri"), py::arg("storage_options") = "",
          "Opens an index file in place (memory-mapped; s3:// fetched once "
          "into the local index cache); records are checked as located.")
      .def_static("create", &CreateIndex, py::arg("files"), py::arg("sizes"),
                  py::arg("mtimes_ns"), py::arg("counts"), py::arg("lengths"),
                  "An index from per-file columns and every record's data length.")
      .def_static("build", &BuildIndexFromPython, py::arg("files"),
                  py::arg("storage_options") = "", py::arg("num_workers") = 8,
                  py::arg("progress") = py::none(),
                  "Scans `files` (num_workers at a time, without the GIL); "
                  "progress(n) is called with each number of files finished.")
      .def(
          "serialize",
          [](const RecordIndex& index) {
            std::string bytes;
            {
              py::gil_scoped_release unlocked;
              bytes = index.Serialize();
            }
            return py::bytes(bytes);
          })
      .def("__len__", &RecordIndex::num_records)
      .def_property_readonly(
          "files",
          [](const RecordIndex& index) {
            py::list out;
            for (const IndexedFile& f : index.files()) out.append(py::str(f.uri));
            return out;
          })
      .def_property_readonly("sizes",
                             [](const RecordIndex& index) {
                               return FileColumn(index, &IndexedFile::size);
                             })
      .def_property_readonly("mtimes_ns",
                             [](const RecordIndex& index) {
                               return FileColumn(index, &IndexedFile::mtime_ns);
                             })
      .def_property_readonly("counts",
                             [](const RecordIndex& index) {
                               return FileColumn(index, &IndexedFile::num_records);
                             })
      .def_property_readonly(
          "lengths",
          [](const RecordIndex& index) {
            ThrowIfError(index.CheckAll());
            return ReadOnlyArray(index.lengths());
          },
          "Data length of every record (a read-only array made on each call).")
      .def_property_readonly(
          "offsets",
          [](const RecordIndex& index) {
            ThrowIfError(index.CheckAll());
            return ReadOnlyArray(index.offsets());
          },
          "Offset of every record's header in its file (made on each call).")
      .def_property_readonly("serialized_size", &RecordIndex::serialized_size)
      .def(
          "locate",
          [](const RecordIndex& index, int64_t i) {
            if (i < 0 || static_cast<uint64_t>(i) >= index.num_records()) {
              throw py::index_error(absl::StrCat("record ", i, " out of range for ",
                                                 index.num_records(), " records"));
            }
            RecordLocation at =
                ValueOrThrow(index.Find(static_cast<uint64_t>(i)));
            return py::make_tuple(at.file, at.offset, at.length);
          },
          py::arg("i"), "(file number, offset, length) of record i.");

  py::class_<IndexWriter>(
      m, "IndexWriter",
      "Writes an index file file by file, in memory for one block of offsets: "
      "for indexes too large to build in memory.")
      .def(py::init([](const std::string& path) {
             return ValueOrThrow(IndexWriter::ToFile(path));
           }),
           py::arg("path"))
      .def(
          "add_file",
          [](IndexWriter& w, const std::string& uri, int64_t size,
             int64_t mtime_ns, const Int64Array& lengths) {
            if (size < 0 || lengths.ndim() != 1) {
              ThrowIfError(absl::InvalidArgumentError(absl::StrCat(
                  uri, ": a size >= 0 and one-dimensional lengths are needed")));
            }
            const auto* data = reinterpret_cast<const uint64_t*>(lengths.data());
            const size_t n = static_cast<size_t>(lengths.size());
            for (size_t i = 0; i < n; ++i) {
              if (lengths.data()[i] < 0) {
                ThrowIfError(absl::InvalidArgumentError(
                    absl::StrCat(uri, ": negative length of record ", i)));
              }
            }
            IndexedFile f{uri, static_cast<uint64_t>(size), mtime_ns, n, 0};
            py::gil_scoped_release unlocked;
            ThrowIfError(w.AddFile(std::move(f), absl::MakeConstSpan(data, n)));
          },
          py::arg("uri"), py::arg("size"), py::arg("mtime_ns"), py::arg("lengths"))
      .def("finish", [](IndexWriter& w) {
        py::gil_scoped_release unlocked;
        ThrowIfError(w.Finish().status());
      });

  m.def("index_cache_dir", &IndexCacheDir,
        "Where indexes opened from remote storage are kept.");
  m.def(
      "read_whole",
      [](const std::string& uri, const std::string& storage_options) {
        std::string bytes = ValueOrThrow(WithStorage(
            storage_options, [&](const Storage& s) { return s.ReadWhole(uri); }));
        return py::bytes(bytes);
      },
      py::arg("uri"), py::arg("storage_options") = "",
      "The whole object or file at `uri`.");
  m.def(
      "write_whole",
      [](const std::string& uri, const py::bytes& data,
         const std::string& storage_options) {
        absl::string_view bytes = BytesView(data);
        ThrowIfError(WithStorage(storage_options, [&](const Storage& s) {
          return s.WriteWhole(uri, bytes);
        }));
      },
      py::arg("uri"), py::arg("data"), py::arg("storage_options") = "",
      "Writes `data` as the whole object or file at `uri`.");
  m.def(
      "stat",
      [](const std::string& uri, const std::string& storage_options) {
        return ValueOrThrow(WithStorage(
            storage_options,
            [&](const Storage& s) -> absl::StatusOr<std::pair<uint64_t, int64_t>> {
              absl::StatusOr<std::unique_ptr<ByteSource>> source = s.Open(uri);
              if (!source.ok()) return source.status();
              return std::make_pair((*source)->size(), (*source)->mtime_ns());
            }));
      },
      py::arg("uri"), py::arg("storage_options") = "",
      "(size, mtime_ns) of `uri`; mtime_ns is 0 where unknown.");
  m.def(
      "list",
      [](const std::string& pattern, const std::string& storage_options) {
        return ValueOrThrow(WithStorage(
            storage_options, [&](const Storage& s) { return s.List(pattern); }));
      },
      py::arg("pattern"), py::arg("storage_options") = "",
      "Sorted URIs matching dir/name-pattern (wildcards in the last component).");
  m.def(
      "stats", [] { return IoStats::Global().Snapshot(); },
      "This library's reader counters, in the order of tf_ffm.metrics.FIELDS "
      "(wait in ns).");
}

// The s3:// scheme for all of TensorFlow (tf.io.gfile, TFRecordDataset,
// checkpoints, SavedModel, summaries), as a modular filesystem plugin: the C
// tables of tensorflow/c/experimental/filesystem/filesystem_interface.h,
// filled in TF_InitPlugin, which tf.experimental.register_filesystem_plugin
// calls when tf_ffm registers this library (tf_ffm/_loader.py).
//
// Why the plugin interface rather than a C++ tsl::FileSystem subclass: its
// tables are a C ABI with version numbers that TensorFlow checks at
// registration, unchanged since TF 2.3, while the C++ FileSystem class
// changes its virtual methods between minors; and registering reports an
// existing "s3" filesystem (tensorflow-io) as an error tf_ffm can act on,
// where a static C++ registration would be silently ignored.
//
// Only glue: every S3 operation is in the engine (ffm/io/s3_objects.h,
// s3_source.h, prefetch/readahead_file.h). Settings are read from the
// environment at each open or call (S3Config::FromEnv, S3FsOptions::FromEnv),
// as FFMRecordDataset reads them when a dataset is created, so a change of
// AWS_ENDPOINT_URL applies to the next file opened.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ffm/io/s3_config.h"
#include "ffm/io/s3_fs_options.h"
#include "ffm/io/s3_objects.h"
#include "ffm/io/s3_source.h"
#include "ffm/prefetch/byte_budget.h"
#include "ffm/prefetch/executor.h"
#include "ffm/prefetch/readahead_file.h"
#include "tensorflow/c/experimental/filesystem/filesystem_interface.h"
#include "tensorflow/c/tf_status.h"

namespace ffm {
namespace tf_s3 {
namespace {

// Readahead threads of all s3:// files of the process.
constexpr int kReadThreads = 16;

void SetStatus(TF_Status* status, const absl::Status& s) {
  // absl's codes are TensorFlow's, number for number.
  TF_SetStatus(status, static_cast<TF_Code>(s.code()),
               std::string(s.message()).c_str());
}

absl::StatusOr<S3Config> Config() { return S3Config::FromEnv(); }

// Created by `init`, destroyed by `cleanup` (TensorFlow keeps a registered
// filesystem for the life of the process): the read pool and the readahead
// budget all s3:// files share.
struct Filesystem {
  std::mutex mu;
  std::unique_ptr<ThreadPool> pool;       // created on the first read
  std::shared_ptr<ByteBudget> readahead;  // sized by that read's options
};

Filesystem* Fs(const TF_Filesystem* fs) {
  return static_cast<Filesystem*>(fs->plugin_filesystem);
}

char* CopyString(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

// Lists for TensorFlow: an array and strings it frees with plugin memory.
int ReturnNames(const absl::StatusOr<std::vector<std::string>>& names,
                char*** entries, TF_Status* status) {
  if (!names.ok()) {
    SetStatus(status, names.status());
    return -1;
  }
  *entries = static_cast<char**>(
      std::malloc(sizeof(char*) * std::max<size_t>(names->size(), 1)));
  for (size_t i = 0; i < names->size(); ++i) {
    (*entries)[i] = CopyString((*names)[i]);
  }
  TF_SetStatus(status, TF_OK, "");
  return static_cast<int>(names->size());
}

// -- random access files ------------------------------------------------------

namespace random_access {

void Cleanup(TF_RandomAccessFile* file) {
  delete static_cast<ReadaheadFile*>(file->plugin_file);
}

int64_t Read(const TF_RandomAccessFile* file, uint64_t offset, size_t n,
             char* buffer, TF_Status* status) {
  auto* f = static_cast<ReadaheadFile*>(file->plugin_file);
  absl::StatusOr<size_t> got = f->Read(offset, n, buffer);
  if (!got.ok()) {
    SetStatus(status, got.status());
    return -1;
  }
  if (*got < n) {
    TF_SetStatus(status, TF_OUT_OF_RANGE,
                 absl::StrCat(f->source().uri(), ": read of ", n,
                              " bytes at byte offset ", offset,
                              " reached the end of the object (",
                              f->source().size(), " bytes)")
                     .c_str());
  } else {
    TF_SetStatus(status, TF_OK, "");
  }
  return static_cast<int64_t>(*got);
}

}  // namespace random_access

// -- writable files ----------------------------------------------------------

namespace writable {

S3ObjectWriter* Writer(const TF_WritableFile* file) {
  return static_cast<S3ObjectWriter*>(file->plugin_file);
}

// Deleting a writer that was not closed aborts its upload.
void Cleanup(TF_WritableFile* file) { delete Writer(file); }

void Append(const TF_WritableFile* file, const char* buffer, size_t n,
            TF_Status* status) {
  SetStatus(status, Writer(file)->Append(absl::string_view(buffer, n)));
}

int64_t Tell(const TF_WritableFile* file, TF_Status* status) {
  TF_SetStatus(status, TF_OK, "");
  return static_cast<int64_t>(Writer(file)->position());
}

void Flush(const TF_WritableFile* file, TF_Status* status) {
  SetStatus(status, Writer(file)->Flush());
}

void Close(const TF_WritableFile* file, TF_Status* status) {
  SetStatus(status, Writer(file)->Close());
}

}  // namespace writable

// -- the filesystem ----------------------------------------------------------

namespace fs {

void Init(TF_Filesystem* filesystem, TF_Status* status) {
  filesystem->plugin_filesystem = new Filesystem;
  TF_SetStatus(status, TF_OK, "");
}

void Cleanup(TF_Filesystem* filesystem) { delete Fs(filesystem); }

void NewRandomAccessFile(const TF_Filesystem* filesystem, const char* path,
                         TF_RandomAccessFile* file, TF_Status* status) {
  auto config = Config();
  if (!config.ok()) return SetStatus(status, config.status());
  auto options = S3FsOptions::FromEnv();
  if (!options.ok()) return SetStatus(status, options.status());
  auto source = OpenS3Source(path, *config);
  if (!source.ok()) return SetStatus(status, source.status());
  Filesystem* state = Fs(filesystem);
  {
    std::lock_guard<std::mutex> lock(state->mu);
    if (state->pool == nullptr) {
      state->pool = std::make_unique<ThreadPool>(kReadThreads);
      state->readahead = std::make_shared<ByteBudget>(options->readahead_bytes);
    }
  }
  PrefetchOptions prefetch;
  prefetch.max_window_bytes = options->readahead_per_file;
  prefetch.max_in_flight = kReadThreads / 2;
  file->plugin_file = new ReadaheadFile(*std::move(source), prefetch,
                                        state->pool.get(), state->readahead);
  TF_SetStatus(status, TF_OK, "");
}

absl::StatusOr<std::unique_ptr<S3ObjectWriter>> OpenWriter(const char* path) {
  auto config = Config();
  if (!config.ok()) return config.status();
  auto options = S3FsOptions::FromEnv();
  if (!options.ok()) return options.status();
  return S3ObjectWriter::Open(path, *config, options->write);
}

void NewWritableFile(const TF_Filesystem*, const char* path,
                     TF_WritableFile* file, TF_Status* status) {
  auto writer = OpenWriter(path);
  if (!writer.ok()) return SetStatus(status, writer.status());
  file->plugin_file = writer->release();
  TF_SetStatus(status, TF_OK, "");
}

// S3 cannot append to an object: the writer starts with the old contents
// (read back in parts, so memory stays bounded) and replaces the object at
// Close(), as TensorFlow's former S3 and GCS filesystems did.
void NewAppendableFile(const TF_Filesystem*, const char* path,
                       TF_WritableFile* file, TF_Status* status) {
  auto config = Config();
  if (!config.ok()) return SetStatus(status, config.status());
  auto writer = OpenWriter(path);
  if (!writer.ok()) return SetStatus(status, writer.status());
  auto old = OpenS3Source(path, *config);
  if (!old.ok() && old.status().code() != absl::StatusCode::kNotFound) {
    return SetStatus(status, old.status());
  }
  if (old.ok()) {
    std::string part(1 << 20, '\0');
    for (uint64_t at = 0; at < (*old)->size();) {
      auto got = (*old)->ReadAt(at, part.size(), part.data());
      if (!got.ok()) return SetStatus(status, got.status());
      absl::Status s = (*writer)->Append(absl::string_view(part.data(), *got));
      if (!s.ok()) return SetStatus(status, s);
      at += *got;
    }
  }
  file->plugin_file = writer->release();
  TF_SetStatus(status, TF_OK, "");
}

// Runs `op` with the configuration, or reports why there is none.
template <typename Op>
void WithConfig(TF_Status* status, Op op) {
  auto config = Config();
  if (!config.ok()) return SetStatus(status, config.status());
  SetStatus(status, op(*config));
}

void CreateDir(const TF_Filesystem*, const char* path, TF_Status* status) {
  WithConfig(status, [&](const S3Config& c) { return CreateS3Dir(path, c); });
}

void DeleteFile(const TF_Filesystem*, const char* path, TF_Status* status) {
  WithConfig(status,
             [&](const S3Config& c) { return DeleteS3Object(path, c); });
}

void DeleteDir(const TF_Filesystem*, const char* path, TF_Status* status) {
  WithConfig(status, [&](const S3Config& c) { return DeleteS3Dir(path, c); });
}

void DeleteRecursively(const TF_Filesystem*, const char* path,
                       uint64_t* undeleted_files, uint64_t* undeleted_dirs,
                       TF_Status* status) {
  WithConfig(status,
             [&](const S3Config& c) { return DeleteS3Recursively(path, c); });
  const bool ok = TF_GetCode(status) == TF_OK;
  *undeleted_files = 0;
  *undeleted_dirs = ok ? 0 : 1;
}

void RenameFile(const TF_Filesystem*, const char* src, const char* dst,
                TF_Status* status) {
  WithConfig(status,
             [&](const S3Config& c) { return RenameS3Object(src, dst, c); });
}

void CopyFile(const TF_Filesystem*, const char* src, const char* dst,
              TF_Status* status) {
  WithConfig(status,
             [&](const S3Config& c) { return CopyS3Object(src, dst, c); });
}

absl::StatusOr<S3ObjectInfo> StatPath(const char* path) {
  auto config = Config();
  if (!config.ok()) return config.status();
  return StatS3(path, *config);
}

void PathExists(const TF_Filesystem*, const char* path, TF_Status* status) {
  SetStatus(status, StatPath(path).status());
}

void Stat(const TF_Filesystem*, const char* path, TF_FileStatistics* stats,
          TF_Status* status) {
  auto info = StatPath(path);
  if (!info.ok()) return SetStatus(status, info.status());
  stats->length = static_cast<int64_t>(info->size);
  stats->mtime_nsec = info->mtime_ns;
  stats->is_directory = info->is_directory;
  TF_SetStatus(status, TF_OK, "");
}

bool IsDirectory(const TF_Filesystem*, const char* path, TF_Status* status) {
  auto info = StatPath(path);
  if (!info.ok()) {
    SetStatus(status, info.status());
    return false;
  }
  if (!info->is_directory) {
    TF_SetStatus(status, TF_FAILED_PRECONDITION,
                 absl::StrCat(path, ": is an object, not a directory").c_str());
    return false;
  }
  TF_SetStatus(status, TF_OK, "");
  return true;
}

int GetChildren(const TF_Filesystem*, const char* path, char*** entries,
                TF_Status* status) {
  auto config = Config();
  if (!config.ok()) {
    SetStatus(status, config.status());
    return -1;
  }
  return ReturnNames(ListS3Children(path, *config), entries, status);
}

int GetMatchingPaths(const TF_Filesystem*, const char* glob, char*** entries,
                     TF_Status* status) {
  auto config = Config();
  if (!config.ok()) {
    SetStatus(status, config.status());
    return -1;
  }
  return ReturnNames(GlobS3(glob, *config), entries, status);
}

// TensorFlow's default would strip the scheme and the bucket.
char* TranslateName(const TF_Filesystem*, const char* uri) {
  return CopyString(uri);
}

}  // namespace fs

template <typename T>
T* Allocate() {
  return static_cast<T*>(std::calloc(1, sizeof(T)));
}

}  // namespace
}  // namespace tf_s3
}  // namespace ffm

extern "C" {

// Called by TensorFlow (RegisterFilesystemPlugin) after it opened this
// library; the tables become TensorFlow's, freed with std::free.
__attribute__((visibility("default"))) void TF_InitPlugin(
    TF_FilesystemPluginInfo* info) {
  using namespace ffm::tf_s3;  // NOLINT: the tables name every function
  info->plugin_memory_allocate = std::malloc;
  info->plugin_memory_free = std::free;
  info->num_schemes = 1;
  info->ops = Allocate<TF_FilesystemPluginOps>();
  TF_FilesystemPluginOps* ops = info->ops;
  TF_SetFilesystemVersionMetadata(ops);
  ops->scheme = CopyString("s3");

  ops->random_access_file_ops = Allocate<TF_RandomAccessFileOps>();
  ops->random_access_file_ops->cleanup = random_access::Cleanup;
  ops->random_access_file_ops->read = random_access::Read;

  ops->writable_file_ops = Allocate<TF_WritableFileOps>();
  ops->writable_file_ops->cleanup = writable::Cleanup;
  ops->writable_file_ops->append = writable::Append;
  ops->writable_file_ops->tell = writable::Tell;
  ops->writable_file_ops->flush = writable::Flush;
  ops->writable_file_ops->sync = writable::Flush;
  ops->writable_file_ops->close = writable::Close;

  // No read-only memory regions: TensorFlow then answers Unimplemented
  // ("... does not support NewReadOnlyMemoryRegionFromFile()").
  ops->filesystem_ops = Allocate<TF_FilesystemOps>();
  TF_FilesystemOps* f = ops->filesystem_ops;
  f->init = fs::Init;
  f->cleanup = fs::Cleanup;
  f->new_random_access_file = fs::NewRandomAccessFile;
  f->new_writable_file = fs::NewWritableFile;
  f->new_appendable_file = fs::NewAppendableFile;
  f->create_dir = fs::CreateDir;
  f->delete_file = fs::DeleteFile;
  f->delete_dir = fs::DeleteDir;
  f->delete_recursively = fs::DeleteRecursively;
  f->rename_file = fs::RenameFile;
  f->copy_file = fs::CopyFile;
  f->path_exists = fs::PathExists;
  f->stat = fs::Stat;
  f->is_directory = fs::IsDirectory;
  f->get_children = fs::GetChildren;
  f->get_matching_paths = fs::GetMatchingPaths;
  f->translate_name = fs::TranslateName;
}

}  // extern "C"

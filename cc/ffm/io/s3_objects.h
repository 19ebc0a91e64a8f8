// Whole-object operations on S3 that a filesystem needs beside ranged reads
// (s3_source.h): stat, listing, delete, copy, directory markers, and a
// streaming writer. No Arrow or TensorFlow types; Arrow errors become
// absl::Status naming the URI, once, in s3_objects.cc.
//
// S3 has no directories. As TensorFlow's former S3 filesystem did, a
// "directory" is any prefix `p/` that has objects below it or a marker
// object `p/` (CreateS3Dir writes one); the bucket is the root.
#ifndef FFM_IO_S3_OBJECTS_H_
#define FFM_IO_S3_OBJECTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ffm/io/s3_config.h"

namespace ffm {

struct S3ObjectInfo {
  bool is_directory = false;
  uint64_t size = 0;      // 0 for a directory
  int64_t mtime_ns = 0;   // 0 where S3 gave none (directories)
};

// NotFound (naming the URI) if there is neither an object nor a directory.
absl::StatusOr<S3ObjectInfo> StatS3(const std::string& uri,
                                    const S3Config& config);

// Names (not paths) of the objects and directories right below the
// directory `dir_uri`, from ListObjectsV2 pages with '/' as delimiter.
// NotFound if `dir_uri` is not a directory.
absl::StatusOr<std::vector<std::string>> ListS3Children(
    const std::string& dir_uri, const S3Config& config);

// s3:// URIs of the objects and directories matching `pattern` (TensorFlow's
// glob: `*` and `?` do not match '/', `[...]` classes), sorted. One
// recursive listing below the longest prefix without a wildcard; the bucket
// name may not contain one (InvalidArgument).
absl::StatusOr<std::vector<std::string>> GlobS3(const std::string& pattern,
                                                const S3Config& config);

// Deletes one object. NotFound if it does not exist; FailedPrecondition if
// `uri` is a directory.
absl::Status DeleteS3Object(const std::string& uri, const S3Config& config);

// Deletes the marker of an empty directory. FailedPrecondition if it still
// has entries; NotFound if it does not exist.
absl::Status DeleteS3Dir(const std::string& uri, const S3Config& config);

// Deletes everything below `uri` and its marker (batched DeleteObjects).
// NotFound if nothing exists there.
absl::Status DeleteS3Recursively(const std::string& uri,
                                 const S3Config& config);

// Creates a directory marker `key/` (the bucket must exist). An existing
// directory is AlreadyExists, as TensorFlow expects of CreateDir.
absl::Status CreateS3Dir(const std::string& uri, const S3Config& config);

// Copies one object inside S3. Server-side (CopyObject) up to 5 GiB, the
// largest object one CopyObject accepts; larger objects are streamed through
// this process (S3ObjectWriter), since Arrow has no multipart copy.
absl::Status CopyS3Object(const std::string& src, const std::string& dst,
                          const S3Config& config);

// CopyS3Object then DeleteS3Object(src): S3 has no rename.
absl::Status RenameS3Object(const std::string& src, const std::string& dst,
                            const S3Config& config);

// The size of every part but the last: Arrow 26's output stream cuts parts
// of exactly 10 MiB (its kPartUploadSize, not an option), whatever size it
// is handed (measured: 40 MiB written in 12 MiB or 5 MiB pieces gives 5
// parts). S3 allows 10,000 parts, so objects up to ~97 GiB.
inline constexpr uint64_t kS3UploadPartSize = 10ull << 20;

struct S3WriteOptions {
  // Parts uploading at once; a writer holds at most (parts_in_flight + 1) x
  // kS3UploadPartSize bytes.
  int parts_in_flight = 8;
  // InvalidArgument unless parts_in_flight is 1 to 256.
  absl::Status Validate() const;
};

// Writes one object as a stream:
//
//   bytes:  |-- part 1 --|-- part 2 --|-- part 3 --|- buffered -|
//            uploading    uploading    uploading    (Append)
//
// Nothing is sent until a whole part is buffered; then a multipart upload
// starts and parts go up in the background, at most `parts_in_flight` at a
// time. Close() uploads the rest and completes the upload: only then does
// the object appear (or change). An object smaller than one part is a single
// PUT at Close(). An error, or destruction without Close(), aborts the
// upload, so no partial object ever appears.
//
// Flush() makes the bytes written so far visible while they fit in one part
// (a PUT of the buffered bytes, as TensorBoard's event writer expects of a
// flush); once a multipart upload has started, the object changes only at
// Close(). One thread at a time.
class S3ObjectWriter {
 public:
  // Sends no request: errors (a missing bucket, a denied write) surface at
  // the first upload, at the latest at Close().
  static absl::StatusOr<std::unique_ptr<S3ObjectWriter>> Open(
      const std::string& uri, const S3Config& config,
      const S3WriteOptions& options);
  virtual ~S3ObjectWriter() = default;

  virtual absl::Status Append(absl::string_view data) = 0;
  virtual uint64_t position() const = 0;  // bytes appended so far
  virtual absl::Status Flush() = 0;
  virtual absl::Status Close() = 0;
};

}  // namespace ffm

#endif  // FFM_IO_S3_OBJECTS_H_

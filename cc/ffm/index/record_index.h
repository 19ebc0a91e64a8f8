// Where every record of a dataset is: (file, offset, length), for random
// access. One index covers all files of a dataset, so opening it costs one
// read however many objects there are.
//
// Records of a TFRecord file are contiguous, so only data lengths are stored;
// offsets are prefix sums: offset[i+1] = offset[i] + 12 + length[i] + 4.
//
// Serialised form (little-endian):
//   "TFFMIDX1"  u64 num_files  u64 num_records
//   per file:   u32 uri_len, uri, u64 size, i64 mtime_ns, u64 num_records
//   per record: u64 data_length
//   u32 masked CRC32C of everything before it
#ifndef FFM_INDEX_RECORD_INDEX_H_
#define FFM_INDEX_RECORD_INDEX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ffm {

struct IndexedFile {
  std::string uri;
  uint64_t size = 0;       // bytes when indexed: a different size = stale
  int64_t mtime_ns = 0;    // when indexed (0 = unknown)
  uint64_t num_records = 0;
};

struct RecordLocation {
  uint32_t file;    // into files()
  uint64_t offset;  // of the record's header
  uint64_t length;  // of its data
};

class RecordIndex {
 public:
  // `lengths` holds the data length of every record, file after file.
  // InvalidArgument if the counts do not add up or a file's records overrun
  // its size.
  static absl::StatusOr<RecordIndex> Create(std::vector<IndexedFile> files,
                                            std::vector<uint64_t> lengths);
  // DataLoss naming `name` for a corrupt or truncated index.
  static absl::StatusOr<RecordIndex> Parse(absl::string_view bytes,
                                           const std::string& name);
  std::string Serialize() const;

  uint64_t num_records() const { return lengths_.size(); }
  const std::vector<IndexedFile>& files() const { return files_; }
  const std::vector<uint64_t>& lengths() const { return lengths_; }
  // Where each record's header starts in its file (prefix sums of framed
  // lengths, restarting at 0 for each file).
  const std::vector<uint64_t>& offsets() const { return offsets_; }

  // Record `i` (0 <= i < num_records, unchecked), numbered in file order.
  RecordLocation Locate(uint64_t i) const;

 private:
  std::vector<IndexedFile> files_;
  std::vector<uint64_t> lengths_;
  std::vector<uint64_t> offsets_;       // per record
  std::vector<uint64_t> first_record_;  // per file, plus a final total
};

}  // namespace ffm

#endif  // FFM_INDEX_RECORD_INDEX_H_

// Where every record of a dataset is: (file, offset, length), for random
// access. One index covers all files of a dataset, so opening it costs one
// read however many objects there are.
//
// The index is its serialised bytes (an IndexRegion: a string, or a memory
// map of a local file), read in place: opening costs the header and the
// file table, not the records, and locating record i reads one fixed-width
// entry. Records of a TFRecord file are contiguous, so each entry is the
// offset of the record's header in its file; a record's data length is the
// gap to the next offset (or to its file's records_end) less the framing.
//
// Serialised form "TFFMIDX2" (little-endian, offsets 8-aligned):
//      0  "TFFMIDX2"
//      8  u64 num_files         16  u64 num_records
//     24  u64 block_records     (offset entries per checksummed block)
//     32  u64 files_offset      40  u64 files_bytes   (the file table)
//     48  u32 masked CRC32C of the file table
//     52  u32 masked CRC32C of bytes [0, 52)
//     56  u64 zero
//     64  u64 offset[num_records]
//         u32 masked CRC32C of each block of offset entries
//   files_offset: per file  u32 uri_len, uri, u64 size, i64 mtime_ns,
//                           u64 num_records, u64 records_end
//   the index ends at files_offset + files_bytes.
//
// Header and file table are checked when the index is opened; a block of
// offsets when a record in it is first located (Find), so a corrupt block
// fails the reads that need it, naming the index, and nothing else. Indexes
// written by earlier versions ("TFFMIDX1": lengths) are still read.
#ifndef FFM_INDEX_RECORD_INDEX_H_
#define FFM_INDEX_RECORD_INDEX_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ffm/index/index_region.h"

namespace ffm {

struct IndexedFile {
  std::string uri;
  uint64_t size = 0;         // bytes when indexed: a different size = stale
  int64_t mtime_ns = 0;      // when indexed (0 = unknown)
  uint64_t num_records = 0;
  uint64_t records_end = 0;  // end of the last record (<= size)
};

struct RecordLocation {
  uint32_t file;    // into files()
  uint64_t offset;  // of the record's header
  uint64_t length;  // of its data
};

class RecordIndex {
 public:
  // Offsets per checksummed block: one 4 KiB page, so checking the block a
  // located record is in reads no more of the index than locating it does.
  static constexpr uint64_t kBlockRecords = 512;

  // `lengths` holds the data length of every record, file after file.
  // InvalidArgument if the counts do not add up or a file's records overrun
  // its size. (records_end of `files` is computed.)
  static absl::StatusOr<RecordIndex> Create(std::vector<IndexedFile> files,
                                            const std::vector<uint64_t>& lengths);
  // Copies `bytes` and checks all of it. DataLoss naming `name` for a
  // corrupt or truncated index.
  static absl::StatusOr<RecordIndex> Parse(absl::string_view bytes,
                                           const std::string& name);
  // Reads `region` in place: checks the header and the file table now, each
  // block of offsets when first used.
  static absl::StatusOr<RecordIndex> Open(
      std::shared_ptr<const IndexRegion> region, const std::string& name);

  std::string Serialize() const { return std::string(region_->bytes()); }
  uint64_t serialized_size() const { return region_->bytes().size(); }

  uint64_t num_records() const { return num_records_; }
  const std::vector<IndexedFile>& files() const { return files_; }
  // Record id of file `f`'s first record; FirstRecord(files().size()) is
  // num_records().
  uint64_t FirstRecord(uint32_t f) const { return first_record_[f]; }
  uint32_t FileOf(uint64_t i) const;

  // Record `i` (< num_records()): DataLoss if its block of the index is
  // corrupt.
  absl::StatusOr<RecordLocation> Find(uint64_t i) const;
  // Record `i` whose block is known good (after Find or CheckAll).
  RecordLocation Locate(uint64_t i) const;
  // Checks every block now.
  absl::Status CheckAll() const;

  // Every record's data length and header offset (copies; CheckAll first).
  std::vector<uint64_t> lengths() const;
  std::vector<uint64_t> offsets() const;

 private:
  uint64_t OffsetAt(uint64_t i) const;
  uint64_t EndOf(uint64_t i, uint32_t file) const;
  absl::Status CheckBlock(uint64_t block) const;
  absl::Status Corrupt(absl::string_view what) const;

  std::shared_ptr<const IndexRegion> region_;
  std::string name_;
  std::vector<IndexedFile> files_;
  std::vector<uint64_t> first_record_;  // per file, plus a final total
  uint64_t num_records_ = 0;
  uint64_t block_records_ = kBlockRecords;
  const char* offsets_ = nullptr;     // into region_
  const char* block_crcs_ = nullptr;  // into region_
  // Per block: 0 not checked yet, 1 good, 2 corrupt. Shared by copies.
  std::shared_ptr<std::atomic<uint8_t>[]> checked_;
};

}  // namespace ffm

#endif  // FFM_INDEX_RECORD_INDEX_H_

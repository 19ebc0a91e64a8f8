// Writes a record index in the "TFFMIDX2" layout (see record_index.h) file
// by file, so an index of any size is written with memory for one block of
// offsets: the offsets stream out as files are added, and the block
// checksums, the file table and the header follow at Finish().
//
//   IndexWriter w = *IndexWriter::ToFile("/data/train.idx");
//   for (...) w.AddFile(file, lengths_of_its_records);
//   w.Finish();   // the file appears (atomically renamed) only now
#ifndef FFM_INDEX_INDEX_WRITER_H_
#define FFM_INDEX_INDEX_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ffm/index/record_index.h"

namespace ffm {

namespace index_format {

constexpr char kMagic[] = "TFFMIDX2";
constexpr size_t kHeaderSize = 64;

struct Header {
  uint64_t num_files = 0;
  uint64_t num_records = 0;
  uint64_t block_records = 0;
  uint64_t files_offset = 0;
  uint64_t files_bytes = 0;
  uint32_t files_crc = 0;  // masked
};

std::string EncodeHeader(const Header& header);
// False for a bad magic or checksum.
bool DecodeHeader(absl::string_view bytes, Header* header);
std::string EncodeFile(const IndexedFile& file);
// Decodes `num_files` entries filling all of `bytes`; false otherwise.
bool DecodeFiles(absl::string_view bytes, uint64_t num_files,
                 std::vector<IndexedFile>* files);

}  // namespace index_format

class IndexWriter {
 public:
  // Writes to `path` + ".tmp", renamed to `path` by Finish().
  static absl::StatusOr<IndexWriter> ToFile(const std::string& path);
  // Writes into a string, returned by Finish().
  static IndexWriter ToString();

  IndexWriter(IndexWriter&&);
  IndexWriter& operator=(IndexWriter&&);
  ~IndexWriter();  // an unfinished file is removed

  // Adds the next file, `lengths` its records' data lengths in order.
  // InvalidArgument if the records do not fit in file.size.
  absl::Status AddFile(IndexedFile file, absl::Span<const uint64_t> lengths);
  // The whole index (empty when written to a file).
  absl::StatusOr<std::string> Finish();

 public:
  class Sink;  // where the bytes go (a string or a file)

 private:
  explicit IndexWriter(std::unique_ptr<Sink> sink);
  absl::Status FlushBlock();

  std::unique_ptr<Sink> sink_;
  std::string block_;                // offsets not yet written
  std::string block_crcs_;           // one u32 per block written
  std::string file_table_;
  uint64_t num_files_ = 0;
  uint64_t num_records_ = 0;
};

}  // namespace ffm

#endif  // FFM_INDEX_INDEX_WRITER_H_

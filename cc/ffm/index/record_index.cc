#include "ffm/index/record_index.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ffm/index/index_v1.h"
#include "ffm/index/index_writer.h"
#include "ffm/tfrecord/format.h"

namespace ffm {

absl::StatusOr<RecordIndex> RecordIndex::Create(
    std::vector<IndexedFile> files, const std::vector<uint64_t>& lengths) {
  IndexWriter writer = IndexWriter::ToString();
  uint64_t next = 0;
  for (IndexedFile& f : files) {
    if (f.num_records > lengths.size() - next) {
      return absl::InvalidArgumentError(absl::StrCat(
          "index lists more records for its files than lengths (",
          lengths.size(), ")"));
    }
    const uint64_t first = next;
    next += f.num_records;
    absl::Status s = writer.AddFile(
        std::move(f), absl::MakeConstSpan(lengths).subspan(first, next - first));
    if (!s.ok()) return s;
  }
  if (next != lengths.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "index has ", lengths.size(), " record lengths but its files list ",
        next, " records"));
  }
  absl::StatusOr<std::string> bytes = writer.Finish();
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<RecordIndex> index =
      Open(OwnedRegion(*std::move(bytes)), "index");
  if (!index.ok()) return index.status();
  absl::Status s = index->CheckAll();
  if (!s.ok()) return s;
  return index;
}

absl::StatusOr<RecordIndex> RecordIndex::Parse(absl::string_view bytes,
                                               const std::string& name) {
  if (bytes.substr(0, kIndexV1Magic.size()) == kIndexV1Magic) {
    std::vector<IndexedFile> files;
    std::vector<uint64_t> lengths;
    absl::Status s = ParseIndexV1(bytes, name, &files, &lengths);
    if (!s.ok()) return s;
    absl::StatusOr<RecordIndex> index = Create(std::move(files), lengths);
    if (!index.ok()) {
      return absl::DataLossError(absl::StrCat(
          name, ": not a valid tf-ffm record index (",
          index.status().message(), ")"));
    }
    index->name_ = name;
    return index;
  }
  absl::StatusOr<RecordIndex> index = Open(OwnedRegion(std::string(bytes)), name);
  if (!index.ok()) return index.status();
  absl::Status s = index->CheckAll();
  if (!s.ok()) return s;
  return index;
}

absl::StatusOr<RecordIndex> RecordIndex::Open(
    std::shared_ptr<const IndexRegion> region, const std::string& name) {
  RecordIndex index;
  index.region_ = std::move(region);
  index.name_ = name;
  const absl::string_view bytes = index.region_->bytes();
  index_format::Header h;
  if (!index_format::DecodeHeader(bytes, &h)) {
    return index.Corrupt(bytes.substr(0, kIndexV1Magic.size()) == kIndexV1Magic
                             ? "an index of the first layout cannot be opened "
                               "in place: load it, save it again"
                             : "bad magic, header checksum or too short");
  }
  // Every size checked against the bytes there are before any is used, so
  // no count can make a read run past the region.
  const uint64_t n = h.num_records;
  const uint64_t size = bytes.size();
  if (h.block_records == 0 || n > (size - index_format::kHeaderSize) / 8) {
    return index.Corrupt("counts exceed the file size");
  }
  const uint64_t blocks = (n + h.block_records - 1) / h.block_records;
  const uint64_t crcs_at = index_format::kHeaderSize + 8 * n;
  if (blocks > (size - crcs_at) / 4 || h.files_offset != crcs_at + 4 * blocks ||
      h.files_bytes != size - h.files_offset) {
    return index.Corrupt("truncated, or sections that do not add up");
  }
  const absl::string_view table = bytes.substr(h.files_offset);
  if (tfrecord::MaskCrc(tfrecord::Crc32c(table)) != h.files_crc ||
      !index_format::DecodeFiles(table, h.num_files, &index.files_)) {
    return index.Corrupt("file table checksum mismatch: truncated or corrupted");
  }
  index.first_record_.reserve(index.files_.size() + 1);
  uint64_t total = 0;
  for (const IndexedFile& f : index.files_) {
    if (f.records_end > f.size || f.num_records > n - total ||
        (f.num_records == 0) != (f.records_end == 0)) {
      return index.Corrupt(absl::StrCat("file table entry of ", f.uri,
                                        " is inconsistent"));
    }
    index.first_record_.push_back(total);
    total += f.num_records;
  }
  if (total != n) return index.Corrupt("file table and record count differ");
  index.first_record_.push_back(total);
  index.num_records_ = n;
  index.block_records_ = h.block_records;
  index.offsets_ = bytes.data() + index_format::kHeaderSize;
  index.block_crcs_ = bytes.data() + crcs_at;
  index.checked_.reset(new std::atomic<uint8_t>[blocks]());
  return index;
}

uint32_t RecordIndex::FileOf(uint64_t i) const {
  // The last file whose first record is <= i holds i (empty files share
  // their first record with the next file and are passed over).
  auto it = std::upper_bound(first_record_.begin(), first_record_.end(), i);
  return static_cast<uint32_t>(it - first_record_.begin() - 1);
}

uint64_t RecordIndex::OffsetAt(uint64_t i) const {
  return tfrecord::DecodeFixed64(offsets_ + 8 * i);
}

// Where record `i` of `file` ends: the next one's header, or the file's end.
uint64_t RecordIndex::EndOf(uint64_t i, uint32_t file) const {
  return i + 1 < first_record_[file + 1] ? OffsetAt(i + 1)
                                         : files_[file].records_end;
}

RecordLocation RecordIndex::Locate(uint64_t i) const {
  const uint32_t file = FileOf(i);
  const uint64_t offset = OffsetAt(i);
  return {file, offset, EndOf(i, file) - offset - tfrecord::kFramingSize};
}

absl::StatusOr<RecordLocation> RecordIndex::Find(uint64_t i) const {
  // The record's length reads the next entry too, which may open a block.
  absl::Status s = CheckBlock(i / block_records_);
  if (s.ok() && i + 1 < num_records_ && (i + 1) % block_records_ == 0) {
    s = CheckBlock((i + 1) / block_records_);
  }
  if (!s.ok()) return s;
  return Locate(i);
}

absl::Status RecordIndex::CheckAll() const {
  for (uint64_t b = 0; b * block_records_ < num_records_; ++b) {
    absl::Status s = CheckBlock(b);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// Racing threads may both check a block; they reach the same verdict.
absl::Status RecordIndex::CheckBlock(uint64_t b) const {
  const uint8_t state = checked_[b].load(std::memory_order_acquire);
  if (state == 1) return absl::OkStatus();
  const uint64_t begin = b * block_records_;
  const uint64_t end = std::min(num_records_, begin + block_records_);
  absl::Status verdict;
  if (state == 2 ||
      tfrecord::MaskCrc(tfrecord::Crc32c(absl::string_view(
          offsets_ + 8 * begin, 8 * (end - begin)))) !=
          tfrecord::DecodeFixed32(block_crcs_ + 4 * b)) {
    verdict = Corrupt(absl::StrCat("checksum mismatch in the offsets of records ",
                                   begin, "..", end - 1));
  }
  // Offsets must frame each record inside its file: no length can then
  // be negative or run past the file.
  for (uint64_t i = begin, file = FileOf(begin); verdict.ok() && i < end; ++i) {
    while (i >= first_record_[file + 1]) ++file;
    const uint64_t offset = OffsetAt(i);
    const uint64_t next = EndOf(i, static_cast<uint32_t>(file));
    if ((i == first_record_[file] && offset != 0) || next < offset ||
        next - offset < tfrecord::kFramingSize ||
        next > files_[file].records_end) {
      verdict = Corrupt(absl::StrCat("record ", i, " of ", files_[file].uri,
                                     " is framed inconsistently"));
    }
  }
  checked_[b].store(verdict.ok() ? 1 : 2, std::memory_order_release);
  return verdict;
}

absl::Status RecordIndex::Corrupt(absl::string_view what) const {
  return absl::DataLossError(
      absl::StrCat(name_, ": not a valid tf-ffm record index (", what, ")"));
}

std::vector<uint64_t> RecordIndex::lengths() const {
  std::vector<uint64_t> out;
  out.reserve(num_records_);
  for (uint64_t i = 0; i < num_records_; ++i) out.push_back(Locate(i).length);
  return out;
}

std::vector<uint64_t> RecordIndex::offsets() const {
  std::vector<uint64_t> out;
  out.reserve(num_records_);
  for (uint64_t i = 0; i < num_records_; ++i) out.push_back(OffsetAt(i));
  return out;
}

}  // namespace ffm

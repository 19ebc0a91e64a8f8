#include "ffm/index/record_index.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ffm/tfrecord/format.h"

namespace ffm {

namespace {

constexpr char kMagic[] = "TFFMIDX1";
constexpr size_t kMagicSize = 8;

void PutU64(std::string* out, uint64_t v) {
  char b[8];
  tfrecord::EncodeFixed64(b, v);
  out->append(b, 8);
}

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  tfrecord::EncodeFixed32(b, v);
  out->append(b, 4);
}

// Reads fixed-size fields from the serialised index, remembering whether it
// ran past the end.
class Cursor {
 public:
  explicit Cursor(absl::string_view bytes) : rest_(bytes) {}
  bool ok() const { return ok_; }
  uint64_t U64() { return Fixed(8) ? tfrecord::DecodeFixed64(last_) : 0; }
  uint32_t U32() { return Fixed(4) ? tfrecord::DecodeFixed32(last_) : 0; }
  std::string Bytes(uint64_t n) {
    if (!ok_ || n > rest_.size()) {
      ok_ = false;
      return "";
    }
    std::string s(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return s;
  }
  size_t remaining() const { return rest_.size(); }

 private:
  bool Fixed(size_t n) {
    if (!ok_ || rest_.size() < n) return ok_ = false;
    last_ = rest_.data();
    rest_.remove_prefix(n);
    return true;
  }
  absl::string_view rest_;
  const char* last_ = nullptr;
  bool ok_ = true;
};

}  // namespace

absl::StatusOr<RecordIndex> RecordIndex::Create(std::vector<IndexedFile> files,
                                                std::vector<uint64_t> lengths) {
  RecordIndex index;
  index.offsets_.reserve(lengths.size());
  index.first_record_.reserve(files.size() + 1);
  uint64_t record = 0;
  for (const IndexedFile& f : files) {
    index.first_record_.push_back(record);
    uint64_t offset = 0;
    for (uint64_t j = 0; j < f.num_records; ++j, ++record) {
      if (record >= lengths.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "index lists more records for its files than lengths (",
            lengths.size(), ")"));
      }
      index.offsets_.push_back(offset);
      if (lengths[record] > f.size ||
          f.size - offset < tfrecord::FramedSize(lengths[record])) {
        return absl::InvalidArgumentError(absl::StrCat(
            f.uri, ": indexed records run past the file's ", f.size,
            " bytes at record ", j));
      }
      offset += tfrecord::FramedSize(lengths[record]);
    }
  }
  if (record != lengths.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "index has ", lengths.size(), " record lengths but its files list ",
        record, " records"));
  }
  index.first_record_.push_back(record);
  index.files_ = std::move(files);
  index.lengths_ = std::move(lengths);
  return index;
}

std::string RecordIndex::Serialize() const {
  std::string out(kMagic, kMagicSize);
  PutU64(&out, files_.size());
  PutU64(&out, lengths_.size());
  for (const IndexedFile& f : files_) {
    PutU32(&out, static_cast<uint32_t>(f.uri.size()));
    out.append(f.uri);
    PutU64(&out, f.size);
    PutU64(&out, static_cast<uint64_t>(f.mtime_ns));
    PutU64(&out, f.num_records);
  }
  for (uint64_t length : lengths_) PutU64(&out, length);
  PutU32(&out, tfrecord::MaskCrc(tfrecord::Crc32c(out)));
  return out;
}

absl::StatusOr<RecordIndex> RecordIndex::Parse(absl::string_view bytes,
                                               const std::string& name) {
  auto corrupt = [&name](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat(name, ": not a valid tf-ffm record index (", what, ")"));
  };
  if (bytes.size() < kMagicSize + 16 + 4 ||
      bytes.substr(0, kMagicSize) != absl::string_view(kMagic, kMagicSize)) {
    return corrupt("bad magic or too short");
  }
  absl::string_view body = bytes.substr(0, bytes.size() - 4);
  if (tfrecord::MaskCrc(tfrecord::Crc32c(body)) !=
      tfrecord::DecodeFixed32(bytes.data() + body.size())) {
    return corrupt("checksum mismatch: truncated or corrupted");
  }
  Cursor in(body.substr(kMagicSize));
  uint64_t num_files = in.U64();
  uint64_t num_records = in.U64();
  // Each file takes at least 28 bytes and each record 8: bound the counts
  // by the size before reserving anything.
  if (num_files > in.remaining() / 28 || num_records > in.remaining() / 8) {
    return corrupt("counts exceed the file size");
  }
  std::vector<IndexedFile> files(num_files);
  for (IndexedFile& f : files) {
    f.uri = in.Bytes(in.U32());
    f.size = in.U64();
    f.mtime_ns = static_cast<int64_t>(in.U64());
    f.num_records = in.U64();
  }
  std::vector<uint64_t> lengths(in.ok() ? num_records : 0);
  for (uint64_t& length : lengths) length = in.U64();
  if (!in.ok() || in.remaining() != 0) return corrupt("inconsistent sizes");
  absl::StatusOr<RecordIndex> index =
      Create(std::move(files), std::move(lengths));
  if (!index.ok()) return corrupt(index.status().message());
  return index;
}

RecordLocation RecordIndex::Locate(uint64_t i) const {
  auto it = std::upper_bound(first_record_.begin(), first_record_.end(), i);
  // The last file whose first record is <= i holds i (empty files share
  // their first_record with the next file and are passed over).
  uint32_t file = static_cast<uint32_t>(it - first_record_.begin() - 1);
  return {file, offsets_[i], lengths_[i]};
}

}  // namespace ffm

#include "ffm/index/index_v1.h"

#include "absl/strings/str_cat.h"
#include "ffm/tfrecord/format.h"

namespace ffm {

namespace {

// Reads fixed-size fields, remembering whether it ran past the end.
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

absl::Status ParseIndexV1(absl::string_view bytes, const std::string& name,
                          std::vector<IndexedFile>* files,
                          std::vector<uint64_t>* lengths) {
  auto corrupt = [&name](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat(name, ": not a valid tf-ffm record index (", what, ")"));
  };
  const size_t magic = kIndexV1Magic.size();
  if (bytes.size() < magic + 16 + 4 || bytes.substr(0, magic) != kIndexV1Magic) {
    return corrupt("bad magic or too short");
  }
  absl::string_view body = bytes.substr(0, bytes.size() - 4);
  if (tfrecord::MaskCrc(tfrecord::Crc32c(body)) !=
      tfrecord::DecodeFixed32(bytes.data() + body.size())) {
    return corrupt("checksum mismatch: truncated or corrupted");
  }
  Cursor in(body.substr(magic));
  uint64_t num_files = in.U64();
  uint64_t num_records = in.U64();
  // Each file takes at least 28 bytes and each record 8: bound the counts
  // by the size before reserving anything.
  if (num_files > in.remaining() / 28 || num_records > in.remaining() / 8) {
    return corrupt("counts exceed the file size");
  }
  files->assign(num_files, IndexedFile());
  for (IndexedFile& f : *files) {
    f.uri = in.Bytes(in.U32());
    f.size = in.U64();
    f.mtime_ns = static_cast<int64_t>(in.U64());
    f.num_records = in.U64();
  }
  lengths->assign(in.ok() ? num_records : 0, 0);
  for (uint64_t& length : *lengths) length = in.U64();
  if (!in.ok() || in.remaining() != 0) return corrupt("inconsistent sizes");
  return absl::OkStatus();
}

}  // namespace ffm

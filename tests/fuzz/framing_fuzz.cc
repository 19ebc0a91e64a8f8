// libFuzzer target: the TFRecord framing parser (plain and inflating) must
// return records or a clean error for any bytes; never crash, hang or
// allocate more than the input could hold.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "ffm/io/byte_source.h"
#include "ffm/prefetch/chunk_prefetcher.h"
#include "ffm/stream/chunk_stream.h"
#include "ffm/stream/memory_stream.h"
#include "ffm/tfrecord/record_reader.h"
#include "ffm/stream/zlib_stream.h"

namespace {

class BytesSource : public ffm::ByteSource {
 public:
  explicit BytesSource(std::string bytes) : bytes_(std::move(bytes)) {}
  const std::string& uri() const override { return uri_; }
  uint64_t size() const override { return bytes_.size(); }
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override {
    if (offset >= bytes_.size()) return size_t{0};
    size_t take = std::min<size_t>(n, bytes_.size() - offset);
    std::memcpy(dst, bytes_.data() + offset, take);
    return take;
  }

 private:
  const std::string uri_ = "fuzz://input";
  const std::string bytes_;
};

void ReadAll(ffm::ByteStream* stream, bool verify_crc) {
  ffm::RecordReader reader(stream, "fuzz://input", verify_crc);
  std::string record;
  for (int i = 0; i < 100000; ++i) {
    absl::Status s = reader.ReadRecord([&record](size_t n) {
      record.resize(n);
      return record.data();
    });
    if (!s.ok()) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode % 3 == 0) {
    ffm::MemoryStream stream(bytes, 0);
    ReadAll(&stream, /*verify_crc=*/(mode & 4) != 0);
    return 0;
  }
  BytesSource source(bytes);
  ffm::PrefetchOptions prefetch;
  prefetch.first_chunk_size = 1 + (mode >> 3);  // odd chunk boundaries
  prefetch.chunk_size = 7 + mode;
  auto chunks = std::make_unique<ffm::ChunkStream>(
      std::make_unique<ffm::ChunkPrefetcher>(
          &source, 0, prefetch, nullptr,
          std::make_shared<ffm::ByteBudget>(1 << 20)),
      0);
  ffm::ZlibStream inflated(std::move(chunks),
                           mode % 3 == 1 ? ffm::Compression::kGzip
                                         : ffm::Compression::kZlib,
                           "fuzz://input");
  ReadAll(&inflated, /*verify_crc=*/false);
  return 0;
}

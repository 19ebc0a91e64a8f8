#include "ffm/stream/zlib_stream.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"

// zlib's symbols come from libtensorflow_framework, which exports its bundled
// copy; linking a second zlib into the op would make the two interpose.

namespace ffm {

namespace {
// Deflate cannot expand data by more than this factor when inflating.
constexpr uint64_t kMaxInflateRatio = 1032;
}  // namespace

ZlibStream::ZlibStream(std::unique_ptr<ChunkStream> compressed,
                       Compression format, std::string uri)
    : compressed_(std::move(compressed)), uri_(std::move(uri)) {
  int window_bits = format == Compression::kGzip ? MAX_WBITS + 16 : MAX_WBITS;
  if (inflateInit2(&zs_, window_bits) == Z_OK) {
    initialised_ = true;
  } else {
    error_ = absl::InternalError(absl::StrCat(uri_, ": inflateInit2 failed"));
  }
}

ZlibStream::~ZlibStream() {
  if (initialised_) inflateEnd(&zs_);
}

uint64_t ZlibStream::max_remaining() const {
  uint64_t in = compressed_->max_remaining();
  if (in > std::numeric_limits<uint64_t>::max() / kMaxInflateRatio - 1) {
    return std::numeric_limits<uint64_t>::max();
  }
  return (in + 1) * kMaxInflateRatio;
}

absl::Status ZlibStream::Fail(absl::string_view what) {
  error_ = absl::DataLossError(absl::StrCat(
      uri_, ": ", what, " at compressed byte offset ", compressed_->position(),
      " (uncompressed offset ", position_,
      "; is the compression_type right?)"));
  return error_;
}

absl::StatusOr<size_t> ZlibStream::Read(size_t n, char* dst) {
  if (!error_.ok()) return error_;
  size_t done = 0;
  while (done < n) {
    absl::StatusOr<absl::string_view> in = compressed_->Peek();
    if (!in.ok()) return in.status();
    if (in->empty()) {
      if (at_member_end_ || (position_ == 0 && done == 0 &&
                             compressed_->position() == 0)) {
        break;  // clean end (or an empty file)
      }
      return Fail("compressed stream is truncated");
    }
    if (at_member_end_) {  // another gzip member follows
      inflateReset(&zs_);
      at_member_end_ = false;
    }
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in->data()));
    zs_.avail_in = static_cast<uInt>(
        std::min<size_t>(in->size(), std::numeric_limits<uInt>::max()));
    size_t want = std::min<size_t>(n - done, std::numeric_limits<uInt>::max());
    zs_.next_out = reinterpret_cast<Bytef*>(dst + done);
    zs_.avail_out = static_cast<uInt>(want);
    int rc = inflate(&zs_, Z_NO_FLUSH);
    size_t consumed = static_cast<size_t>(
        zs_.next_in - reinterpret_cast<const Bytef*>(in->data()));
    size_t produced = want - zs_.avail_out;
    compressed_->Consume(consumed);
    done += produced;
    position_ += produced;
    if (rc == Z_STREAM_END) {
      at_member_end_ = true;
    } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
      return Fail(absl::StrCat("corrupt compressed data (",
                               zs_.msg ? zs_.msg : "inflate error", ")"));
    } else if (rc == Z_MEM_ERROR) {
      return error_ = absl::ResourceExhaustedError(
                 absl::StrCat(uri_, ": out of memory while inflating"));
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Fail(absl::StrCat("inflate failed with code ", rc));
    }
  }
  return done;
}

absl::Status ZlibStream::Skip(uint64_t n) {
  std::vector<char> scratch(std::min<uint64_t>(n, 1 << 20));
  while (n > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, scratch.size()));
    absl::StatusOr<size_t> got = Read(want, scratch.data());
    if (!got.ok()) return got.status();
    if (*got == 0) {
      return absl::DataLossError(absl::StrCat(
          uri_, ": stream ended at uncompressed offset ", position_,
          " while seeking to a checkpointed position"));
    }
    n -= *got;
  }
  return absl::OkStatus();
}

}  // namespace ffm

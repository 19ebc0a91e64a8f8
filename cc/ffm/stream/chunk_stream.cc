#include "ffm/stream/chunk_stream.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"

namespace ffm {

ChunkStream::ChunkStream(std::unique_ptr<ChunkPrefetcher> prefetcher,
                         uint64_t begin)
    : prefetcher_(std::move(prefetcher)),
      end_(prefetcher_->end()),
      position_(std::min(begin, end_)) {}

absl::StatusOr<absl::string_view> ChunkStream::Peek() {
  while (unread_.empty()) {
    if (position_ >= end_) return absl::string_view();
    chunk_.reset();  // return its bytes to the budget before the next read
    absl::StatusOr<std::shared_ptr<const Chunk>> next = prefetcher_->Next();
    if (!next.ok()) return next.status();
    chunk_ = *std::move(next);
    unread_ = chunk_->data();
  }
  return unread_;
}

void ChunkStream::Consume(size_t n) {
  unread_.remove_prefix(n);
  position_ += n;
}

absl::StatusOr<size_t> ChunkStream::Read(size_t n, char* dst) {
  size_t done = 0;
  while (done < n) {
    absl::StatusOr<absl::string_view> piece = Peek();
    if (!piece.ok()) return piece.status();
    if (piece->empty()) break;
    size_t take = std::min(piece->size(), n - done);
    std::memcpy(dst + done, piece->data(), take);
    Consume(take);
    done += take;
  }
  return done;
}

absl::Status ChunkStream::Skip(uint64_t n) {
  while (n > 0) {
    absl::StatusOr<absl::string_view> piece = Peek();
    if (!piece.ok()) return piece.status();
    if (piece->empty()) return absl::DataLossError("stream ended while skipping");
    size_t take = static_cast<size_t>(std::min<uint64_t>(piece->size(), n));
    Consume(take);
    n -= take;
  }
  return absl::OkStatus();
}

}  // namespace ffm

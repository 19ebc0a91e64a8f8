#include "ffm/prefetch/chunk_prefetcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ffm/io/io_stats.h"

namespace ffm {

uint64_t ChunkBufferSize(uint64_t n) {
  uint64_t size = 4 << 10;
  while (size < n) size <<= 1;
  return size;
}

Chunk::Chunk(uint64_t offset, uint64_t capacity,
             std::shared_ptr<ByteBudget> budget)
    : offset_(offset),
      capacity_(capacity),
      buffer_size_(ChunkBufferSize(capacity)),
      budget_(std::move(budget)),
      bytes_(budget_->TakeBuffer(buffer_size_)) {}

Chunk::~Chunk() {
  budget_->ReturnBuffer(std::move(bytes_), buffer_size_);  // then uncharge
  budget_->Release(buffer_size_);
}

struct ChunkPrefetcher::Slot {
  uint64_t offset;
  uint64_t length;
  bool done = false;
  absl::StatusOr<std::shared_ptr<Chunk>> result;
};

ChunkPrefetcher::ChunkPrefetcher(const ByteSource* source, uint64_t begin,
                                 const PrefetchOptions& options,
                                 Executor* executor,
                                 std::shared_ptr<ByteBudget> budget)
    : source_(source),
      options_(options),
      executor_(executor),
      budget_(std::move(budget)),
      end_(source->size()),
      next_offset_(std::min(begin, source->size())),
      next_length_(std::max<uint64_t>(
          1, std::min(options.first_chunk_size, options.chunk_size))) {
  std::lock_guard<std::mutex> lock(mu_);
  RefillLocked(/*consumer_waiting=*/true);  // read before the first Next()
}

ChunkPrefetcher::~ChunkPrefetcher() {
  std::unique_lock<std::mutex> lock(mu_);
  cancelled_ = true;
  cv_.wait(lock, [this] { return running_ == 0; });
}

std::shared_ptr<ChunkPrefetcher::Slot> ChunkPrefetcher::AddSlotLocked() {
  auto slot = std::make_shared<Slot>();
  slot->offset = next_offset_;
  slot->length = std::min(next_length_, end_ - next_offset_);
  next_offset_ += slot->length;
  next_length_ = std::min(next_length_ * 2, options_.chunk_size);
  window_bytes_ += ChunkBufferSize(slot->length);
  slots_.push_back(slot);
  return slot;
}

void ChunkPrefetcher::RefillLocked(bool consumer_waiting) {
  if (executor_ == nullptr || !failed_.ok()) return;
  while (next_offset_ < end_ && running_ < options_.max_in_flight) {
    uint64_t length = std::min(next_length_, end_ - next_offset_);
    if (slots_.empty() && consumer_waiting) {
      budget_->ForceAcquire(ChunkBufferSize(length));  // the consumer needs it
    } else if ((options_.max_window_bytes > 0 &&
                window_bytes_ + ChunkBufferSize(length) >
                    options_.max_window_bytes) ||
               !budget_->TryAcquire(ChunkBufferSize(length))) {
      return;
    }
    std::shared_ptr<Slot> slot = AddSlotLocked();
    ++running_;
    executor_->Schedule([this, slot]() mutable { Read(std::move(slot)); });
  }
}

// Runs on the executor. Budget for the slot was acquired when it was added;
// the Chunk created here owns it from then on.
void ChunkPrefetcher::Read(std::shared_ptr<Slot> slot) {
  bool cancelled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled = cancelled_;
  }
  absl::StatusOr<std::shared_ptr<Chunk>> result;
  if (cancelled) {
    budget_->Release(ChunkBufferSize(slot->length));  // no chunk owns it
    result = absl::CancelledError(
        absl::StrCat(source_->uri(), ": read cancelled"));
  } else {
    auto chunk = std::make_shared<Chunk>(slot->offset, slot->length, budget_);
    absl::StatusOr<size_t> n =
        source_->ReadAt(slot->offset, slot->length, chunk->mutable_bytes());
    Count(IoStats::Global().read_requests);
    if (n.ok()) Count(IoStats::Global().bytes_read, *n);
    if (!n.ok()) {
      Count(IoStats::Global().errors);
      result = n.status();
    } else if (*n != slot->length) {
      result = absl::DataLossError(absl::StrCat(
          source_->uri(), ": expected ", slot->length, " bytes at byte offset ",
          slot->offset, " but the object ended after ", *n,
          " (did it change while being read?)"));
    } else {
      chunk->set_size(*n);
      result = std::move(chunk);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  slot->result = std::move(result);
  slot->done = true;
  // Frees the chunk here if the slot was dropped (after a failure), while
  // the destructor still waits for us.
  slot.reset();
  --running_;
  // Keep the window full without waiting for the consumer: a slow head read
  // must not leave the other connections idle.
  if (!cancelled_) RefillLocked(/*consumer_waiting=*/false);
  cv_.notify_all();  // under the lock: the destructor may run right after
}

absl::StatusOr<std::shared_ptr<const Chunk>> ChunkPrefetcher::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!failed_.ok()) return failed_;
  if (slots_.empty()) {
    if (next_offset_ >= end_) {
      return absl::OutOfRangeError(absl::StrCat(source_->uri(), ": end"));
    }
    if (executor_ == nullptr) {
      budget_->ForceAcquire(
          ChunkBufferSize(std::min(next_length_, end_ - next_offset_)));
      std::shared_ptr<Slot> slot = AddSlotLocked();
      ++running_;
      lock.unlock();
      Read(std::move(slot));
      lock.lock();
    } else {
      RefillLocked(/*consumer_waiting=*/true);
    }
  }
  std::shared_ptr<Slot> head = slots_.front();
  if (!head->done) {
    WaitTimer timer;
    cv_.wait(lock, [&head] { return head->done; });
  }
  slots_.pop_front();
  window_bytes_ -= ChunkBufferSize(head->length);
  if (!head->result.ok()) {
    failed_ = head->result.status();
    slots_.clear();
    window_bytes_ = 0;
    return failed_;
  }
  RefillLocked(/*consumer_waiting=*/false);
  return std::shared_ptr<const Chunk>(std::move(*head->result));
}

}  // namespace ffm

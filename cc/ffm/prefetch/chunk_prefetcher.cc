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
  int lane;
  bool started = false;
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
      run_size_(std::max(options.run_size, options.chunk_size)),
      lanes_(executor == nullptr ? 1 : std::max(1, options.max_in_flight)),
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

std::shared_ptr<ChunkPrefetcher::Slot> ChunkPrefetcher::AddRunLocked(
    int lane) {
  const uint64_t run_end = next_offset_ + std::min(next_length_,
                                                   end_ - next_offset_);
  next_length_ = std::min(next_length_ * 2, run_size_);
  for (uint64_t offset = next_offset_; offset < run_end;) {
    auto slot = std::make_shared<Slot>();
    slot->offset = offset;
    slot->length = std::min(options_.chunk_size, run_end - offset);
    slot->lane = lane;
    offset += slot->length;
    slots_.push_back(slot);
    lanes_[lane].todo.push_back(std::move(slot));
  }
  next_offset_ = run_end;
  return lanes_[lane].todo.front();
}

bool ChunkPrefetcher::StartLocked(const std::shared_ptr<Slot>& slot,
                                  bool force) {
  const uint64_t bytes = ChunkBufferSize(slot->length);
  if (force) {
    budget_->ForceAcquire(bytes);  // the consumer needs it
  } else if ((options_.max_window_bytes > 0 &&
              window_bytes_ + bytes > options_.max_window_bytes) ||
             !budget_->TryAcquire(bytes)) {
    return false;
  }
  Lane& lane = lanes_[slot->lane];
  lane.todo.pop_front();
  lane.busy = true;
  slot->started = true;
  window_bytes_ += bytes;
  ++running_;
  if (executor_ != nullptr) {
    // Not [slot]: a copy of a const& capture is const, so std::move would
    // copy and the finished task would keep the chunk past the destructor.
    executor_->Schedule([this, s = slot]() mutable { Read(std::move(s)); });
  }
  return true;
}

void ChunkPrefetcher::RefillLocked(bool consumer_waiting) {
  if (executor_ == nullptr || !failed_.ok()) return;
  const std::shared_ptr<Slot> head = slots_.empty() ? nullptr : slots_.front();
  for (const auto& slot : slots_) {
    const Lane& lane = lanes_[slot->lane];
    if (slot->started || lane.busy || lane.todo.front() != slot) continue;
    if (!StartLocked(slot, consumer_waiting && slot == head)) return;
  }
  for (int i = 0; i < static_cast<int>(lanes_.size()) && next_offset_ < end_;
       ++i) {
    if (lanes_[i].busy || !lanes_[i].todo.empty()) continue;
    std::shared_ptr<Slot> first = AddRunLocked(i);
    if (!StartLocked(first, consumer_waiting && slots_.front() == first)) {
      return;
    }
  }
}

// Runs on the executor (or inside Next() without one). Budget for the slot
// was acquired when it started; the Chunk created here owns it from then on.
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
  lanes_[slot->lane].busy = false;
  // Frees the chunk here if the slot was dropped (after a failure), while
  // the destructor still waits for us.
  slot.reset();
  --running_;
  // Keep the lanes busy without waiting for the consumer: a slow head read
  // must not leave the other connections idle.
  if (!cancelled_) RefillLocked(/*consumer_waiting=*/false);
  cv_.notify_all();  // under the lock: the destructor may run right after
}

void ChunkPrefetcher::Resume() {
  std::lock_guard<std::mutex> lock(mu_);
  // A running read refills when it ends; cancelled_: the file is closing.
  if (running_ == 0 && !cancelled_) RefillLocked(/*consumer_waiting=*/false);
}

absl::StatusOr<std::shared_ptr<const Chunk>> ChunkPrefetcher::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!failed_.ok()) return failed_;
  if (slots_.empty() && next_offset_ >= end_) {
    return absl::OutOfRangeError(absl::StrCat(source_->uri(), ": end"));
  }
  if (executor_ != nullptr) {
    RefillLocked(/*consumer_waiting=*/true);
  } else {
    if (slots_.empty()) AddRunLocked(0);
    std::shared_ptr<Slot> head = slots_.front();
    if (!head->started) {
      StartLocked(head, /*force=*/true);
      lock.unlock();
      Read(head);
      lock.lock();
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
    for (Lane& lane : lanes_) lane.todo.clear();
    window_bytes_ = 0;
    return failed_;
  }
  RefillLocked(/*consumer_waiting=*/false);
  return std::shared_ptr<const Chunk>(std::move(*head->result));
}

}  // namespace ffm

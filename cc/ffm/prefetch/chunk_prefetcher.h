// Reads one ByteSource from `begin` to its end as consecutive ranged chunks,
// keeping several reads in flight and handing chunks back strictly in order.
//
//   file:   |---1 MiB---|--2 MiB--|----4 MiB----|------8 MiB------|--8 MiB--...
//   state:   returned     ready      reading        reading          (budget)
//            ^ consumer                             ^ next_offset_
//
// The first read is small so the first record arrives fast; sizes then
// double up to `chunk_size`. Readahead stays within a ByteBudget shared with
// the reader's other files; the chunk the consumer waits for is always read.
//
// Reads are made by lanes, each with one read in flight. A lane takes the
// next *run* of the file (in file order) and reads it chunk after chunk, in
// sequence, before it takes another. With runs of one chunk (object stores)
// any free lane reads the next chunk; with longer runs (FUSE and network
// mounts) each lane is one sequential stream, which such filesystems serve
// from one open request instead of a new one per chunk:
//
//   runs:   [lane 0: c0 c1 c2 c3][lane 1: c4 c5 c6 c7][lane 2: c8 ...]
//
// Thread-safety: one consumer thread calls Next(). `source` must outlive the
// prefetcher; chunks may outlive it (each returns its bytes to the budget).
#ifndef FFM_PREFETCH_CHUNK_PREFETCHER_H_
#define FFM_PREFETCH_CHUNK_PREFETCHER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ffm/defaults.h"
#include "ffm/io/byte_source.h"
#include "ffm/prefetch/byte_budget.h"
#include "ffm/prefetch/executor.h"

namespace ffm {

struct PrefetchOptions {
  uint64_t chunk_size = defaults::kChunkSize;
  uint64_t first_chunk_size = defaults::kFirstChunkSize;
  int max_in_flight = defaults::kIoThreads;  // lanes: reads in flight
  // Bytes a lane reads in sequence before it takes the next run; 0 = one
  // chunk. Runs start at first_chunk_size and double up to this.
  uint64_t run_size = 0;
  // Bytes this file may hold ahead of the consumer (reading or ready); 0 =
  // only the shared budget limits it. Files read in turn get a fair share,
  // so one file's far-ahead chunks cannot hold the budget another file's
  // next chunk waits for.
  uint64_t max_window_bytes = 0;
};

// The memory a chunk of `n` bytes takes, and is charged to the budget:
// power-of-two buffers, so the odd-sized last chunk of one file can be
// reused for another's.
uint64_t ChunkBufferSize(uint64_t n);

// Bytes of one chunk. Returns its buffer (and the buffer's size) to the
// budget when destroyed; ChunkBufferSize(capacity) must have been acquired.
class Chunk {
 public:
  Chunk(uint64_t offset, uint64_t capacity, std::shared_ptr<ByteBudget> budget);
  ~Chunk();
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;

  uint64_t offset() const { return offset_; }  // of data()[0] in the file
  absl::string_view data() const { return {bytes_.data(), size_}; }
  char* mutable_bytes() { return bytes_.data(); }
  void set_size(size_t size) { size_ = size; }

 private:
  const uint64_t offset_;
  const uint64_t capacity_;
  const uint64_t buffer_size_;  // allocated and charged to the budget
  std::shared_ptr<ByteBudget> budget_;
  PageBuffer bytes_;
  size_t size_ = 0;
};

class ChunkPrefetcher {
 public:
  // A null `executor` reads synchronously inside Next().
  ChunkPrefetcher(const ByteSource* source, uint64_t begin,
                  const PrefetchOptions& options, Executor* executor,
                  std::shared_ptr<ByteBudget> budget);
  // Cancels reads not yet started and waits for the running ones (at most
  // one chunk read each), so no callback outlives the prefetcher.
  ~ChunkPrefetcher();
  ChunkPrefetcher(const ChunkPrefetcher&) = delete;
  ChunkPrefetcher& operator=(const ChunkPrefetcher&) = delete;

  // The next chunk in file order; OutOfRange after the last one. A failed
  // read's error is returned once it reaches the head, and again after.
  absl::StatusOr<std::shared_ptr<const Chunk>> Next();

  uint64_t end() const { return end_; }

  // Starts the reads the budget refused while none of this file's reads
  // was running, so nothing would have retried them before the consumer
  // reaches this file: the reader calls it for files ahead of the consumer
  // once the budget has room again. Without it, a file opened ahead while
  // the budget was full kept its lanes idle, and reading fell back to the
  // current file's lanes (on a FUSE mount: 4 of 16).
  void Resume();

 private:
  struct Slot;
  struct Lane {
    std::deque<std::shared_ptr<Slot>> todo;  // its run's chunks not started
    bool busy = false;                       // a read in flight
  };

  // Starts reads while idle lanes, the window and the budget allow: first
  // the runs lanes already have, nearest the consumer first, then new runs
  // in file order. Only the chunk the consumer waits for (the head, when
  // `consumer_waiting`) goes over the budget: forcing the read after the one
  // just handed out would let a file hold two chunks beyond the limit.
  void RefillLocked(bool consumer_waiting);
  // Starts `slot`'s read on its lane; false if the window or budget refuse.
  bool StartLocked(const std::shared_ptr<Slot>& slot, bool force);
  // Gives lane `lane` the next run of the file; returns its first chunk.
  std::shared_ptr<Slot> AddRunLocked(int lane);
  // Takes the slot by value and drops it before signalling, so that once the
  // destructor sees no running reads no worker still holds a chunk.
  void Read(std::shared_ptr<Slot> slot);

  const ByteSource* const source_;
  const PrefetchOptions options_;
  Executor* const executor_;
  const std::shared_ptr<ByteBudget> budget_;
  const uint64_t end_;

  std::mutex mu_;
  std::condition_variable cv_;
  const uint64_t run_size_;  // at least chunk_size
  std::deque<std::shared_ptr<Slot>> slots_;  // in file order, from the head
  std::vector<Lane> lanes_;
  uint64_t next_offset_;                     // first byte not in a run
  uint64_t next_length_;                     // of the next run; doubles
  uint64_t window_bytes_ = 0;                // buffer bytes of started slots
  int running_ = 0;                          // reads scheduled, not finished
  bool cancelled_ = false;
  absl::Status failed_;
};

}  // namespace ffm

#endif  // FFM_PREFETCH_CHUNK_PREFETCHER_H_

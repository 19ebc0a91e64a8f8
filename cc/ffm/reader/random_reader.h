// Reads records through a RecordIndex in the order of a ReadPlan: fetches
// each group's byte ranges concurrently (several groups ahead, within the
// byte budget) and emits the group's records in plan order once its ranges
// have arrived.
//
//   groups:  [g0: ranges r0 r1 | emit 5 2 7 ...] [g1 ...] [g2 ...]
//             ^ emitting          reading           reading (budget)
//
// Files are opened on first use (no request per object at start-up); a file
// whose size or mtime differs from the index is FailedPrecondition.
// Not thread-safe: one consumer.
#ifndef FFM_READER_RANDOM_READER_H_
#define FFM_READER_RANDOM_READER_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <optional>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "ffm/defaults.h"
#include "ffm/index/record_index.h"
#include "ffm/io/source_opener.h"
#include "ffm/prefetch/byte_budget.h"
#include "ffm/prefetch/chunk_prefetcher.h"
#include "ffm/prefetch/executor.h"
#include "ffm/reader/read_plan.h"

namespace ffm {

struct RandomReaderOptions {
  bool verify_crc = true;
  uint64_t budget_bytes = defaults::kMemoryBudget;
  int io_threads = defaults::kIoThreads;
  int max_groups_ahead = 64;
  // How long the destructor waits for reads already running; a read stalled
  // longer is left to finish in the background (see destroy_within.h).
  std::chrono::milliseconds abandon_after = defaults::kAbandonAfter;
};

// Opens index files on demand, checking them against the index; shared by
// a reader's workers. At most `max_open` stay open, the least recently used
// closed first (a read still using one keeps it until it ends): a shuffle
// over 100,000 files must not hold 100,000 descriptors. Thread-safe.
class IndexedSources {
 public:
  static constexpr size_t kMaxOpen = 512;

  IndexedSources(std::shared_ptr<const RecordIndex> index, SourceOpener open,
                 size_t max_open = kMaxOpen);
  absl::StatusOr<std::shared_ptr<const ByteSource>> Get(uint32_t file);
  // Cancels every source open, and those opened from now on.
  void CancelAll();

 private:
  struct Open {
    std::shared_ptr<const ByteSource> source;
    std::list<uint32_t>::iterator lru;  // its place in recent_
  };

  const std::shared_ptr<const RecordIndex> index_;
  const SourceOpener open_;
  const size_t max_open_;
  std::mutex mu_;
  std::unordered_map<uint32_t, Open> open_files_;
  std::list<uint32_t> recent_;  // most recently used first
  bool cancelled_ = false;
};

// Reads record `id` alone (one ranged read): random access by index.
absl::Status ReadIndexedRecord(const RecordIndex& index, IndexedSources* sources,
                               uint64_t id, bool verify_crc,
                               absl::FunctionRef<char*(size_t)> allocate);

class RandomReader {
 public:
  RandomReader(std::shared_ptr<const RecordIndex> index, ReadPlan plan,
               SourceOpener open, const RandomReaderOptions& options);
  // Cancels queued reads; returns within `abandon_after` even when a read is
  // stalled (what still runs is destroyed in the background).
  ~RandomReader();

  // OutOfRange after the plan's last record.
  absl::Status ReadRecord(absl::FunctionRef<char*(size_t)> allocate);

  uint64_t position() const { return emitted_; }  // records emitted
  // Continues after `position` records; call before the first ReadRecord.
  absl::Status SkipTo(uint64_t position);

 private:
  struct Fetch;
  struct Reads;
  struct Group {
    ReadGroup plan;                               // or, if not ok, why not
    absl::Status error;
    std::vector<std::shared_ptr<Fetch>> fetches;  // one per plan range
  };

  // Starts whole groups ahead of the consumer while the budget allows, at
  // most `max_new` now (planning a group reads the index: the first record
  // must not wait for the whole lookahead to be planned); the group being
  // emitted is always started.
  void ScheduleLocked(int max_new);

  const std::shared_ptr<const RecordIndex> index_;
  const ReadPlan plan_;
  const RandomReaderOptions options_;
  std::unique_ptr<ThreadPool> pool_;
  // What reads on the pool use, shared with them: they may outlive `this`.
  // Its mutex also guards the consumer's fields below.
  const std::shared_ptr<Reads> reads_;

  std::deque<Group> started_;  // the front one is being emitted
  // Planned but not started (the budget had no room), and the position
  // after the last group planned.
  std::optional<ReadGroup> planned_;
  uint64_t next_position_ = 0;
  size_t next_in_group_ = 0;   // record within the front group
  uint64_t emitted_ = 0;
};

}  // namespace ffm

#endif  // FFM_READER_RANDOM_READER_H_

// Which records an epoch yields, in what order, and which byte ranges to
// fetch for them. Records are numbered in file order (0 .. N-1).
//
//   none:   shard's records in order; groups are runs of whole records of up
//           to `range_bytes` in one file, one ranged read each.
//   global: a seeded permutation (permutation.h); groups of `group_records`
//           consecutive positions, each record its own read (adjacent ones
//           coalesced).
//   block:  each file cut into blocks of the records starting in each
//           `range_bytes` of it, the blocks in a seeded order, records
//           shuffled within each window of `window_blocks` blocks:
//           near-sequential I/O, mixing over window_blocks * range_bytes.
//
// Orders are pure functions of (index, seed, epoch), so checkpoints and
// shards stay exact. A new shuffle mode is a ShuffleMode value, its order
// in ReadPlan and its name in the op's shuffle attr.
//
// Sharding takes positions [k*N/n, (k+1)*N/n) of the epoch's order: shards
// are disjoint, cover everything and differ in size by at most one.
#ifndef FFM_READER_READ_PLAN_H_
#define FFM_READER_READ_PLAN_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "ffm/defaults.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ffm/index/record_index.h"
#include "ffm/reader/permutation.h"

namespace ffm {

enum class ShuffleMode { kNone, kGlobal, kBlock };

// "none", "global", "block": the names the op's shuffle attr uses.
const char* ShuffleModeName(ShuffleMode mode);
absl::StatusOr<ShuffleMode> ParseShuffleMode(absl::string_view name);

// Where part k of n items cut into `parts` near-equal parts starts:
// k * n / parts, in 128 bits (k * n may not fit in 64). Shards, and the
// splits of a shard, are [SlicePoint(k), SlicePoint(k + 1)).
uint64_t SlicePoint(uint64_t n, uint64_t k, uint64_t parts);

struct PlanOptions {
  ShuffleMode shuffle = ShuffleMode::kNone;
  uint64_t seed = 0;
  uint64_t epoch = 0;  // mixed into the seed: a new order each epoch
  uint64_t num_shards = 1;
  uint64_t shard_index = 0;
  uint64_t range_bytes = defaults::kChunkSize;
  uint64_t group_records = 256;
  uint64_t window_blocks = 8;
};

struct ByteRange {
  uint32_t file;
  uint64_t offset;
  uint64_t length;
};

// Positions [first_position, first_position + records.size()) of a shard's
// order: emitted in `records` order once all of `ranges` (sorted by file
// and offset) are fetched.
struct ReadGroup {
  uint64_t first_position = 0;
  std::vector<uint64_t> records;
  std::vector<ByteRange> ranges;
};

// One epoch of one shard. Groups are computed when asked for, so a plan
// takes memory for a group at a time (and, for block shuffle, a table of
// where each window starts), however many records the index holds.
// Thread-safe (const).
class ReadPlan {
 public:
  // DataLoss if the part of the index the plan reads now is corrupt.
  static absl::StatusOr<ReadPlan> Make(std::shared_ptr<const RecordIndex> index,
                                       const PlanOptions& options);

  uint64_t num_records() const { return end_ - begin_; }
  // The plan of positions [from, to) of this one (to <= num_records()),
  // renumbered from 0: one split of a shard, as tf.data service hands out.
  ReadPlan Slice(uint64_t from, uint64_t to) const;
  // The group of positions from `position` (< num_records()) to the next
  // group boundary.
  absl::StatusOr<ReadGroup> GroupAt(uint64_t position) const;
  // The record id at `position` (< num_records()).
  absl::StatusOr<uint64_t> RecordAt(uint64_t position) const;

 private:
  ReadPlan(std::shared_ptr<const RecordIndex> index, const PlanOptions& options);
  // The block-shuffle window holding epoch position `p`.
  uint64_t WindowOf(uint64_t p) const;
  // Records of block-shuffle window `w`, in their shuffled order.
  absl::StatusOr<std::vector<uint64_t>> WindowRecords(uint64_t w) const;
  // Records of block `b` (in file order), as [first, end) ids.
  absl::StatusOr<std::pair<uint64_t, uint64_t>> Block(uint64_t b) const;
  absl::StatusOr<uint64_t> FirstAtOrAfter(uint32_t file, uint64_t byte) const;
  // The group of `records` from epoch position `from`, its ranges added.
  absl::StatusOr<ReadGroup> Group(uint64_t from,
                                  std::vector<uint64_t> records) const;

  std::shared_ptr<const RecordIndex> index_;
  PlanOptions options_;
  uint64_t epoch_seed_ = 0;
  uint64_t begin_ = 0, end_ = 0;  // the shard's positions in the epoch
  Permutation order_;             // global: position -> record; block: slot -> block
  std::vector<uint64_t> file_blocks_;    // block: first block of each file
  std::vector<uint64_t> window_starts_;  // block: first position of each window
};

}  // namespace ffm

#endif  // FFM_READER_READ_PLAN_H_

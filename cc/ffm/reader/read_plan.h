// Which records an epoch yields, in what order, and which byte ranges to
// fetch for them. Records are numbered in file order (0 .. N-1).
//
//   none:   shard's records in order; groups are runs of whole records of up
//           to `range_bytes`, one ranged read each.
//   global: a seeded permutation; groups of `group_records` consecutive
//           positions, each record its own read (adjacent ones coalesced).
//   block:  blocks of ~`range_bytes` contiguous records in a seeded order;
//           records shuffled within each group of `window_blocks` blocks:
//           near-sequential I/O, mixing over window_blocks * range_bytes.
//
// A new shuffle mode is a ShuffleMode value, its ordering in
// MakeReadPlan/EpochOrder (a pure function of index, seed and epoch, so
// checkpoints and shards stay exact) and its name in the op's shuffle attr.
//
// Sharding takes positions [k*N/n, (k+1)*N/n) of the epoch's order: shards
// are disjoint, cover everything and differ in size by at most one.
#ifndef FFM_READER_READ_PLAN_H_
#define FFM_READER_READ_PLAN_H_

#include <cstdint>
#include <vector>

#include "ffm/defaults.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ffm/index/record_index.h"

namespace ffm {

enum class ShuffleMode { kNone, kGlobal, kBlock };

// "none", "global", "block": the names the op's shuffle attr uses.
const char* ShuffleModeName(ShuffleMode mode);
absl::StatusOr<ShuffleMode> ParseShuffleMode(absl::string_view name);

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

// Records emitted in `records` order once all of `ranges` are fetched.
struct ReadGroup {
  std::vector<ByteRange> ranges;
  std::vector<uint64_t> records;
};

struct ReadPlan {
  std::vector<ReadGroup> groups;
  uint64_t num_records = 0;
};

ReadPlan MakeReadPlan(const RecordIndex& index, const PlanOptions& options);

// The record ids of the epoch's order for this shard, without grouping.
std::vector<uint64_t> EpochOrder(const RecordIndex& index,
                                 const PlanOptions& options);

}  // namespace ffm

#endif  // FFM_READER_READ_PLAN_H_

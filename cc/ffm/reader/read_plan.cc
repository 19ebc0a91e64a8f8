#include "ffm/reader/read_plan.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ffm/tfrecord/format.h"

namespace ffm {

const char* ShuffleModeName(ShuffleMode mode) {
  switch (mode) {
    case ShuffleMode::kNone:
      return "none";
    case ShuffleMode::kGlobal:
      return "global";
    case ShuffleMode::kBlock:
      return "block";
  }
  return "?";
}

absl::StatusOr<ShuffleMode> ParseShuffleMode(absl::string_view name) {
  for (ShuffleMode mode :
       {ShuffleMode::kNone, ShuffleMode::kGlobal, ShuffleMode::kBlock}) {
    if (name == ShuffleModeName(mode)) return mode;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown shuffle '", name, "'"));
}

namespace {


// Fisher-Yates with an explicitly specified generator, so an order depends
// only on (seed, epoch), not on the standard library's std::shuffle.
template <typename T>
void Shuffle(std::vector<T>* v, std::mt19937_64* rng) {
  for (size_t i = v->size(); i > 1; --i) {
    std::swap((*v)[i - 1], (*v)[(*rng)() % i]);
  }
}

std::mt19937_64 EpochRng(const PlanOptions& o) {
  std::seed_seq seq{static_cast<uint32_t>(o.seed), static_cast<uint32_t>(o.seed >> 32),
                    static_cast<uint32_t>(o.epoch), static_cast<uint32_t>(o.epoch >> 32)};
  return std::mt19937_64(seq);
}

// Runs of contiguous records within one file of at most range_bytes (at
// least one record each), as [first, end) record ids.
std::vector<std::pair<uint64_t, uint64_t>> Blocks(const RecordIndex& index,
                                                  uint64_t range_bytes) {
  std::vector<std::pair<uint64_t, uint64_t>> blocks;
  uint64_t id = 0;
  for (const IndexedFile& f : index.files()) {
    uint64_t end_of_file = id + f.num_records;
    while (id < end_of_file) {
      uint64_t first = id, bytes = 0;
      do {
        bytes += tfrecord::FramedSize(index.lengths()[id]);
        ++id;
      } while (id < end_of_file &&
               bytes + tfrecord::FramedSize(index.lengths()[id]) <= range_bytes);
      blocks.emplace_back(first, id);
    }
  }
  return blocks;
}

// The whole epoch's order and where its groups end (positions).
void FullOrder(const RecordIndex& index, const PlanOptions& o,
               std::vector<uint64_t>* order, std::vector<uint64_t>* ends) {
  const uint64_t n = index.num_records();
  order->clear();
  ends->clear();
  order->reserve(n);
  if (o.shuffle == ShuffleMode::kGlobal) {
    for (uint64_t i = 0; i < n; ++i) order->push_back(i);
    std::mt19937_64 rng = EpochRng(o);
    Shuffle(order, &rng);
    const uint64_t g = std::max<uint64_t>(1, o.group_records);
    for (uint64_t end = g; end < n; end += g) ends->push_back(end);
    if (n > 0) ends->push_back(n);
    return;
  }
  std::vector<std::pair<uint64_t, uint64_t>> blocks =
      Blocks(index, o.range_bytes);
  if (o.shuffle == ShuffleMode::kNone) {
    for (const auto& [first, end] : blocks) {
      for (uint64_t i = first; i < end; ++i) order->push_back(i);
      ends->push_back(end);
    }
    return;
  }
  std::mt19937_64 rng = EpochRng(o);
  Shuffle(&blocks, &rng);
  const size_t w = std::max<uint64_t>(1, o.window_blocks);
  for (size_t b = 0; b < blocks.size(); b += w) {
    size_t window_start = order->size();
    for (size_t j = b; j < std::min(blocks.size(), b + w); ++j) {
      for (uint64_t i = blocks[j].first; i < blocks[j].second; ++i) {
        order->push_back(i);
      }
    }
    std::vector<uint64_t> window(order->begin() + window_start, order->end());
    Shuffle(&window, &rng);
    std::copy(window.begin(), window.end(), order->begin() + window_start);
    ends->push_back(order->size());
  }
}

std::pair<uint64_t, uint64_t> ShardSlice(uint64_t n, const PlanOptions& o) {
  const uint64_t shards = std::max<uint64_t>(1, o.num_shards);
  // 128-bit products: n * shard_index may exceed 64 bits for huge n.
  auto at = [n, shards](uint64_t k) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(n) * k / shards);
  };
  return {at(o.shard_index), at(o.shard_index + 1)};
}

// Adjacent records of one file merged into reads of at most range_bytes.
std::vector<ByteRange> Coalesce(const RecordIndex& index,
                                std::vector<uint64_t> ids,
                                uint64_t range_bytes) {
  std::sort(ids.begin(), ids.end());
  std::vector<ByteRange> ranges;
  uint64_t prev = 0;
  for (uint64_t id : ids) {
    RecordLocation loc = index.Locate(id);
    uint64_t bytes = tfrecord::FramedSize(loc.length);
    if (!ranges.empty() && id == prev + 1 && ranges.back().file == loc.file &&
        ranges.back().length + bytes <= range_bytes) {
      ranges.back().length += bytes;
    } else {
      ranges.push_back({loc.file, loc.offset, bytes});
    }
    prev = id;
  }
  return ranges;
}

}  // namespace

std::vector<uint64_t> EpochOrder(const RecordIndex& index,
                                 const PlanOptions& options) {
  std::vector<uint64_t> order, ends;
  FullOrder(index, options, &order, &ends);
  auto [begin, end] = ShardSlice(order.size(), options);
  return std::vector<uint64_t>(order.begin() + begin, order.begin() + end);
}

ReadPlan MakeReadPlan(const RecordIndex& index, const PlanOptions& options) {
  std::vector<uint64_t> order, ends;
  FullOrder(index, options, &order, &ends);
  auto [begin, end] = ShardSlice(order.size(), options);
  ReadPlan plan;
  plan.num_records = end - begin;
  uint64_t group_start = begin;
  for (uint64_t group_end : ends) {
    uint64_t a = std::max(group_start, begin), b = std::min(group_end, end);
    group_start = group_end;
    if (a >= b) continue;
    ReadGroup group;
    group.records.assign(order.begin() + a, order.begin() + b);
    group.ranges = Coalesce(index, group.records, options.range_bytes);
    plan.groups.push_back(std::move(group));
  }
  return plan;
}

}  // namespace ffm

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

uint64_t SlicePoint(uint64_t n, uint64_t k, uint64_t parts) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(n) * k / parts);
}

namespace {

uint64_t EpochSeed(const PlanOptions& o) {
  return Mix64(o.seed ^ Mix64(o.epoch ^ 0x5eed));
}

// Fisher-Yates with an explicitly specified generator, so an order depends
// only on (seed, epoch), not on the standard library's std::shuffle.
void Shuffle(std::vector<uint64_t>* v, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = v->size(); i > 1; --i) {
    std::swap((*v)[i - 1], (*v)[rng() % i]);
  }
}

}  // namespace

ReadPlan::ReadPlan(std::shared_ptr<const RecordIndex> index,
                   const PlanOptions& options)
    : index_(std::move(index)),
      options_(options),
      epoch_seed_(EpochSeed(options)),
      order_(index_->num_records(), epoch_seed_) {
  options_.range_bytes = std::max<uint64_t>(1, options_.range_bytes);
  options_.group_records = std::max<uint64_t>(1, options_.group_records);
  options_.window_blocks = std::max<uint64_t>(1, options_.window_blocks);
  const uint64_t n = index_->num_records();
  const uint64_t shards = std::max<uint64_t>(1, options_.num_shards);
  begin_ = SlicePoint(n, options_.shard_index, shards);
  end_ = SlicePoint(n, options_.shard_index + 1, shards);
}

absl::StatusOr<ReadPlan> ReadPlan::Make(std::shared_ptr<const RecordIndex> index,
                                        const PlanOptions& options) {
  ReadPlan plan(std::move(index), options);
  if (options.shuffle != ShuffleMode::kBlock) return plan;
  // Blocks: ceil(records_end / range_bytes) per file (some may be empty, a
  // record longer than range_bytes covering several).
  const std::vector<IndexedFile>& files = plan.index_->files();
  const uint64_t r = plan.options_.range_bytes;
  plan.file_blocks_.reserve(files.size() + 1);
  uint64_t blocks = 0;
  for (const IndexedFile& f : files) {
    plan.file_blocks_.push_back(blocks);
    blocks += f.records_end / r + (f.records_end % r != 0);
  }
  plan.file_blocks_.push_back(blocks);
  plan.order_ = Permutation(blocks, plan.epoch_seed_);
  const uint64_t w = plan.options_.window_blocks;
  uint64_t position = 0;
  for (uint64_t slot = 0; slot < blocks; ++slot) {
    if (slot % w == 0) plan.window_starts_.push_back(position);
    absl::StatusOr<std::pair<uint64_t, uint64_t>> b =
        plan.Block(plan.order_(slot));
    if (!b.ok()) return b.status();
    position += b->second - b->first;
  }
  return plan;
}

ReadPlan ReadPlan::Slice(uint64_t from, uint64_t to) const {
  ReadPlan slice = *this;
  slice.begin_ = begin_ + std::min(from, num_records());
  slice.end_ = begin_ + std::min(std::max(from, to), num_records());
  return slice;
}

absl::StatusOr<uint64_t> ReadPlan::FirstAtOrAfter(uint32_t file,
                                                  uint64_t byte) const {
  uint64_t lo = index_->FirstRecord(file), hi = index_->FirstRecord(file + 1);
  // The ends need no search (nor a look at the index).
  if (byte == 0) return lo;
  if (byte >= index_->files()[file].records_end) return hi;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    absl::StatusOr<RecordLocation> loc = index_->Find(mid);
    if (!loc.ok()) return loc.status();
    if (loc->offset < byte) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> ReadPlan::Block(uint64_t b) const {
  const uint32_t file = static_cast<uint32_t>(
      std::upper_bound(file_blocks_.begin(), file_blocks_.end(), b) -
      file_blocks_.begin() - 1);
  const uint64_t j = b - file_blocks_[file], r = options_.range_bytes;
  absl::StatusOr<uint64_t> first = FirstAtOrAfter(file, j * r);
  if (!first.ok()) return first.status();
  absl::StatusOr<uint64_t> end = FirstAtOrAfter(file, (j + 1) * r);
  if (!end.ok()) return end.status();
  return std::make_pair(*first, *end);
}

uint64_t ReadPlan::WindowOf(uint64_t p) const {
  return std::upper_bound(window_starts_.begin(), window_starts_.end(), p) -
         window_starts_.begin() - 1;
}

absl::StatusOr<std::vector<uint64_t>> ReadPlan::WindowRecords(uint64_t w) const {
  std::vector<uint64_t> records;
  const uint64_t blocks = order_.size();
  const uint64_t first_slot = w * options_.window_blocks;
  for (uint64_t slot = first_slot;
       slot < std::min(blocks, first_slot + options_.window_blocks); ++slot) {
    absl::StatusOr<std::pair<uint64_t, uint64_t>> b = Block(order_(slot));
    if (!b.ok()) return b.status();
    for (uint64_t id = b->first; id < b->second; ++id) records.push_back(id);
  }
  Shuffle(&records, Mix64(epoch_seed_ ^ Mix64(w)));
  return records;
}

absl::StatusOr<uint64_t> ReadPlan::RecordAt(uint64_t position) const {
  const uint64_t p = begin_ + position;
  switch (options_.shuffle) {
    case ShuffleMode::kNone:
      return p;
    case ShuffleMode::kGlobal:
      return order_(p);
    case ShuffleMode::kBlock:
      break;
  }
  const uint64_t w = WindowOf(p);
  absl::StatusOr<std::vector<uint64_t>> records = WindowRecords(w);
  if (!records.ok()) return records.status();
  return (*records)[p - window_starts_[w]];
}

absl::StatusOr<ReadGroup> ReadPlan::GroupAt(uint64_t position) const {
  const uint64_t p = begin_ + position;
  switch (options_.shuffle) {
    case ShuffleMode::kNone: {
      // Whole records of one file, up to range_bytes (at least one).
      std::vector<uint64_t> records;
      const uint32_t file = index_->FileOf(p);
      const uint64_t file_end = index_->FirstRecord(file + 1);
      uint64_t bytes = 0;
      for (uint64_t id = p; id < std::min(end_, file_end); ++id) {
        absl::StatusOr<RecordLocation> loc = index_->Find(id);
        if (!loc.ok()) return loc.status();
        const uint64_t framed = tfrecord::FramedSize(loc->length);
        if (!records.empty() && bytes + framed > options_.range_bytes) break;
        bytes += framed;
        records.push_back(id);
      }
      return Group(p, std::move(records));
    }
    case ShuffleMode::kGlobal: {
      const uint64_t g = options_.group_records;
      const uint64_t to = std::min(end_, (p / g + 1) * g);
      std::vector<uint64_t> records;
      records.reserve(to - p);
      for (uint64_t k = p; k < to; ++k) records.push_back(order_(k));
      return Group(p, std::move(records));
    }
    case ShuffleMode::kBlock:
      break;
  }
  const uint64_t w = WindowOf(p);
  absl::StatusOr<std::vector<uint64_t>> window = WindowRecords(w);
  if (!window.ok()) return window.status();
  const uint64_t start = window_starts_[w];
  const uint64_t to = std::min(end_, start + window->size());
  return Group(p, std::vector<uint64_t>(window->begin() + (p - start),
                                            window->begin() + (to - start)));
}

// Adjacent records of one file merged into reads of at most range_bytes.
absl::StatusOr<ReadGroup> ReadPlan::Group(uint64_t from,
                                          std::vector<uint64_t> records) const {
  ReadGroup group;
  group.first_position = from - begin_;
  group.records = std::move(records);
  // A block's records start within range_bytes, so may end up to one
  // record past it: read each block whole.
  const uint64_t coalesce_limit = options_.shuffle == ShuffleMode::kBlock
                                      ? 2 * options_.range_bytes
                                      : options_.range_bytes;
  std::vector<uint64_t> ids = group.records;
  std::sort(ids.begin(), ids.end());
  uint64_t prev = 0;
  for (uint64_t id : ids) {
    absl::StatusOr<RecordLocation> loc = index_->Find(id);
    if (!loc.ok()) return loc.status();
    const uint64_t bytes = tfrecord::FramedSize(loc->length);
    std::vector<ByteRange>& ranges = group.ranges;
    if (!ranges.empty() && id == prev + 1 && ranges.back().file == loc->file &&
        ranges.back().length + bytes <= coalesce_limit) {
      ranges.back().length += bytes;
    } else {
      ranges.push_back({loc->file, loc->offset, bytes});
    }
    prev = id;
  }
  return group;
}

}  // namespace ffm

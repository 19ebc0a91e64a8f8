#include "ffm/reader/random_reader.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ffm/io/io_stats.h"
#include "ffm/prefetch/destroy_within.h"
#include "ffm/tfrecord/format.h"
#include "ffm/stream/memory_stream.h"
#include "ffm/tfrecord/record_reader.h"

namespace ffm {

namespace {

// The lookahead grows by this many groups per record read, up to
// max_groups_ahead.
constexpr int kGroupsPlannedPerRecord = 2;

// Parses the record at `loc` out of `bytes`, which hold the file's bytes
// from `base` on, and checks it is the record the index says.
absl::Status ParseIndexedRecord(absl::string_view bytes, uint64_t base,
                                const RecordLocation& loc,
                                const std::string& uri, bool verify_crc,
                                absl::FunctionRef<char*(size_t)> allocate) {
  MemoryStream stream(bytes, base);
  stream.Seek(loc.offset);
  RecordReader reader(&stream, uri, verify_crc);
  size_t got_length = 0;
  absl::Status s = reader.ReadRecord([&](size_t n) {
    got_length = n;
    return allocate(n);
  });
  if (absl::IsOutOfRange(s) || (s.ok() && got_length != loc.length)) {
    return absl::FailedPreconditionError(absl::StrCat(
        uri, ": the record at byte offset ", loc.offset,
        " does not match the index (rebuild the index?)"));
  }
  return s;
}

}  // namespace

IndexedSources::IndexedSources(std::shared_ptr<const RecordIndex> index,
                               SourceOpener open, size_t max_open)
    : index_(std::move(index)),
      open_(std::move(open)),
      max_open_(std::max<size_t>(1, max_open)) {}

absl::StatusOr<std::shared_ptr<const ByteSource>> IndexedSources::Get(
    uint32_t file) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_files_.find(file);
    if (it != open_files_.end()) {
      recent_.splice(recent_.begin(), recent_, it->second.lru);
      return it->second.source;
    }
  }
  const IndexedFile& f = index_->files()[file];
  absl::StatusOr<std::unique_ptr<ByteSource>> opened = open_(f.uri);
  if (!opened.ok()) return opened.status();
  const ByteSource& src = **opened;
  if (src.size() != f.size ||
      (f.mtime_ns != 0 && src.mtime_ns() != 0 && src.mtime_ns() != f.mtime_ns)) {
    return absl::FailedPreconditionError(absl::StrCat(
        f.uri, " has changed since the index was built (size ", src.size(),
        ", indexed ", f.size, "; mtime ", src.mtime_ns(), ", indexed ",
        f.mtime_ns, "): rebuild the index"));
  }
  std::shared_ptr<const ByteSource> evicted;  // closed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = open_files_.try_emplace(file);
  if (added) {
    it->second.source = *std::move(opened);
    recent_.push_front(file);
    it->second.lru = recent_.begin();
    if (cancelled_) it->second.source->Cancel();
    if (open_files_.size() > max_open_) {
      auto last = open_files_.find(recent_.back());
      evicted = std::move(last->second.source);
      open_files_.erase(last);
      recent_.pop_back();
    }
  }
  return it->second.source;
}

void IndexedSources::CancelAll() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  for (const auto& [file, open] : open_files_) open.source->Cancel();
}

absl::Status ReadIndexedRecord(const RecordIndex& index, IndexedSources* sources,
                               uint64_t id, bool verify_crc,
                               absl::FunctionRef<char*(size_t)> allocate) {
  if (id >= index.num_records()) {
    return absl::OutOfRangeError(absl::StrCat(
        "record ", id, " is past the index's ", index.num_records()));
  }
  absl::StatusOr<RecordLocation> found = index.Find(id);
  if (!found.ok()) return found.status();
  const RecordLocation loc = *found;
  absl::StatusOr<std::shared_ptr<const ByteSource>> source =
      sources->Get(loc.file);
  if (!source.ok()) return source.status();
  std::string bytes(tfrecord::FramedSize(loc.length), '\0');
  absl::StatusOr<size_t> got = (*source)->ReadAt(loc.offset, bytes.size(),
                                                 bytes.data());
  if (!got.ok()) return got.status();
  bytes.resize(*got);
  return ParseIndexedRecord(bytes, loc.offset, loc, (*source)->uri(),
                            verify_crc, allocate);
}

struct RandomReader::Fetch {
  ByteRange range;
  bool done = false;
  absl::StatusOr<std::shared_ptr<Chunk>> data;
};

struct RandomReader::Reads {
  Reads(std::shared_ptr<const RecordIndex> index, SourceOpener open,
        uint64_t budget_bytes)
      : budget(std::make_shared<ByteBudget>(budget_bytes)),
        sources(std::move(index), std::move(open)) {}

  void Read(const std::shared_ptr<Fetch>& fetch);

  const std::shared_ptr<ByteBudget> budget;
  IndexedSources sources;
  std::mutex mu;
  std::condition_variable cv;
  bool cancelled = false;
};

RandomReader::RandomReader(std::shared_ptr<const RecordIndex> index,
                           ReadPlan plan, SourceOpener open,
                           const RandomReaderOptions& options)
    : index_(index),
      plan_(std::move(plan)),
      options_(options),
      pool_(std::make_unique<ThreadPool>(std::max(1, options.io_threads))),
      reads_(std::make_shared<Reads>(index, std::move(open),
                                     options.budget_bytes)) {}

RandomReader::~RandomReader() {
  {
    std::lock_guard<std::mutex> lock(reads_->mu);
    reads_->cancelled = true;
    started_.clear();  // fetched chunks go back; running reads keep theirs
  }
  reads_->sources.CancelAll();
  // Joining runs the queued reads (cancelled: at once) and waits for the
  // running ones, which share `reads_`: a stalled one is left behind.
  DestroyWithin(std::move(pool_), options_.abandon_after);
}

absl::Status RandomReader::SkipTo(uint64_t position) {
  std::lock_guard<std::mutex> lock(reads_->mu);
  if (position > plan_.num_records() || !started_.empty() || emitted_ != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot restore position ", position, " of ", plan_.num_records(),
        " records"));
  }
  next_position_ = position;
  emitted_ = position;
  return absl::OkStatus();
}

void RandomReader::ScheduleLocked(int max_new) {
  for (int added = 0;
       added < max_new && !reads_->cancelled &&
       started_.size() < static_cast<size_t>(std::max(1, options_.max_groups_ahead));
       ++added) {
    if (!planned_.has_value()) {
      if (next_position_ >= plan_.num_records()) return;
      absl::StatusOr<ReadGroup> group = plan_.GroupAt(next_position_);
      if (!group.ok()) {  // reported when the consumer reaches it
        started_.push_back(Group{{}, group.status(), {}});
        next_position_ = plan_.num_records();
        return;
      }
      next_position_ += group->records.size();
      planned_ = *std::move(group);
    }
    uint64_t bytes = 0;
    for (const ByteRange& r : planned_->ranges) bytes += ChunkBufferSize(r.length);
    if (started_.empty()) {
      reads_->budget->ForceAcquire(bytes);  // the consumer waits for this group
    } else if (!reads_->budget->TryAcquire(bytes)) {
      return;
    }
    Group started{*std::move(planned_), absl::OkStatus(), {}};
    planned_.reset();
    for (const ByteRange& r : started.plan.ranges) {
      auto fetch = std::make_shared<Fetch>();
      fetch->range = r;
      started.fetches.push_back(fetch);
      pool_->Schedule([reads = reads_, fetch] { reads->Read(fetch); });
    }
    started_.push_back(std::move(started));
  }
}

// Runs on the pool; uses nothing of the reader but `this` (shared).
void RandomReader::Reads::Read(const std::shared_ptr<Fetch>& fetch) {
  bool was_cancelled;
  {
    std::lock_guard<std::mutex> lock(mu);
    was_cancelled = cancelled;
  }
  const ByteRange& r = fetch->range;
  auto chunk = std::make_shared<Chunk>(r.offset, r.length, budget);
  absl::StatusOr<std::shared_ptr<Chunk>> result;
  if (was_cancelled) {
    result = absl::CancelledError("read cancelled");
  } else {
    absl::StatusOr<std::shared_ptr<const ByteSource>> source =
        sources.Get(r.file);
    absl::StatusOr<size_t> got =
        source.ok() ? (*source)->ReadAt(r.offset, r.length, chunk->mutable_bytes())
                    : absl::StatusOr<size_t>(source.status());
    Count(IoStats::Global().read_requests);
    if (!got.ok()) {
      Count(IoStats::Global().errors);
      result = got.status();
    } else {
      Count(IoStats::Global().bytes_read, *got);
      chunk->set_size(*got);  // a short read surfaces as a mismatch when parsed
      result = std::move(chunk);
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  fetch->data = std::move(result);
  fetch->done = true;
  cv.notify_all();
}

absl::Status RandomReader::ReadRecord(
    absl::FunctionRef<char*(size_t)> allocate) {
  std::shared_ptr<Fetch> fetch;
  RecordLocation loc;
  {
    std::unique_lock<std::mutex> lock(reads_->mu);
    if (emitted_ >= plan_.num_records()) {
      return absl::OutOfRangeError("end of the read plan");
    }
    ScheduleLocked(kGroupsPlannedPerRecord);
    const Group& group = started_.front();
    if (!group.error.ok()) return group.error;
    // The plan found every record of the group: its blocks are checked.
    loc = index_->Locate(group.plan.records[next_in_group_]);
    // Ranges are sorted by (file, offset): find the one holding the record.
    const std::vector<ByteRange>& ranges = group.plan.ranges;
    auto it = std::upper_bound(
        ranges.begin(), ranges.end(), loc,
        [](const RecordLocation& l, const ByteRange& r) {
          return l.file < r.file || (l.file == r.file && l.offset < r.offset);
        });
    fetch = group.fetches[it - ranges.begin() - 1];
    if (!fetch->done) {
      WaitTimer timer;
      reads_->cv.wait(lock, [&fetch] { return fetch->done; });
    }
    if (!fetch->data.ok()) return fetch->data.status();
  }
  const Chunk& chunk = **fetch->data;
  absl::Status s = ParseIndexedRecord(
      chunk.data(), chunk.offset(), loc, index_->files()[loc.file].uri,
      options_.verify_crc, allocate);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(reads_->mu);
  ++emitted_;
  if (++next_in_group_ == started_.front().plan.records.size()) {
    started_.pop_front();  // its chunks go back to the budget
    next_in_group_ = 0;
    ScheduleLocked(kGroupsPlannedPerRecord);
  }
  return absl::OkStatus();
}

}  // namespace ffm

#include "ffm/reader/sequential_reader.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "ffm/prefetch/destroy_within.h"

namespace ffm {

// A file taken from FileNames that is not yet in a slot; its open runs on
// the executor once started (or in the foreground when its slot needs it).
struct SequentialReader::Pending {
  explicit Pending(std::string name) : name(std::move(name)) {}

  const std::string name;
  bool started = false;  // consumer thread only
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  absl::StatusOr<std::unique_ptr<FileCursor>> cursor;

  absl::StatusOr<std::unique_ptr<FileCursor>> Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [this] { return done; });
    return std::move(cursor);
  }
};

// What opening a file needs. Opens running on the executor share it, so
// they need nothing of the reader, which may be gone before they end.
struct SequentialReader::CursorFactory {
  CursorFactory(SourceOpener open, CursorOptions options, Executor* executor,
                std::shared_ptr<ByteBudget> budget)
      : open(std::move(open)), options(std::move(options)),
        executor(executor), budget(std::move(budget)) {}

  SourceOpener open;
  CursorOptions options;  // the reader's, with a fair share
  Executor* executor;     // outlives every open (see OpenFiles)
  std::shared_ptr<ByteBudget> budget;
  // Set by the destructor; an open that ends later cancels its cursor.
  mutable std::atomic<bool> cancelled{false};

  absl::StatusOr<std::unique_ptr<FileCursor>> Open(const std::string& name,
                                                   uint64_t offset) const {
    absl::StatusOr<std::unique_ptr<ByteSource>> source = open(name);
    if (!source.ok()) return source.status();
    return FileCursor::Open(*std::move(source), offset, options, executor,
                            budget);
  }
};

// The files of a reader being destroyed, with the threads that read them:
// destroyed in the order reads need (opens, then cursors, then the pool that
// ran them), possibly after the reader is gone (DestroyWithin).
struct SequentialReader::OpenFiles {
  std::unique_ptr<ThreadPool> pool;
  std::vector<Slot> slots;
  std::deque<std::shared_ptr<Pending>> pending;
  std::shared_ptr<const CursorFactory> cursors;

  ~OpenFiles() {
    DropPending(&pending);
    slots.clear();  // cancels and waits for in-flight reads
    pool.reset();
  }
};

namespace {

// Files read in turn (cycle_length > 1) share the budget evenly; a single
// file may use all of it.
CursorOptions FairShare(const SequentialReaderOptions& options) {
  CursorOptions cursor = options.cursor;
  if (options.cycle_length > 1 && cursor.prefetch.max_window_bytes == 0) {
    cursor.prefetch.max_window_bytes =
        std::max<uint64_t>(cursor.prefetch.chunk_size,
                           options.budget_bytes / options.cycle_length);
  }
  return cursor;
}

}  // namespace

SequentialReader::SequentialReader(std::unique_ptr<FileNames> names,
                                   SourceOpener open,
                                   const SequentialReaderOptions& options)
    : names_(std::move(names)),
      options_(options),
      max_files_ahead_(static_cast<size_t>(
          options.max_files_ahead > 0
              ? options.max_files_ahead
              : std::max(options.cycle_length, options.io_threads))),
      budget_(std::make_shared<ByteBudget>(options.budget_bytes)),
      pool_(std::make_unique<ThreadPool>(std::max(1, options.io_threads))),
      cursors_(std::make_shared<CursorFactory>(
          std::move(open), FairShare(options), pool_.get(), budget_)),
      slots_(std::max(1, options.cycle_length)) {}

SequentialReader::~SequentialReader() {
  // Every cursor, open or opening, stops retrying, so reads queued behind a
  // stalled one end at once.
  cursors_->cancelled = true;
  for (Slot& slot : slots_) {
    if (slot.cursor != nullptr) slot.cursor->Cancel();
  }
  for (auto& p : pending_) {
    std::lock_guard<std::mutex> lock(p->mu);
    if (p->done && p->cursor.ok()) (*p->cursor)->Cancel();
  }
  names_.reset();  // the caller's (a TF input iterator): never left behind
  auto files = std::make_unique<OpenFiles>();
  files->pool = std::move(pool_);
  files->slots = std::move(slots_);
  files->pending = std::move(pending_);
  files->cursors = cursors_;
  DestroyWithin(std::move(files), options_.abandon_after);
}

void SequentialReader::DropPending(
    std::deque<std::shared_ptr<Pending>>* pending) {
  for (auto& p : *pending) {
    if (p->started) (void)p->Wait();  // the open may still be running
  }
  pending->clear();
}

bool SequentialReader::BudgetHasRoom() const {
  return budget_->in_use() + cursors_->options.prefetch.chunk_size <=
         budget_->limit();
}

void SequentialReader::StartOpen(const std::shared_ptr<Pending>& p) {
  p->started = true;
  pool_->Schedule([cursors = cursors_, p] {
    absl::StatusOr<std::unique_ptr<FileCursor>> cursor = cursors->Open(p->name, 0);
    std::lock_guard<std::mutex> lock(p->mu);
    // Under p->mu: either the destructor sees `done` and cancels the cursor,
    // or this sees `cancelled`.
    if (cursor.ok() && cursors->cancelled) (*cursor)->Cancel();
    p->cursor = std::move(cursor);
    p->done = true;
    p->cv.notify_all();
  });
}

void SequentialReader::OpenAhead() {
  for (const auto& p : pending_) {  // names restored from a checkpoint
    if (p->started) continue;
    if (!BudgetHasRoom()) return;
    StartOpen(p);
  }
  while (!names_exhausted_ && pending_.size() < max_files_ahead_ &&
         BudgetHasRoom()) {
    TakeNextName();
    if (!pending_.empty() && !pending_.back()->started) {
      StartOpen(pending_.back());
    }
  }
}

void SequentialReader::ResumeReadahead() {
  // Per released chunk, not per record: an atomic load on the common path.
  const uint64_t releases = budget_->releases();
  if (releases == releases_seen_ || !BudgetHasRoom()) return;
  releases_seen_ = releases;
  for (Slot& slot : slots_) {
    if (slot.cursor != nullptr) slot.cursor->ResumeReadahead();
  }
  for (const auto& p : pending_) {
    if (!p->started) continue;
    std::lock_guard<std::mutex> lock(p->mu);
    if (p->done && p->cursor.ok()) (*p->cursor)->ResumeReadahead();
  }
}

absl::Status SequentialReader::FillSlot(size_t slot) {
  if (pending_.empty() && !names_exhausted_) TakeNextName();
  if (pending_.empty()) return absl::OkStatus();
  std::shared_ptr<Pending> p = pending_.front();
  pending_.pop_front();
  absl::StatusOr<std::unique_ptr<FileCursor>> cursor =
      p->started ? p->Wait() : cursors_->Open(p->name, 0);
  if (!cursor.ok()) return cursor.status();
  slots_[slot].file = p->name;
  slots_[slot].cursor = *std::move(cursor);
  ++num_open_;
  return absl::OkStatus();
}

void SequentialReader::TakeNextName() {
  absl::StatusOr<std::optional<std::string>> name = names_->Next();
  if (!name.ok()) {
    // Surfaces in order, when a slot needs this file; no names after it.
    auto failed = std::make_shared<Pending>("");
    failed->started = failed->done = true;
    failed->cursor = name.status();
    pending_.push_back(std::move(failed));
    names_exhausted_ = true;
  } else if (!name->has_value()) {
    names_exhausted_ = true;
  } else {
    ++names_taken_;
    pending_.push_back(std::make_shared<Pending>(**std::move(name)));
  }
}

void SequentialReader::AdvanceCycle() {
  cycle_index_ = (cycle_index_ + 1) % slots_.size();
}

// The same state machine as tf.data's interleave with block_length 1, so the
// order of records matches the stock reader's exactly.
absl::Status SequentialReader::ReadRecord(
    absl::FunctionRef<char*(size_t)> allocate) {
  for (;;) {
    Slot& slot = slots_[cycle_index_];
    if (slot.cursor != nullptr) {
      absl::Status s = slot.cursor->ReadRecord(allocate);
      if (s.ok()) {
        AdvanceCycle();
        OpenAhead();
        ResumeReadahead();
        return s;
      }
      if (!absl::IsOutOfRange(s)) return s;
      slot.cursor.reset();
      slot.file.clear();
      --num_open_;
      AdvanceCycle();
    } else if (!names_exhausted_ || !pending_.empty()) {
      absl::Status s = FillSlot(cycle_index_);
      if (!s.ok()) return s;
    } else if (num_open_ == 0) {
      return absl::OutOfRangeError("end of input");
    } else {
      AdvanceCycle();
    }
  }
}

ReaderPosition SequentialReader::position() const {
  ReaderPosition p;
  p.cycle_index = static_cast<int64_t>(cycle_index_);
  p.names_exhausted = names_exhausted_;
  p.names_taken = names_taken_;
  for (const Slot& slot : slots_) {
    ReaderPosition::Slot s;
    if (slot.cursor != nullptr) {
      s.file = slot.file;
      s.offset = slot.cursor->position();
    }
    p.slots.push_back(s);
  }
  for (const auto& pending : pending_) {
    if (!pending->name.empty()) p.pending.push_back(pending->name);
  }
  return p;
}

absl::Status SequentialReader::Restore(const ReaderPosition& p) {
  if (p.slots.size() != slots_.size() || p.cycle_index < 0 ||
      p.cycle_index >= static_cast<int64_t>(slots_.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint does not match this dataset (", p.slots.size(),
        " slots, cycle at ", p.cycle_index, "; dataset has ", slots_.size(),
        " slots)"));
  }
  DropPending(&pending_);
  for (Slot& slot : slots_) {
    slot.cursor.reset();
    slot.file.clear();
  }
  num_open_ = 0;
  for (size_t i = 0; i < p.slots.size(); ++i) {
    if (p.slots[i].file.empty()) continue;
    absl::StatusOr<std::unique_ptr<FileCursor>> cursor =
        cursors_->Open(p.slots[i].file, p.slots[i].offset);
    if (!cursor.ok()) return cursor.status();
    slots_[i].file = p.slots[i].file;
    slots_[i].cursor = *std::move(cursor);
    ++num_open_;
  }
  for (const std::string& name : p.pending) {
    pending_.push_back(std::make_shared<Pending>(name));
  }
  names_exhausted_ = p.names_exhausted;
  names_taken_ = p.names_taken;
  cycle_index_ = static_cast<size_t>(p.cycle_index);
  return absl::OkStatus();
}

}  // namespace ffm

#include "ffm/reader/sequential_reader.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ffm {

struct SequentialReader::Preopened {
  int64_t file;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  absl::StatusOr<std::unique_ptr<FileCursor>> cursor;

  std::unique_ptr<FileCursor> Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [this] { return done; });
    return cursor.ok() ? *std::move(cursor) : nullptr;
  }
};

SequentialReader::SequentialReader(std::vector<std::string> files,
                                   SourceOpener open,
                                   const SequentialReaderOptions& options)
    : files_(std::move(files)),
      open_(std::move(open)),
      options_(options),
      budget_(std::make_shared<ByteBudget>(options.budget_bytes)),
      pool_(std::make_unique<ThreadPool>(std::max(1, options.io_threads))),
      slots_(std::max(1, options.cycle_length)) {}

SequentialReader::~SequentialReader() {
  DropPreopened();
  slots_.clear();  // cancels and waits for in-flight reads
  pool_.reset();
}

void SequentialReader::DropPreopened() {
  for (auto& p : preopened_) p->Wait();  // the open may still be running
  preopened_.clear();
}

void SequentialReader::OpenAhead() {
  const int64_t num_files = static_cast<int64_t>(files_.size());
  while (!file_source_ && !open_ahead_failed_ &&
         preopened_.size() < slots_.size() &&
         next_file_ + static_cast<int64_t>(preopened_.size()) < num_files &&
         budget_->in_use() + options_.cursor.prefetch.chunk_size <=
             budget_->limit()) {
    auto p = std::make_shared<Preopened>();
    p->file = next_file_ + static_cast<int64_t>(preopened_.size());
    preopened_.push_back(p);
    pool_->Schedule([this, p] {
      absl::StatusOr<std::unique_ptr<FileCursor>> cursor;
      absl::StatusOr<std::unique_ptr<ByteSource>> source = open_(files_[p->file]);
      if (source.ok()) {
        cursor = FileCursor::Open(*std::move(source), 0, options_.cursor,
                                  pool_.get(), budget_);
      } else {
        cursor = source.status();
      }
      std::lock_guard<std::mutex> lock(p->mu);
      p->cursor = std::move(cursor);
      p->done = true;
      p->cv.notify_all();
    });
  }
}

absl::Status SequentialReader::OpenSlot(size_t slot, int64_t file,
                                        uint64_t offset) {
  if (!preopened_.empty() && preopened_.front()->file == file && offset == 0) {
    std::shared_ptr<Preopened> p = preopened_.front();
    preopened_.pop_front();
    std::unique_ptr<FileCursor> cursor = p->Wait();
    if (cursor != nullptr) {
      slots_[slot].file = file;
      slots_[slot].cursor = std::move(cursor);
      ++num_open_;
      return absl::OkStatus();
    }
    open_ahead_failed_ = true;  // open it again below: same error, in order
    DropPreopened();
  }
  absl::StatusOr<std::unique_ptr<ByteSource>> source = open_(files_[file]);
  if (!source.ok()) return source.status();
  absl::StatusOr<std::unique_ptr<FileCursor>> cursor =
      FileCursor::Open(*std::move(source), offset, options_.cursor,
                       pool_.get(), budget_);
  if (!cursor.ok()) return cursor.status();
  slots_[slot].file = file;
  slots_[slot].cursor = *std::move(cursor);
  ++num_open_;
  return absl::OkStatus();
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
        return s;
      }
      if (!absl::IsOutOfRange(s)) return s;
      slot.cursor.reset();
      slot.file = -1;
      --num_open_;
      AdvanceCycle();
    } else if (!end_of_input_) {
      int64_t file = next_file_;
      if (file_source_) {
        absl::StatusOr<int64_t> next = file_source_();
        if (!next.ok()) return next.status();
        file = *next;
        if (file >= static_cast<int64_t>(files_.size())) {
          return absl::InvalidArgumentError(absl::StrCat(
              "split names file #", file, " of ", files_.size()));
        }
      }
      if (file < 0 || file >= static_cast<int64_t>(files_.size())) {
        end_of_input_ = true;
        continue;
      }
      absl::Status s = OpenSlot(cycle_index_, file, 0);
      if (!s.ok()) return s;
      next_file_ = file + 1;
    } else if (num_open_ == 0) {
      return absl::OutOfRangeError("end of input");
    } else {
      AdvanceCycle();
    }
  }
}

ReaderPosition SequentialReader::position() const {
  ReaderPosition p;
  p.next_file = next_file_;
  p.cycle_index = static_cast<int64_t>(cycle_index_);
  p.end_of_input = end_of_input_;
  for (const Slot& slot : slots_) {
    ReaderPosition::Slot s;
    if (slot.cursor != nullptr) {
      s.file = slot.file;
      s.offset = slot.cursor->position();
    }
    p.slots.push_back(s);
  }
  return p;
}

absl::Status SequentialReader::Restore(const ReaderPosition& p) {
  const int64_t num_files = static_cast<int64_t>(files_.size());
  if (p.slots.size() != slots_.size() || p.cycle_index < 0 ||
      p.cycle_index >= static_cast<int64_t>(slots_.size()) ||
      p.next_file < 0 || p.next_file > num_files) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint does not match this dataset (", p.slots.size(),
        " slots, next file ", p.next_file, "; dataset has ", slots_.size(),
        " slots and ", num_files, " files)"));
  }
  DropPreopened();
  for (Slot& slot : slots_) {
    slot.cursor.reset();
    slot.file = -1;
  }
  num_open_ = 0;
  for (size_t i = 0; i < p.slots.size(); ++i) {
    if (p.slots[i].file < 0) continue;
    if (p.slots[i].file >= num_files) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint names file #", p.slots[i].file,
                       " but the dataset has ", num_files, " files"));
    }
    absl::Status s = OpenSlot(i, p.slots[i].file, p.slots[i].offset);
    if (!s.ok()) return s;
  }
  next_file_ = p.next_file;
  cycle_index_ = static_cast<size_t>(p.cycle_index);
  end_of_input_ = p.end_of_input;
  return absl::OkStatus();
}

}  // namespace ffm

// Reads the records of many files in the order tf.data.TFRecordDataset gives:
// file after file (cycle_length 1), or N files interleaved one record at a
// time exactly like `interleave(cycle_length=N, block_length=1)`:
//
//   slots:   [a0] [b0] [c0]  → a0 b0 c0 a1 b1 c1 ...; when a file ends its
//   slot is refilled with the next file the next time the cycle reaches it.
//
// File names are taken from a FileNames source as they are needed, and
// ahead of need: while the budget has room, the next files are opened (on
// the executor) so their first chunks are in flight before the current ones
// end. With tens of milliseconds per request and shards of a few hundred MB
// the gap at each file boundary would otherwise cost a good part of the
// throughput; with many small files it would cost all of it.
//
// All open files share one executor and one byte budget, so readahead across
// files is bounded as a whole. Not thread-safe: one consumer at a time.
#ifndef FFM_READER_SEQUENTIAL_READER_H_
#define FFM_READER_SEQUENTIAL_READER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ffm/defaults.h"
#include "ffm/io/source_opener.h"
#include "ffm/prefetch/byte_budget.h"
#include "ffm/prefetch/executor.h"
#include "ffm/reader/file_cursor.h"
#include "ffm/reader/file_names.h"

namespace ffm {

struct SequentialReaderOptions {
  CursorOptions cursor;
  int cycle_length = 1;                             // files read at once
  uint64_t budget_bytes = defaults::kMemoryBudget;  // across all open files
  int io_threads = defaults::kIoThreads;            // concurrent chunk reads
  // Files opened ahead of the cycle, at most; 0 = max(cycle_length,
  // io_threads). Only while the budget has room for another chunk.
  int max_files_ahead = 0;
  // How long the destructor waits for reads already running; a read stalled
  // longer is left to finish in the background (see destroy_within.h).
  std::chrono::milliseconds abandon_after = defaults::kAbandonAfter;
};

// Where a reader is: enough to resume on exactly the next record, given a
// FileNames source restored to where it was (it holds the names not yet
// taken).
struct ReaderPosition {
  struct Slot {
    std::string file;  // empty = no file in this slot
    uint64_t offset = 0;
  };
  std::vector<Slot> slots;
  std::vector<std::string> pending;  // taken from FileNames, not yet in a slot
  int64_t cycle_index = 0;
  bool names_exhausted = false;  // FileNames has said there are no more
  // Names taken from FileNames so far: where a FileNameList resumes.
  uint64_t names_taken = 0;
};

class SequentialReader {
 public:
  SequentialReader(std::unique_ptr<FileNames> names, SourceOpener open,
                   const SequentialReaderOptions& options);
  // Returns within `abandon_after` even when a read is stalled: reads are
  // cancelled, and what still runs is destroyed in the background.
  ~SequentialReader();

  // OutOfRange once every file is read.
  absl::Status ReadRecord(absl::FunctionRef<char*(size_t)> allocate);

  ReaderPosition position() const;
  // Reopens the files of `position`; call before the first ReadRecord.
  absl::Status Restore(const ReaderPosition& position);

  const ByteBudget& budget() const { return *budget_; }

 private:
  struct Pending;
  struct CursorFactory;
  struct OpenFiles;

  // Puts the next file into slot `slot`; with no file left, marks the names
  // exhausted and leaves the slot empty.
  absl::Status FillSlot(size_t slot);
  // Takes names and starts opening them while the budget has room.
  void OpenAhead();
  // Once the budget has released bytes, lets every open or opened-ahead
  // file restart reads it refused them (see ChunkPrefetcher::Resume); the
  // file being consumed needs it least, but asking it costs one lock.
  void ResumeReadahead();
  bool BudgetHasRoom() const;
  // Opens `p` on the executor.
  void StartOpen(const std::shared_ptr<Pending>& p);
  // Waits for the opens of `pending` still running, then empties it.
  static void DropPending(std::deque<std::shared_ptr<Pending>>* pending);
  void AdvanceCycle();
  // Takes the next name into pending_ (a failure too, as an entry that
  // returns it in order), or marks the names exhausted.
  void TakeNextName();

  std::unique_ptr<FileNames> names_;
  const SequentialReaderOptions options_;
  const size_t max_files_ahead_;
  std::shared_ptr<ByteBudget> budget_;
  std::unique_ptr<ThreadPool> pool_;  // outlives the cursors (declared first)
  // Shared with opens running on the executor, which may outlive `this`.
  std::shared_ptr<const CursorFactory> cursors_;

  struct Slot {
    std::string file;
    std::unique_ptr<FileCursor> cursor;
  };
  std::vector<Slot> slots_;
  std::deque<std::shared_ptr<Pending>> pending_;  // in the order taken
  bool names_exhausted_ = false;
  uint64_t names_taken_ = 0;
  size_t cycle_index_ = 0;
  int num_open_ = 0;
  uint64_t releases_seen_ = 0;  // budget_->releases() at the last resume
};

}  // namespace ffm

#endif  // FFM_READER_SEQUENTIAL_READER_H_

// Reads the records of many files in the order tf.data.TFRecordDataset gives:
// file after file (cycle_length 1), or N files interleaved one record at a
// time exactly like `interleave(cycle_length=N, block_length=1)`:
//
//   slots:   [a0] [b0] [c0]  → a0 b0 c0 a1 b1 c1 ...; when a file ends its
//   slot is refilled with the next file the next time the cycle reaches it.
//
// All open files share one executor and one byte budget, so readahead across
// files is bounded as a whole. While the budget has room, the next files in
// the list are opened ahead (on the executor) so their first chunks are in
// flight before the current ones end: with tens of milliseconds per request
// and shards of a few hundred MB, the gap at each file boundary would
// otherwise cost a good part of the throughput.
// Not thread-safe: one consumer at a time.
#ifndef FFM_READER_SEQUENTIAL_READER_H_
#define FFM_READER_SEQUENTIAL_READER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ffm/io/byte_source.h"
#include "ffm/prefetch/byte_budget.h"
#include "ffm/prefetch/executor.h"
#include "ffm/reader/file_cursor.h"

namespace ffm {

using SourceOpener = std::function<absl::StatusOr<std::unique_ptr<ByteSource>>(
    const std::string& uri)>;

struct SequentialReaderOptions {
  CursorOptions cursor;
  int cycle_length = 1;                 // files read at once
  uint64_t budget_bytes = 256ull << 20; // readahead across all open files
  int io_threads = 16;                  // concurrent chunk reads
};

// Where a reader is: enough to resume on exactly the next record.
struct ReaderPosition {
  struct Slot {
    int64_t file = -1;  // index into the file list; -1 = empty slot
    uint64_t offset = 0;
  };
  int64_t next_file = 0;
  int64_t cycle_index = 0;
  bool end_of_input = false;
  std::vector<Slot> slots;
};

class SequentialReader {
 public:
  SequentialReader(std::vector<std::string> files, SourceOpener open,
                   const SequentialReaderOptions& options);
  ~SequentialReader();

  // OutOfRange once every file is read.
  absl::Status ReadRecord(absl::FunctionRef<char*(size_t)> allocate);

  ReaderPosition position() const;
  // Reopens the files of `position`; call before the first ReadRecord.
  absl::Status Restore(const ReaderPosition& position);

  const ByteBudget& budget() const { return *budget_; }

  // Where the next file to open comes from instead of the list order: an
  // index into the file list, or -1 when there are no more (tf.data service
  // hands out files as splits this way). Set before the first ReadRecord.
  using FileSource = std::function<absl::StatusOr<int64_t>()>;
  void set_file_source(FileSource source) { file_source_ = std::move(source); }

 private:
  struct Preopened;

  absl::Status OpenSlot(size_t slot, int64_t file, uint64_t offset);
  void AdvanceCycle();
  // Opens the next files ahead while the budget has room for their reads.
  void OpenAhead();
  void DropPreopened();

  const std::vector<std::string> files_;
  const SourceOpener open_;
  const SequentialReaderOptions options_;
  std::shared_ptr<ByteBudget> budget_;
  std::unique_ptr<ThreadPool> pool_;  // outlives the cursors (declared first)
  FileSource file_source_;
  std::deque<std::shared_ptr<Preopened>> preopened_;  // files next_file_, +1..
  bool open_ahead_failed_ = false;  // the error surfaces in order instead

  struct Slot {
    int64_t file = -1;
    std::unique_ptr<FileCursor> cursor;
  };
  std::vector<Slot> slots_;
  int64_t next_file_ = 0;
  size_t cycle_index_ = 0;
  bool end_of_input_ = false;
  int num_open_ = 0;
};

}  // namespace ffm

#endif  // FFM_READER_SEQUENTIAL_READER_H_

// Helpers shared by the engine's unit tests: an in-memory ByteSource that can
// fail, stall or count its reads; record framing; zlib/gzip compression; and
// the source -> prefetcher -> (inflating) stream -> parser stack the readers
// build, assembled from parts so each test picks chunk size and executor.
#ifndef FFM_TESTS_CC_TEST_UTIL_H_
#define FFM_TESTS_CC_TEST_UTIL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ffm/io/byte_source.h"
#include "ffm/prefetch/byte_budget.h"
#include "ffm/prefetch/chunk_prefetcher.h"
#include "ffm/prefetch/executor.h"
#include "ffm/reader/read_plan.h"
#include "ffm/reader/sequential_reader.h"
#include "ffm/stream/byte_stream.h"
#include "ffm/tfrecord/record_reader.h"
#include "ffm/stream/zlib_stream.h"

namespace ffm {
namespace test {

// What a StringSource saw; shared so tests can look after handing the
// source to a reader.
struct ReadStats {
  std::atomic<int> reads{0};        // ReadAt calls
  std::atomic<int> in_flight{0};    // ReadAt calls running now
  std::atomic<int> max_in_flight{0};
  std::atomic<uint64_t> bytes{0};   // bytes returned
};

struct StringSourceOptions {
  // A read whose range [offset, offset + n) contains `fail_offset` returns
  // `fail_code` with a message naming the uri and the read's offset.
  std::optional<uint64_t> fail_offset;
  absl::StatusCode fail_code = absl::StatusCode::kUnavailable;
  // Every read sleeps this long first (to keep reads in flight).
  absl::Duration delay = absl::ZeroDuration();
  std::shared_ptr<ReadStats> stats;  // optional
};

// A ByteSource over bytes in memory; thread-safe like every ByteSource.
class StringSource final : public ByteSource {
 public:
  StringSource(std::string uri, std::shared_ptr<const std::string> data,
               StringSourceOptions options = {});
  StringSource(std::string uri, std::string data,
               StringSourceOptions options = {});

  const std::string& uri() const override { return uri_; }
  uint64_t size() const override { return data_->size(); }
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override;

 private:
  const std::string uri_;
  const std::shared_ptr<const std::string> data_;
  const StringSourceOptions options_;
};

// A remote object whose reads past `stall_from` hang like a stalled HTTP
// request: they ignore Cancel() and return only once the test releases them.
struct StallControl {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::atomic<int> stalled{0};    // reads that have hung
  std::atomic<int> cancels{0};    // Cancel() calls
  std::atomic<bool> destroyed{false};

  void Release();
};

class StallingSource final : public ByteSource {
 public:
  StallingSource(std::string uri, std::string data, uint64_t stall_from,
                 std::shared_ptr<StallControl> control);
  ~StallingSource() override;

  const std::string& uri() const override { return inner_.uri(); }
  uint64_t size() const override { return inner_.size(); }
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override;
  void Cancel() const override { ++control_->cancels; }

 private:
  const StringSource inner_;
  const uint64_t stall_from_;
  const std::shared_ptr<StallControl> control_;
};

// Polls `condition` until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);

// Framing.
std::string FrameRecords(const std::vector<std::string>& records);
// Byte offset of each record in FrameRecords(records), plus the total size.
std::vector<uint64_t> RecordOffsets(const std::vector<std::string>& records);
// `n` records of random bytes with lengths in [0, max_length], from `seed`.
std::vector<std::string> RandomRecords(uint32_t seed, int n, size_t max_length);

// Compresses `data` as a single zlib or gzip stream (deflateInit2).
std::string Compress(absl::string_view data, Compression format,
                     int level = 6);

// The reading stack over one source, as FileCursor builds it but from parts:
// ChunkPrefetcher -> ChunkStream -> [ZlibStream] -> RecordReader.
struct StackOptions {
  uint64_t chunk_size = 4096;
  uint64_t first_chunk_size = 0;  // 0: same as chunk_size
  int max_in_flight = 4;
  uint64_t budget_bytes = 1 << 20;
  Compression compression = Compression::kNone;
  bool verify_crc = true;
  Executor* executor = nullptr;  // null: synchronous reads
};

class RecordStack {
 public:
  RecordStack(const ByteSource* source, const StackOptions& options);
  ~RecordStack();

  RecordReader& reader() { return *reader_; }
  ByteStream& stream() { return *stream_; }
  const ByteBudget& budget() const { return *budget_; }

 private:
  std::shared_ptr<ByteBudget> budget_;
  std::unique_ptr<ByteStream> stream_;
  std::unique_ptr<RecordReader> reader_;
};

// Every record up to the first non-OK status, and that status.
struct ReadResult {
  std::vector<std::string> records;
  absl::Status status;
};
ReadResult ReadAll(RecordReader& reader);
// Reads one record into a string.
absl::StatusOr<std::string> ReadOne(RecordReader& reader);
// The same through a SequentialReader; stops after `limit` records.
ReadResult ReadAll(SequentialReader& reader, size_t limit = SIZE_MAX);

// Serves StringSources from a map of uri -> bytes; NotFound otherwise.
SourceOpener MapOpener(std::map<std::string, std::string> files);

// A reader's file names from a list, from names[first] on.
inline std::unique_ptr<FileNames> List(std::vector<std::string> names,
                                       size_t first = 0) {
  return std::make_unique<FileNameList>(std::move(names), first);
}

// True if `status` has `code` and its message contains every piece.
::testing::AssertionResult StatusIs(const absl::Status& status,
                                    absl::StatusCode code,
                                    const std::vector<std::string>& pieces);

// A whole epoch's plan spelled out, for tests: the plan over a copy of
// `index`, all of its groups (asked for one after another, as a reader
// does) and the record ids in order. Each ADD_FAILUREs on an error.
ReadPlan MakeReadPlan(const RecordIndex& index, const PlanOptions& options);
std::vector<ReadGroup> GroupsOf(const ReadPlan& plan);
std::vector<uint64_t> EpochOrder(const RecordIndex& index,
                                 const PlanOptions& options);

}  // namespace test
}  // namespace ffm

#endif  // FFM_TESTS_CC_TEST_UTIL_H_

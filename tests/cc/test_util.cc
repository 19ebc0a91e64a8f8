#include "test_util.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "ffm/stream/chunk_stream.h"
#include "ffm/tfrecord/format.h"

namespace ffm {
namespace test {

StringSource::StringSource(std::string uri,
                           std::shared_ptr<const std::string> data,
                           StringSourceOptions options)
    : uri_(std::move(uri)), data_(std::move(data)), options_(std::move(options)) {}

StringSource::StringSource(std::string uri, std::string data,
                           StringSourceOptions options)
    : StringSource(std::move(uri),
                   std::make_shared<const std::string>(std::move(data)),
                   std::move(options)) {}

absl::StatusOr<size_t> StringSource::ReadAt(uint64_t offset, size_t n,
                                            char* dst) const {
  ReadStats* stats = options_.stats.get();
  if (stats != nullptr) {
    stats->reads.fetch_add(1);
    int now = stats->in_flight.fetch_add(1) + 1;
    int max = stats->max_in_flight.load();
    while (now > max && !stats->max_in_flight.compare_exchange_weak(max, now)) {
    }
  }
  if (options_.delay > absl::ZeroDuration()) absl::SleepFor(options_.delay);
  absl::StatusOr<size_t> result;
  if (options_.fail_offset.has_value() && *options_.fail_offset >= offset &&
      *options_.fail_offset - offset < n) {
    result = absl::Status(options_.fail_code,
                          absl::StrCat(uri_, ": injected failure reading ", n,
                                       " bytes at byte offset ", offset));
  } else {
    size_t take = offset >= data_->size()
                      ? 0
                      : std::min<uint64_t>(n, data_->size() - offset);
    if (take > 0) std::memcpy(dst, data_->data() + offset, take);
    if (stats != nullptr) stats->bytes.fetch_add(take);
    result = take;
  }
  if (stats != nullptr) stats->in_flight.fetch_sub(1);
  return result;
}

void StallControl::Release() {
  std::lock_guard<std::mutex> lock(mu);
  released = true;
  cv.notify_all();
}

StallingSource::StallingSource(std::string uri, std::string data,
                               uint64_t stall_from,
                               std::shared_ptr<StallControl> control)
    : inner_(std::move(uri), std::move(data)),
      stall_from_(stall_from),
      control_(std::move(control)) {}

StallingSource::~StallingSource() { control_->destroyed = true; }

absl::StatusOr<size_t> StallingSource::ReadAt(uint64_t offset, size_t n,
                                              char* dst) const {
  if (offset >= stall_from_) {
    ++control_->stalled;
    std::unique_lock<std::mutex> lock(control_->mu);
    control_->cv.wait(lock, [this] { return control_->released; });
  }
  return inner_.ReadAt(offset, n, dst);
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

std::string FrameRecords(const std::vector<std::string>& records) {
  std::string out;
  for (const std::string& r : records) out += tfrecord::FrameRecord(r);
  return out;
}

std::vector<uint64_t> RecordOffsets(const std::vector<std::string>& records) {
  std::vector<uint64_t> offsets = {0};
  for (const std::string& r : records) {
    offsets.push_back(offsets.back() + tfrecord::kHeaderSize + r.size() +
                      tfrecord::kFooterSize);
  }
  return offsets;
}

std::vector<std::string> RandomRecords(uint32_t seed, int n,
                                       size_t max_length) {
  std::mt19937 rng(seed);
  std::vector<std::string> records;
  for (int i = 0; i < n; ++i) {
    std::string r(std::uniform_int_distribution<size_t>(0, max_length)(rng),
                  '\0');
    for (char& c : r) c = static_cast<char>(rng());
    records.push_back(std::move(r));
  }
  return records;
}

std::string Compress(absl::string_view data, Compression format, int level) {
  z_stream zs{};
  int window_bits = format == Compression::kGzip ? MAX_WBITS + 16 : MAX_WBITS;
  if (deflateInit2(&zs, level, Z_DEFLATED, window_bits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    ADD_FAILURE() << "deflateInit2 failed";
    return "";
  }
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  EXPECT_EQ(rc, Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

RecordStack::RecordStack(const ByteSource* source, const StackOptions& o)
    : budget_(std::make_shared<ByteBudget>(o.budget_bytes)) {
  PrefetchOptions prefetch;
  prefetch.chunk_size = o.chunk_size;
  prefetch.first_chunk_size =
      o.first_chunk_size == 0 ? o.chunk_size : o.first_chunk_size;
  prefetch.max_in_flight = o.max_in_flight;
  auto chunks = std::make_unique<ChunkStream>(
      std::make_unique<ChunkPrefetcher>(source, 0, prefetch, o.executor,
                                        budget_),
      0);
  if (o.compression == Compression::kNone) {
    stream_ = std::move(chunks);
  } else {
    stream_ = std::make_unique<ZlibStream>(std::move(chunks), o.compression,
                                           source->uri());
  }
  reader_ = std::make_unique<RecordReader>(stream_.get(), source->uri(),
                                           o.verify_crc);
}

RecordStack::~RecordStack() = default;

absl::StatusOr<std::string> ReadOne(RecordReader& reader) {
  std::string record;
  absl::Status s = reader.ReadRecord([&record](size_t n) {
    record.resize(n);
    return &record[0];
  });
  if (!s.ok()) return s;
  return record;
}

ReadResult ReadAll(RecordReader& reader) {
  ReadResult result;
  for (;;) {
    absl::StatusOr<std::string> r = ReadOne(reader);
    if (!r.ok()) {
      result.status = r.status();
      return result;
    }
    result.records.push_back(*std::move(r));
  }
}

ReadResult ReadAll(SequentialReader& reader, size_t limit) {
  ReadResult result;
  while (result.records.size() < limit) {
    std::string record;
    result.status = reader.ReadRecord([&record](size_t n) {
      record.resize(n);
      return &record[0];
    });
    if (!result.status.ok()) break;
    result.records.push_back(std::move(record));
  }
  return result;
}

SourceOpener MapOpener(std::map<std::string, std::string> files) {
  auto shared = std::make_shared<
      std::map<std::string, std::shared_ptr<const std::string>>>();
  for (auto& [uri, bytes] : files) {
    (*shared)[uri] = std::make_shared<const std::string>(std::move(bytes));
  }
  return [shared](const std::string& uri)
             -> absl::StatusOr<std::unique_ptr<ByteSource>> {
    auto it = shared->find(uri);
    if (it == shared->end()) {
      return absl::NotFoundError(absl::StrCat(uri, ": no such file"));
    }
    return std::make_unique<StringSource>(uri, it->second);
  };
}

namespace {
// `piece` occurs in `text` and, if it ends in a digit, is not followed by
// one: "offset 12" does not match "offset 123".
bool ContainsToken(absl::string_view text, absl::string_view piece) {
  for (size_t at = text.find(piece); at != absl::string_view::npos;
       at = text.find(piece, at + 1)) {
    size_t after = at + piece.size();
    bool digit_end = !piece.empty() && absl::ascii_isdigit(piece.back());
    if (!digit_end || after == text.size() ||
        !absl::ascii_isdigit(text[after])) {
      return true;
    }
  }
  return false;
}
}  // namespace

::testing::AssertionResult StatusIs(const absl::Status& status,
                                    absl::StatusCode code,
                                    const std::vector<std::string>& pieces) {
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "expected code " << absl::StatusCodeToString(code) << ", got "
           << status;
  }
  for (const std::string& piece : pieces) {
    if (!ContainsToken(status.message(), piece)) {
      return ::testing::AssertionFailure()
             << "message of " << status << " lacks \"" << piece << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

ReadPlan MakeReadPlan(const RecordIndex& index, const PlanOptions& options) {
  absl::StatusOr<ReadPlan> plan =
      ReadPlan::Make(std::make_shared<const RecordIndex>(index), options);
  if (!plan.ok()) {
    ADD_FAILURE() << plan.status();
    return *ReadPlan::Make(std::make_shared<const RecordIndex>(
                               *RecordIndex::Create({}, {})),
                           PlanOptions{});
  }
  return *std::move(plan);
}

std::vector<ReadGroup> GroupsOf(const ReadPlan& plan) {
  std::vector<ReadGroup> groups;
  for (uint64_t p = 0; p < plan.num_records();) {
    absl::StatusOr<ReadGroup> g = plan.GroupAt(p);
    if (!g.ok() || g->records.empty()) {
      ADD_FAILURE() << "no group at position " << p << ": " << g.status();
      break;
    }
    EXPECT_EQ(g->first_position, p);
    p += g->records.size();
    groups.push_back(*std::move(g));
  }
  return groups;
}

std::vector<uint64_t> EpochOrder(const RecordIndex& index,
                                 const PlanOptions& options) {
  ReadPlan plan = MakeReadPlan(index, options);
  std::vector<uint64_t> order;
  for (uint64_t p = 0; p < plan.num_records(); ++p) {
    absl::StatusOr<uint64_t> id = plan.RecordAt(p);
    if (!id.ok()) {
      ADD_FAILURE() << id.status();
      break;
    }
    order.push_back(*id);
  }
  return order;
}

}  // namespace test
}  // namespace ffm

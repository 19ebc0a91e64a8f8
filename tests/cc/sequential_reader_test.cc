// SequentialReader: file order, tf.data interleave order against an
// independent model, checkpoint/restore at every break point, errors.
#include "ffm/reader/sequential_reader.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

using Files = std::vector<std::vector<std::string>>;  // records per file

std::string FileName(size_t i) { return absl::StrCat("mem://d/f", i); }

// `num_files` files of 0..max_records records each; each record names its
// file and index, padded to a random length so records span chunks.
Files RandomFiles(uint32_t seed, int num_files, int max_records) {
  std::mt19937 rng(seed);
  Files files(num_files);
  for (int f = 0; f < num_files; ++f) {
    int n = std::uniform_int_distribution<int>(0, max_records)(rng);
    for (int r = 0; r < n; ++r) {
      files[f].push_back(absl::StrCat(
          "f", f, "r", r, "|",
          std::string(std::uniform_int_distribution<int>(0, 90)(rng), 'x')));
    }
  }
  return files;
}

// tf.data's interleave(cycle_length=N, block_length=1), stated as visits:
// the cycle visits slots 0..N-1 in turn. Visiting an empty slot first pulls
// in the next file, if any. A visit then emits the slot's next record, or,
// if its file has none left, empties the slot (the refill waits for the
// next visit).
std::vector<std::string> InterleaveModel(const Files& files, int cycle) {
  struct Slot {
    const std::vector<std::string>* records = nullptr;
    size_t next = 0;
  };
  std::vector<Slot> slots(cycle);
  std::vector<std::string> out;
  size_t next_file = 0;
  for (;;) {
    for (Slot& slot : slots) {
      if (slot.records == nullptr && next_file < files.size()) {
        slot = Slot{&files[next_file++], 0};
      }
      if (slot.records == nullptr) continue;
      if (slot.next < slot.records->size()) {
        out.push_back((*slot.records)[slot.next++]);
      } else {
        slot.records = nullptr;
      }
    }
    if (next_file == files.size() &&
        std::all_of(slots.begin(), slots.end(),
                    [](const Slot& s) { return s.records == nullptr; })) {
      return out;
    }
  }
}

std::vector<std::string> Flatten(const Files& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.insert(out.end(), f.begin(), f.end());
  return out;
}

std::map<std::string, std::string> FileBytes(const Files& files,
                                             Compression compression) {
  std::map<std::string, std::string> bytes;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string raw = FrameRecords(files[i]);
    bytes[FileName(i)] = compression == Compression::kNone
                             ? raw
                             : Compress(raw, compression);
  }
  return bytes;
}

std::vector<std::string> Names(size_t n) {
  std::vector<std::string> names;
  for (size_t i = 0; i < n; ++i) names.push_back(FileName(i));
  return names;
}

SequentialReaderOptions Options(int cycle, Compression compression) {
  SequentialReaderOptions o;
  o.cycle_length = cycle;
  o.cursor.compression = compression;
  o.cursor.prefetch.first_chunk_size = 16;
  o.cursor.prefetch.chunk_size = 64;
  o.cursor.prefetch.max_in_flight = 3;
  o.budget_bytes = 512;
  o.io_threads = 2;
  return o;
}

// The model itself, on a case worked out by hand: cycle 2 over files a, b,
// c, d of 3, 0, 1 and 2 records. Visits: a0 | b opened, empty, cleared |
// a1 | c opened, c0 | a2 | c done, cleared | a done, cleared | d opened,
// d0 | (no files left) | d1 | d done: a0 a1 c0 a2 d0 d1.
TEST(InterleaveModelTest, HandWorkedExample) {
  Files files = {{"a0", "a1", "a2"}, {}, {"c0"}, {"d0", "d1"}};
  EXPECT_EQ(InterleaveModel(files, 2),
            (std::vector<std::string>{"a0", "a1", "c0", "a2", "d0", "d1"}));
  EXPECT_EQ(InterleaveModel(files, 1), Flatten(files));
}

TEST(SequentialReaderTest, CycleLengthOneReadsFilesInOrder) {
  Files files = RandomFiles(/*seed=*/1, 6, 6);
  files[2].clear();
  SequentialReader reader(List(Names(files.size())),
                          MapOpener(FileBytes(files, Compression::kNone)),
                          Options(1, Compression::kNone));
  ReadResult r = ReadAll(reader);
  EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kOutOfRange, {}));
  EXPECT_EQ(r.records, Flatten(files));
}

TEST(SequentialReaderTest, InterleaveMatchesTheModel) {
  for (uint32_t seed = 0; seed < 25; ++seed) {
    Files files = RandomFiles(seed, 1 + seed % 9, 5);
    for (int cycle : {1, 2, 3, 4, 8}) {
      SCOPED_TRACE(absl::StrCat("seed ", seed, " cycle ", cycle));
      SequentialReader reader(List(Names(files.size())),
                              MapOpener(FileBytes(files, Compression::kNone)),
                              Options(cycle, Compression::kNone));
      ReadResult r = ReadAll(reader);
      EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kOutOfRange, {}));
      ASSERT_EQ(r.records, InterleaveModel(files, cycle));
      EXPECT_EQ(reader.budget().in_use(), 0u);  // every file closed
      // And again: the end is sticky.
      EXPECT_TRUE(StatusIs(ReadAll(reader).status,
                           absl::StatusCode::kOutOfRange, {}));
    }
  }
}

TEST(SequentialReaderTest, NoFiles) {
  SequentialReader reader(List({}), MapOpener({}), Options(3, Compression::kNone));
  ReadResult r = ReadAll(reader);
  EXPECT_TRUE(r.records.empty());
  EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kOutOfRange, {}));
}

// Param: compression, cycle length.
class SequentialReaderRestoreTest
    : public ::testing::TestWithParam<std::tuple<Compression, int>> {};

// A checkpoint taken after any number of records, restored into a fresh
// reader, yields exactly the records the first reader had left.
TEST_P(SequentialReaderRestoreTest, RestoreAtEveryBreakPoint) {
  const auto [compression, cycle] = GetParam();
  Files files = RandomFiles(/*seed=*/11, 6, 6);
  files[1].clear();
  files[4] = {"", "short", std::string(200, 'y')};
  const std::vector<std::string> expected = InterleaveModel(files, cycle);
  const auto bytes = FileBytes(files, compression);
  const auto options = Options(cycle, compression);

  std::vector<ReaderPosition> positions;
  SequentialReader first(List(Names(files.size())), MapOpener(bytes), options);
  positions.push_back(first.position());
  std::vector<std::string> records;
  for (;;) {
    ReadResult one = ReadAll(first, 1);
    positions.push_back(first.position());
    if (!one.status.ok()) break;
    records.push_back(one.records[0]);
  }
  ASSERT_EQ(records, expected);

  for (size_t k = 0; k < positions.size(); ++k) {
    SCOPED_TRACE(k);
    SequentialReader resumed(
        List(Names(files.size()), positions[k].names_taken), MapOpener(bytes),
        options);
    ASSERT_TRUE(resumed.Restore(positions[k]).ok());
    ReadResult rest = ReadAll(resumed);
    EXPECT_TRUE(StatusIs(rest.status, absl::StatusCode::kOutOfRange, {}));
    const size_t done = std::min(k, expected.size());
    EXPECT_EQ(rest.records, std::vector<std::string>(
                                expected.begin() + done, expected.end()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, SequentialReaderRestoreTest,
    ::testing::Combine(::testing::Values(Compression::kNone,
                                         Compression::kGzip),
                       ::testing::Values(1, 3)),
    [](const auto& info) {
      return absl::StrCat(std::get<0>(info.param) == Compression::kNone
                              ? "none"
                              : "gzip",
                          "_cycle", std::get<1>(info.param));
    });

TEST(SequentialReaderTest, RestoreRejectsACheckpointOfAnotherShape) {
  SequentialReader reader(List(Names(2)), MapOpener({}),
                          Options(2, Compression::kNone));
  ReaderPosition p;
  p.slots.resize(3);  // three slots, the reader has two
  EXPECT_EQ(reader.Restore(p).code(), absl::StatusCode::kInvalidArgument);
  p.slots.resize(2);
  p.cycle_index = 2;  // past the last slot
  EXPECT_EQ(reader.Restore(p).code(), absl::StatusCode::kInvalidArgument);
}

// The opener's error comes back as it is, after the records that precede
// the missing file in the interleaved order.
TEST(SequentialReaderTest, MissingFilePropagatesNotFound) {
  Files files = {{"a0", "a1"}, {"b0"}};
  auto bytes = FileBytes(files, Compression::kNone);
  const std::vector<std::string> names = {FileName(0), "mem://d/missing",
                                          FileName(1)};
  struct Case {
    int cycle;
    std::vector<std::string> before;
  };
  for (const Case& c : {Case{1, {"a0", "a1"}}, Case{2, {"a0"}}}) {
    SCOPED_TRACE(c.cycle);
    SequentialReader reader(List(names), MapOpener(bytes),
                            Options(c.cycle, Compression::kNone));
    ReadResult r = ReadAll(reader);
    EXPECT_EQ(r.records, c.before);
    EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kNotFound,
                         {"mem://d/missing"}));
  }
}

// A file whose open-ahead failed is not opened again when its turn comes:
// the kept error is returned in order (a second open doubled the time to
// error against a dead S3 endpoint). Every name is opened exactly once.
TEST(SequentialReaderTest, FailedOpenAheadIsReturnedWithoutASecondOpen) {
  Files files = {{"a0", "a1", "a2"}, {"b0"}};
  SourceOpener inner = MapOpener(FileBytes(files, Compression::kNone));
  struct Counts {
    std::mutex mu;
    std::map<std::string, int> opens;
  };
  for (int cycle : {1, 2}) {
    SCOPED_TRACE(cycle);
    auto counts = std::make_shared<Counts>();
    SourceOpener counting = [inner, counts](const std::string& uri) {
      {
        std::lock_guard<std::mutex> lock(counts->mu);
        ++counts->opens[uri];
      }
      return inner(uri);
    };
    const std::vector<std::string> names = {FileName(0), "mem://d/missing",
                                            FileName(1)};
    SequentialReader reader(List(names), counting,
                            Options(cycle, Compression::kNone));
    ReadResult r = ReadAll(reader);
    EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kNotFound,
                         {"mem://d/missing"}));
    std::lock_guard<std::mutex> lock(counts->mu);
    EXPECT_EQ(counts->opens["mem://d/missing"], 1);
    for (const auto& [uri, n] : counts->opens) EXPECT_LE(n, 1) << uri;
  }
}

TEST(SequentialReaderTest, CorruptFileIsDataLossNamingIt) {
  Files files = {{"a0", "a1"}, {"b0", "b1"}};
  auto bytes = FileBytes(files, Compression::kNone);
  const size_t second = RecordOffsets(files[1])[1];
  bytes[FileName(1)][second + 12] ^= 0x01;  // data of b1
  SequentialReader reader(List(Names(2)), MapOpener(bytes),
                          Options(2, Compression::kNone));
  ReadResult r = ReadAll(reader);
  EXPECT_EQ(r.records, (std::vector<std::string>{"a0", "b0", "a1"}));
  EXPECT_TRUE(StatusIs(r.status, absl::StatusCode::kDataLoss,
                       {FileName(1), absl::StrCat("offset ", second)}));
}

std::unique_ptr<SequentialReader> StallingReader(
    uint64_t stall_from, std::shared_ptr<StallControl> control) {
  std::string bytes = FrameRecords(RandomRecords(7, 200, 100));
  SourceOpener open = [bytes, stall_from, control](const std::string&)
      -> absl::StatusOr<std::unique_ptr<ByteSource>> {
    return std::make_unique<StallingSource>("mem://d/stalling", bytes,
                                            stall_from, control);
  };
  SequentialReaderOptions options = Options(1, Compression::kNone);
  options.budget_bytes = 1 << 20;  // room to read ahead into the stall
  options.abandon_after = std::chrono::milliseconds(100);
  return std::make_unique<SequentialReader>(List({"mem://d/stalling"}), open,
                                            options);
}

// An iterator destroyed while a request hangs must not hang with it: the
// destructor cancels the source and returns after `abandon_after`; the
// stalled read finishes in the background and then frees the source.
TEST(SequentialReaderTest, DestructionReturnsWhileAReadIsStalled) {
  auto control = std::make_shared<StallControl>();
  std::unique_ptr<SequentialReader> reader = StallingReader(64, control);
  ReadResult first = ReadAll(*reader, /*limit=*/1);
  ASSERT_TRUE(first.status.ok()) << first.status;
  ASSERT_TRUE(WaitFor([&] { return control->stalled > 0; }, absl::Seconds(5)));

  const absl::Time start = absl::Now();
  reader.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_GE(control->cancels, 1);
  EXPECT_FALSE(control->destroyed);  // the stalled read still holds it

  control->Release();
  EXPECT_TRUE(WaitFor([&] { return control->destroyed.load(); },
                      absl::Seconds(10)));
}

// Without a stall, destruction is complete when the destructor returns.
TEST(SequentialReaderTest, DestructionIsCompleteWhenNothingStalls) {
  auto control = std::make_shared<StallControl>();
  std::unique_ptr<SequentialReader> reader =
      StallingReader(/*stall_from=*/UINT64_MAX, control);
  ReadResult first = ReadAll(*reader, /*limit=*/3);
  ASSERT_TRUE(first.status.ok()) << first.status;
  reader.reset();
  EXPECT_TRUE(control->destroyed);
}

}  // namespace
}  // namespace test
}  // namespace ffm

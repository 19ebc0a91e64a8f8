#include "ffm/index/record_scanner.h"

#include <string>

#include "ffm/stream/chunk_stream.h"
#include "ffm/tfrecord/record_reader.h"

namespace ffm {

absl::StatusOr<ScannedFile> ScanRecords(const ByteSource& source,
                                        const PrefetchOptions& prefetch,
                                        Executor* executor) {
  auto budget = std::make_shared<ByteBudget>(
      prefetch.chunk_size * static_cast<uint64_t>(prefetch.max_in_flight));
  ChunkStream stream(std::make_unique<ChunkPrefetcher>(&source, 0, prefetch,
                                                       executor, budget),
                     0);
  RecordReader reader(&stream, source.uri(), /*verify_crc=*/true);
  ScannedFile out;
  out.file.uri = source.uri();
  out.file.size = source.size();
  out.file.mtime_ns = source.mtime_ns();
  std::string scratch;
  for (;;) {
    absl::Status s = reader.ReadRecord([&scratch](size_t n) {
      scratch.resize(n);
      return scratch.data();
    });
    if (absl::IsOutOfRange(s)) break;
    if (!s.ok()) return s;
    out.lengths.push_back(scratch.size());
  }
  out.file.num_records = out.lengths.size();
  return out;
}

}  // namespace ffm

#include "ffm/index/index_builder.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "ffm/index/record_scanner.h"
#include "ffm/prefetch/executor.h"

namespace ffm {

absl::StatusOr<RecordIndex> BuildIndex(const std::vector<std::string>& uris,
                                       const SourceOpener& open,
                                       const IndexBuildOptions& options,
                                       const IndexBuildProgress& progress) {
  const size_t n = uris.size();
  const int workers = static_cast<int>(
      std::max<size_t>(1, std::min<size_t>(std::max(options.num_workers, 1), n)));
  std::vector<std::optional<absl::StatusOr<ScannedFile>>> scans(n);
  std::mutex mu;
  std::condition_variable changed;
  size_t next = 0, done = 0;
  int running = workers;
  bool stop = false;
  absl::Status cancelled;
  {
    // Each scan keeps at most max_in_flight reads queued: one pool with
    // that many threads per worker never makes a scan wait for another's.
    ThreadPool reads(workers * std::max(options.prefetch.max_in_flight, 1));
    ThreadPool scanners(workers);
    for (int w = 0; w < workers; ++w) {
      scanners.Schedule([&] {
        for (;;) {
          size_t i;
          {
            std::lock_guard<std::mutex> lock(mu);
            if (stop || next == n) {
              --running;
              changed.notify_all();
              return;
            }
            i = next++;
          }
          absl::StatusOr<ScannedFile> scan = [&]() -> absl::StatusOr<ScannedFile> {
            absl::StatusOr<std::unique_ptr<ByteSource>> source = open(uris[i]);
            if (!source.ok()) return source.status();
            return ScanRecords(**source, options.prefetch, &reads);
          }();
          std::lock_guard<std::mutex> lock(mu);
          stop |= !scan.ok();
          scans[i] = std::move(scan);
          ++done;
          changed.notify_all();
        }
      });
    }
    std::unique_lock<std::mutex> lock(mu);
    size_t reported = 0;
    for (;;) {
      changed.wait_for(lock, options.progress_interval,
                       [&] { return done != reported || running == 0; });
      const bool finished = running == 0;
      reported = done;
      if (progress) {
        lock.unlock();
        absl::Status s = progress(reported);
        lock.lock();
        if (!s.ok() && cancelled.ok()) {
          cancelled = s;
          stop = true;
        }
      }
      if (finished) break;
    }
  }  // both pools drained and joined
  if (!cancelled.ok()) return cancelled;
  for (const auto& scan : scans) {
    if (scan.has_value() && !scan->ok()) return scan->status();
  }
  std::vector<IndexedFile> files;
  std::vector<uint64_t> lengths;
  files.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto& scan = scans[i];
    files.push_back(std::move((*scan)->file));
    files.back().uri = uris[i];  // as the caller named it, not as opened
    lengths.insert(lengths.end(), (*scan)->lengths.begin(), (*scan)->lengths.end());
  }
  return RecordIndex::Create(std::move(files), std::move(lengths));
}

}  // namespace ffm

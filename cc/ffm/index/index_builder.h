// Builds the RecordIndex of many files: each is scanned once (ScanRecords),
// `num_workers` at a time, for tf_ffm.RecordIndex.build and `tf-ffm index`.
//
// The caller's thread only waits and reports progress, so a binding can
// release its interpreter lock for the whole build and take it back just to
// report (and to notice an interrupt).
#ifndef FFM_INDEX_INDEX_BUILDER_H_
#define FFM_INDEX_INDEX_BUILDER_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ffm/index/record_index.h"
#include "ffm/io/source_opener.h"
#include "ffm/prefetch/chunk_prefetcher.h"

namespace ffm {

struct IndexBuildOptions {
  int num_workers = 8;       // files scanned at once
  PrefetchOptions prefetch;  // for each file
  // How often `progress` is called while no file finishes.
  std::chrono::milliseconds progress_interval{100};
};

// Called on the thread that called BuildIndex, with the number of files
// scanned so far: after files finish and every progress_interval. A non-OK
// return stops the build: files not yet started are skipped, and the status
// is returned once the scans under way end.
using IndexBuildProgress = std::function<absl::Status(size_t files_done)>;

// The index of `uris`, in that order. The first scan to fail stops the
// build; the error returned is that of the first file, in `uris` order,
// whose scan failed (DataLoss naming the file and offset for a corrupt
// record, or the open's error).
absl::StatusOr<RecordIndex> BuildIndex(const std::vector<std::string>& uris,
                                       const SourceOpener& open,
                                       const IndexBuildOptions& options,
                                       const IndexBuildProgress& progress);

}  // namespace ffm

#endif  // FFM_INDEX_INDEX_BUILDER_H_

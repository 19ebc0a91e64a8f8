// Builds one file's part of a RecordIndex by reading its framing once, with
// the same prefetcher and parser as normal reading (so the same checks).
#ifndef FFM_INDEX_RECORD_SCANNER_H_
#define FFM_INDEX_RECORD_SCANNER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "ffm/index/record_index.h"
#include "ffm/io/byte_source.h"
#include "ffm/prefetch/chunk_prefetcher.h"

namespace ffm {

struct ScannedFile {
  IndexedFile file;               // num_records and size filled in
  std::vector<uint64_t> lengths;  // data length of each record
};

// Reads `source` to its end (uncompressed TFRecord only), verifying CRCs.
// DataLoss, naming the file and offset, for a corrupt or truncated record.
absl::StatusOr<ScannedFile> ScanRecords(const ByteSource& source,
                                        const PrefetchOptions& prefetch,
                                        Executor* executor);

}  // namespace ffm

#endif  // FFM_INDEX_RECORD_SCANNER_H_

// The first index layout ("TFFMIDX1", every record's data length), read so
// that indexes saved by earlier versions keep working:
//   "TFFMIDX1"  u64 num_files  u64 num_records
//   per file:   u32 uri_len, uri, u64 size, i64 mtime_ns, u64 num_records
//   per record: u64 data_length
//   u32 masked CRC32C of everything before it
#ifndef FFM_INDEX_INDEX_V1_H_
#define FFM_INDEX_INDEX_V1_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ffm/index/record_index.h"

namespace ffm {

constexpr absl::string_view kIndexV1Magic = "TFFMIDX1";

// Decodes a v1 index into its files and lengths; DataLoss naming `name`.
absl::Status ParseIndexV1(absl::string_view bytes, const std::string& name,
                          std::vector<IndexedFile>* files,
                          std::vector<uint64_t>* lengths);

}  // namespace ffm

#endif  // FFM_INDEX_INDEX_V1_H_

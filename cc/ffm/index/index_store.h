// Opens a record index by reference, as datasets that name an index file
// do: the index never passes through the graph.
//
//   local path   memory-mapped in place;
//   s3:// etc.   fetched once into a local cache directory (file named by
//                checksums of the URI and of its version -- mtime, ETag --
//                and its size, so a replaced object is fetched again), then
//                mapped from there.
//
// An index is opened once per process while any dataset holds it: datasets
// of every worker thread naming the same file share one mapping. The
// header and file table are checked on open, blocks of offsets when used.
#ifndef FFM_INDEX_INDEX_STORE_H_
#define FFM_INDEX_INDEX_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ffm/index/record_index.h"
#include "ffm/io/source_opener.h"

namespace ffm {

// `open` reads remote URIs (a Storage's opener).
absl::StatusOr<std::shared_ptr<const RecordIndex>> OpenIndexFile(
    const std::string& uri, const SourceOpener& open);

// Where fetched indexes are kept: $TF_FFM_INDEX_CACHE, else
// $XDG_CACHE_HOME/tf-ffm/indexes, else ~/.cache/tf-ffm/indexes.
std::string IndexCacheDir();

}  // namespace ffm

#endif  // FFM_INDEX_INDEX_STORE_H_

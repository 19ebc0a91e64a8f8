// The bytes of a serialised record index, wherever they live: a string
// (an index built in this process or carried in the graph) or a read-only
// memory map of a local file (an index opened by reference, paged in as
// records are located, so a billion-record index costs no more resident
// memory than the pages a reader touches).
#ifndef FFM_INDEX_INDEX_REGION_H_
#define FFM_INDEX_INDEX_REGION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ffm {

class IndexRegion {
 public:
  virtual ~IndexRegion() = default;
  virtual absl::string_view bytes() const = 0;
};

std::shared_ptr<const IndexRegion> OwnedRegion(std::string bytes);

// Maps the whole file at `path` read-only. NotFound / PermissionDenied
// naming the path when it cannot be opened.
absl::StatusOr<std::shared_ptr<const IndexRegion>> MapRegion(
    const std::string& path);

}  // namespace ffm

#endif  // FFM_INDEX_INDEX_REGION_H_

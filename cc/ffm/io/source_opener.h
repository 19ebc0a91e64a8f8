// How readers get a ByteSource for a URI without knowing which storage it
// lives on: a Storage hands one out (see storage.h); tests pass their own.
#ifndef FFM_IO_SOURCE_OPENER_H_
#define FFM_IO_SOURCE_OPENER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ffm/io/byte_source.h"

namespace ffm {

using SourceOpener = std::function<absl::StatusOr<std::unique_ptr<ByteSource>>(
    const std::string& uri)>;

// Wraps a freshly opened source in another (a cache, a counter); the seam
// through which layers are added between storage and readers.
using SourceWrapper = std::function<std::unique_ptr<ByteSource>(
    std::unique_ptr<ByteSource> inner)>;

}  // namespace ffm

#endif  // FFM_IO_SOURCE_OPENER_H_

// errno → absl::Status with the code a caller can act on.
#ifndef FFM_IO_ERRORS_H_
#define FFM_IO_ERRORS_H_

#include <string>

#include "absl/status/status.h"

namespace ffm {

// `context` names the file and the operation, e.g. "/data/a.tfrecord: open
// failed"; the strerror text is appended.
absl::Status ErrnoToStatus(int err, const std::string& context);

}  // namespace ffm

#endif  // FFM_IO_ERRORS_H_

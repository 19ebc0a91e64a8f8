// ErrnoToStatus: the code a caller acts on, and a message naming the file.
#include "ffm/io/errors.h"

#include <errno.h>

#include "gtest/gtest.h"

namespace ffm {
namespace {

TEST(ErrnoToStatusTest, MapsErrnoToTheCodeACallerActsOn) {
  struct Case {
    int err;
    absl::StatusCode code;
  };
  for (const Case& c : {Case{ENOENT, absl::StatusCode::kNotFound},
                        Case{ENOTDIR, absl::StatusCode::kNotFound},
                        Case{EACCES, absl::StatusCode::kPermissionDenied},
                        Case{EPERM, absl::StatusCode::kPermissionDenied},
                        Case{EISDIR, absl::StatusCode::kInvalidArgument},
                        Case{EIO, absl::StatusCode::kUnavailable},
                        Case{ETIMEDOUT, absl::StatusCode::kUnavailable},
                        Case{EMFILE, absl::StatusCode::kResourceExhausted},
                        Case{EXDEV, absl::StatusCode::kUnknown}}) {
    SCOPED_TRACE(c.err);
    EXPECT_EQ(ErrnoToStatus(c.err, "ctx").code(), c.code);
  }
}

TEST(ErrnoToStatusTest, MessageHasContextThenTheSystemsText) {
  absl::Status s = ErrnoToStatus(ENOENT, "/data/a.tfrecord: open failed");
  EXPECT_EQ(s.message(),
            "/data/a.tfrecord: open failed: No such file or directory");
}

}  // namespace
}  // namespace ffm

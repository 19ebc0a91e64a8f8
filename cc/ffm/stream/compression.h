// How a file's bytes are encoded, as tf.data's compression_type names it.
// Its own header so that code choosing a compression (cursors, kernels) does
// not pull in <zlib.h>.
#ifndef FFM_STREAM_COMPRESSION_H_
#define FFM_STREAM_COMPRESSION_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ffm {

enum class Compression { kNone, kZlib, kGzip };

// "", "ZLIB" or "GZIP", as tf.data.TFRecordDataset accepts;
// anything else is InvalidArgument.
absl::StatusOr<Compression> ParseCompression(absl::string_view type);

}  // namespace ffm

#endif  // FFM_STREAM_COMPRESSION_H_

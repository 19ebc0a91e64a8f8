// Op registrations: the graph-level contract of the dataset ops.
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"

namespace tensorflow {

// Mirrors TFRecordDataset's inputs; reader tuning arrives as attrs so it is
// part of the serialised graph (tf.data service, ds.save).
REGISTER_OP("FFMRecordDataset")
    .Input("filenames: string")
    .Input("compression_type: string")
    .Attr("cycle_length: int = 1")
    .Attr("chunk_size: int = 8388608")
    .Attr("first_chunk_size: int = 1048576")
    .Attr("memory_budget: int = 268435456")
    .Attr("io_threads: int = 16")
    .Attr("verify_crc: bool = true")
    .Output("handle: variant")
    .SetIsStateful()  // source datasets must not be constant-folded
    .SetShapeFn(shape_inference::ScalarShape);

}  // namespace tensorflow

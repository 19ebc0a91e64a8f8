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
    .Attr("s3_options: string = ''")
    .Output("handle: variant")
    .SetIsStateful()  // source datasets must not be constant-folded
    .SetShapeFn(shape_inference::ScalarShape);

// Lists s3://bucket/prefix/<pattern> (shell wildcards in the last component).
REGISTER_OP("FFMListS3")
    .Input("pattern: string")
    .Attr("s3_options: string = ''")
    .Output("uris: string")
    .SetIsStateful()  // the bucket changes; never constant-fold a listing
    .SetShapeFn(shape_inference::UnknownShape);

}  // namespace tensorflow

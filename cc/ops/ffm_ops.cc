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

// Records through a RecordIndex (serialised, as written by tf_ffm): exact
// cardinality, random access, global or block shuffle, record-level shards.
REGISTER_OP("FFMIndexedDataset")
    .Input("filenames: string")
    .Input("index: string")
    .Input("seed: int64")
    .Attr("shuffle: {'none', 'global', 'block'} = 'none'")
    .Attr("reshuffle_each_iteration: bool = true")
    .Attr("num_shards: int = 1")
    .Attr("shard_index: int = 0")
    .Attr("chunk_size: int = 8388608")
    .Attr("memory_budget: int = 268435456")
    .Attr("io_threads: int = 16")
    .Attr("verify_crc: bool = true")
    .Attr("s3_options: string = ''")
    .Output("handle: variant")
    .SetIsStateful()
    .SetShapeFn(shape_inference::ScalarShape);

// Index building blocks, run eagerly by tf_ffm.RecordIndex.
REGISTER_OP("FFMScanFile")
    .Input("filename: string")
    .Attr("s3_options: string = ''")
    .Output("lengths: int64")
    .Output("size: int64")
    .Output("mtime_ns: int64")
    .SetIsStateful()
    .SetShapeFn(shape_inference::UnknownShape);

REGISTER_OP("FFMStatFile")
    .Input("filename: string")
    .Attr("s3_options: string = ''")
    .Output("size: int64")
    .Output("mtime_ns: int64")
    .SetIsStateful()
    .SetShapeFn(shape_inference::UnknownShape);

REGISTER_OP("FFMSerializeIndex")
    .Input("uris: string")
    .Input("sizes: int64")
    .Input("mtimes_ns: int64")
    .Input("counts: int64")
    .Input("lengths: int64")
    .Output("index: string")
    .SetShapeFn(shape_inference::ScalarShape);

REGISTER_OP("FFMParseIndex")
    .Input("index: string")
    .Input("source: string")  // names the index in errors
    .Output("uris: string")
    .Output("sizes: int64")
    .Output("mtimes_ns: int64")
    .Output("counts: int64")
    .Output("lengths: int64")
    .SetShapeFn(shape_inference::UnknownShape);

REGISTER_OP("FFMReadFile")
    .Input("uri: string")
    .Attr("s3_options: string = ''")
    .Output("contents: string")
    .SetIsStateful()
    .SetShapeFn(shape_inference::ScalarShape);

REGISTER_OP("FFMWriteFile")
    .Input("uri: string")
    .Input("contents: string")
    .Attr("s3_options: string = ''")
    .SetIsStateful()
    .SetShapeFn(shape_inference::NoOutputs);

// Process-wide reader counters for tf_ffm.stats(), in the order of
// tf_ffm.metrics.FIELDS.
REGISTER_OP("FFMStats")
    .Output("values: int64")
    .SetIsStateful()
    .SetShapeFn(shape_inference::UnknownShape);

// Lists s3://bucket/prefix/<pattern> (shell wildcards in the last component).
REGISTER_OP("FFMListS3")
    .Input("pattern: string")
    .Attr("s3_options: string = ''")
    .Output("uris: string")
    .SetIsStateful()  // the bucket changes; never constant-fold a listing
    .SetShapeFn(shape_inference::UnknownShape);

}  // namespace tensorflow

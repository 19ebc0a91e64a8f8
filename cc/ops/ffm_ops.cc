// Op registrations: the graph-level contract of the dataset ops (the index,
// listing and counters are in the pybind11 module, cc/python/).
#include <string>

#include "absl/strings/str_cat.h"
#include "ffm/defaults.h"
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"

namespace tensorflow {
namespace {

// Attr specs whose defaults come from the engine's (ffm/defaults.h).
std::string ChunkSizeAttr() {
  return absl::StrCat("chunk_size: int = ", ffm::defaults::kChunkSize);
}
std::string FirstChunkSizeAttr() {
  return absl::StrCat("first_chunk_size: int = ",
                      ffm::defaults::kFirstChunkSize);
}
std::string MemoryBudgetAttr() {
  return absl::StrCat("memory_budget: int = ", ffm::defaults::kMemoryBudget);
}
std::string IoThreadsAttr() {
  return absl::StrCat("io_threads: int = ", ffm::defaults::kIoThreads);
}

}  // namespace

// TFRecordDataset's inputs, with the file names as a dataset (a list is
// from_tensor_slices): one op for every way a user gives files, and the
// input's split provider serves tf.data service. Reader tuning arrives as
// attrs so it is part of the serialised graph (tf.data service, ds.save).
REGISTER_OP("FFMRecordDataset")
    .Input("filenames: variant")
    .Input("compression_type: string")
    .Attr("cycle_length: int = 1")
    .Attr("parallel_reads: {'auto', 'always', 'never'} = 'auto'")
    .Attr(ChunkSizeAttr())
    .Attr(FirstChunkSizeAttr())
    .Attr(MemoryBudgetAttr())
    .Attr(IoThreadsAttr())
    .Attr("verify_crc: bool = true")
    .Attr("storage_options: string = ''")
    .Output("handle: variant")
    .SetIsStateful()  // source datasets must not be constant-folded
    .SetShapeFn(shape_inference::ScalarShape);

// Records through a RecordIndex (serialised, as written by tf_ffm, or the
// path of an index file, opened by reference): exact
// cardinality, random access, global or block shuffle, record-level shards.
REGISTER_OP("FFMIndexedDataset")
    .Input("filenames: string")
    .Input("index: string")
    .Input("seed: int64")
    .Attr("shuffle: {'none', 'global', 'block'} = 'none'")
    .Attr("reshuffle_each_iteration: bool = true")
    .Attr("num_shards: int = 1")
    .Attr("shard_index: int = 0")
    // `index` holds the path or URI of an index file rather than its bytes.
    .Attr("index_is_path: bool = false")
    .Attr(ChunkSizeAttr())
    .Attr(MemoryBudgetAttr())
    .Attr(IoThreadsAttr())
    .Attr("verify_crc: bool = true")
    .Attr("storage_options: string = ''")
    .Output("handle: variant")
    .SetIsStateful()
    .SetShapeFn(shape_inference::ScalarShape);

}  // namespace tensorflow

// One record from an engine reader into a scalar string tensor, the bytes
// written straight into the tensor's buffer; the engine's clean end of data
// becomes end_of_sequence.
#ifndef TF_FFM_OPS_RECORD_TENSOR_H_
#define TF_FFM_OPS_RECORD_TENSOR_H_

#include <vector>

#include "tensorflow/core/framework/metrics.h"
#include "tensorflow/core/framework/tensor.h"

namespace tensorflow {
namespace data {

// `read(allocate)` is a reader's ReadRecord.
template <typename ReadFn>
absl::Status NextRecordTensor(ReadFn read, Allocator* allocator,
                              monitoring::CounterCell* bytes_counter,
                              std::vector<Tensor>* out_tensors,
                              bool* end_of_sequence) {
  Tensor record(allocator, DT_STRING, {});
  tstring& bytes = record.scalar<tstring>()();
  absl::Status s = read([&bytes](size_t n) {
    bytes.resize_uninitialized(n);
    return bytes.mdata();
  });
  *end_of_sequence = absl::IsOutOfRange(s);
  if (*end_of_sequence) return absl::OkStatus();
  TF_RETURN_IF_ERROR(s);
  bytes_counter->IncrementBy(bytes.size());  // tf.data's bytes-read metric
  out_tensors->push_back(std::move(record));
  return absl::OkStatus();
}

}  // namespace data
}  // namespace tensorflow

#endif  // TF_FFM_OPS_RECORD_TENSOR_H_

// Splits of an FFMRecordDataset for tf.data service's distributed_epoch
// mode: split i is file i, each handed out once per epoch by the
// dispatcher. (TensorFlow's IndexSplitProvider does the same but lives in
// libtensorflow_cc, which the op library does not link.)
#ifndef TF_FFM_OPS_FILE_SPLIT_PROVIDER_H_
#define TF_FFM_OPS_FILE_SPLIT_PROVIDER_H_

#include <functional>
#include <string>

#include "tensorflow/core/framework/dataset.h"
#include "tensorflow/core/framework/tensor.h"

namespace tensorflow {
namespace data {

class FileSplitProvider : public SplitProvider {
 public:
  explicit FileSplitProvider(int64_t num_files) : num_files_(num_files) {}

  absl::Status GetNext(Tensor* split, bool* end_of_splits) override {
    mutex_lock l(mu_);
    *end_of_splits = next_ >= num_files_;
    if (!*end_of_splits) {
      *split = Tensor(DT_INT64, TensorShape({}));
      split->scalar<int64_t>()() = next_++;
    }
    return absl::OkStatus();
  }
  absl::Status Reset() override {
    mutex_lock l(mu_);
    next_ = 0;
    return absl::OkStatus();
  }
  absl::Status Save(std::function<std::string(std::string)> full_name,
                    IteratorStateWriter* writer) override {
    mutex_lock l(mu_);
    return writer->WriteScalar(full_name("next_file"), next_);
  }
  absl::Status Restore(std::function<std::string(std::string)> full_name,
                       IteratorStateReader* reader) override {
    mutex_lock l(mu_);
    return reader->ReadScalar(full_name("next_file"), &next_);
  }
  int64_t Cardinality() const override { return num_files_; }

 private:
  const int64_t num_files_;
  mutex mu_;
  int64_t next_ TF_GUARDED_BY(mu_) = 0;
};

}  // namespace data
}  // namespace tensorflow

#endif  // TF_FFM_OPS_FILE_SPLIT_PROVIDER_H_

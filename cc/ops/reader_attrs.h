// The reader-tuning attrs both dataset ops share: read and validated once in
// the kernel's constructor, written back by AsGraphDef.
#ifndef TF_FFM_OPS_READER_ATTRS_H_
#define TF_FFM_OPS_READER_ATTRS_H_

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "ffm/io/storage.h"
#include "record_dataset_base.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace tensorflow {
namespace data {

struct ReaderAttrs {
  int64_t chunk_size = 0;
  int64_t memory_budget = 0;
  int64_t io_threads = 0;
  bool verify_crc = true;
  std::string storage_options;  // "s3.key=value;..." (ffm::StorageOptions)

  absl::Status Read(OpKernelConstruction* ctx) {
    TF_RETURN_IF_ERROR(ctx->GetAttr("chunk_size", &chunk_size));
    TF_RETURN_IF_ERROR(ctx->GetAttr("memory_budget", &memory_budget));
    TF_RETURN_IF_ERROR(ctx->GetAttr("io_threads", &io_threads));
    TF_RETURN_IF_ERROR(ctx->GetAttr("verify_crc", &verify_crc));
    TF_RETURN_IF_ERROR(ctx->GetAttr("storage_options", &storage_options));
    if (chunk_size < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("chunk_size must be positive, got ", chunk_size));
    }
    if (memory_budget < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("memory_budget must be >= 0, got ", memory_budget));
    }
    if (io_threads < 1 || io_threads > 1024) {
      return absl::InvalidArgumentError(
          absl::StrCat("io_threads must be in [1, 1024], got ", io_threads));
    }
    return ffm::StorageOptions::Parse(storage_options).status();
  }

  // The storage backends with the environment read now, when a dataset is
  // made (not when the kernel is built: eager mode caches kernels across
  // changes of the environment).
  absl::StatusOr<std::shared_ptr<ffm::Storage>> MakeStorage() const {
    return ffm::Storage::Create(storage_options);
  }

  void AddTo(GraphAttrs* attrs) const {
    attrs->Add("chunk_size", chunk_size)
        .Add("memory_budget", memory_budget)
        .Add("io_threads", io_threads)
        .Add("verify_crc", verify_crc)
        .Add("storage_options", storage_options);
  }
};

}  // namespace data
}  // namespace tensorflow

#endif  // TF_FFM_OPS_READER_ATTRS_H_

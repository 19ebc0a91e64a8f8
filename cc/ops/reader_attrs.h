// The reader-tuning attrs both dataset ops share: read and validated once in
// the kernel's constructor, written back by AsGraphDef.
#ifndef TF_FFM_OPS_READER_ATTRS_H_
#define TF_FFM_OPS_READER_ATTRS_H_

#include <string>
#include <utility>
#include <vector>

#include "ffm/io/open_source.h"
#include "s3_config_from_attr.h"
#include "tensorflow/core/framework/dataset.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace tensorflow {
namespace data {

struct ReaderAttrs {
  int64_t chunk_size = 0;
  int64_t memory_budget = 0;
  int64_t io_threads = 0;
  bool verify_crc = true;
  std::string s3_options;
  // The environment + s3_options, resolved when a dataset is made (not when
  // the kernel is built: eager mode caches kernels across env changes).
  ffm::SourceOptions source_options;

  absl::Status Read(OpKernelConstruction* ctx) {
    TF_RETURN_IF_ERROR(ctx->GetAttr("chunk_size", &chunk_size));
    TF_RETURN_IF_ERROR(ctx->GetAttr("memory_budget", &memory_budget));
    TF_RETURN_IF_ERROR(ctx->GetAttr("io_threads", &io_threads));
    TF_RETURN_IF_ERROR(ctx->GetAttr("verify_crc", &verify_crc));
    TF_RETURN_IF_ERROR(ctx->GetAttr("s3_options", &s3_options));
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
    return absl::OkStatus();
  }

  // A copy with the S3 configuration read from the environment now.
  ReaderAttrs Resolved() const {
    ReaderAttrs out = *this;
    out.source_options.s3 = S3ConfigFromEnvAnd(s3_options);
    return out;
  }

  void AddTo(DatasetBase::DatasetGraphDefBuilder* b,
             std::vector<std::pair<absl::string_view, AttrValue>>* attrs) const {
    auto add = [&](absl::string_view name, const auto& value) {
      AttrValue a;
      b->BuildAttrValue(value, &a);
      attrs->emplace_back(name, a);
    };
    add("chunk_size", chunk_size);
    add("memory_budget", memory_budget);
    add("io_threads", io_threads);
    add("verify_crc", verify_crc);
    add("s3_options", s3_options);
  }

  ffm::SourceOpener Opener() const {
    return [options = source_options](const std::string& uri) {
      return ffm::OpenByteSource(uri, options);
    };
  }
};

}  // namespace data
}  // namespace tensorflow

#endif  // TF_FFM_OPS_READER_ATTRS_H_

// TF glue for FFMListS3: one listing, returned as a string vector.
#include "ffm/io/s3_source.h"
#include "s3_config_from_attr.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"

namespace tensorflow {
namespace data {
namespace {

class FFMListS3Op : public OpKernel {
 public:
  explicit FFMListS3Op(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("s3_options", &s3_options_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& pattern_t = ctx->input(0);
    OP_REQUIRES(ctx, TensorShapeUtils::IsScalar(pattern_t.shape()),
                absl::InvalidArgumentError("pattern must be a scalar string"));
    std::string pattern(pattern_t.scalar<tstring>()());
    // The environment is read per listing, not once per kernel: eager mode
    // caches this kernel across tf_ffm.glob() calls, and a listing should
    // see the environment a dataset created at the same time sees.
    absl::StatusOr<ffm::S3Config> config = S3ConfigFromEnvAnd(s3_options_);
    OP_REQUIRES(ctx, config.ok(),
                absl::Status(config.status().code(),
                             absl::StrCat(pattern, ": ",
                                          config.status().message())));
    size_t slash = pattern.rfind('/');
    OP_REQUIRES(ctx, slash != std::string::npos && slash >= 5,
                absl::InvalidArgumentError(absl::StrCat(
                    "'", pattern, "' is not an s3://bucket/prefix/pattern")));
    absl::StatusOr<std::vector<std::string>> uris = ffm::ListS3(
        pattern.substr(0, slash), pattern.substr(slash + 1), *config);
    OP_REQUIRES_OK(ctx, uris.status());
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(
                            0, TensorShape({static_cast<int64_t>(uris->size())}),
                            &out));
    for (size_t i = 0; i < uris->size(); ++i) out->vec<tstring>()(i) = (*uris)[i];
  }

 private:
  std::string s3_options_;
};

REGISTER_KERNEL_BUILDER(Name("FFMListS3").Device(DEVICE_CPU), FFMListS3Op);

}  // namespace
}  // namespace data
}  // namespace tensorflow

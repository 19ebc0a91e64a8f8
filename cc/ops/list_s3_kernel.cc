// TF glue for FFMListS3: one listing, returned as a string vector.
#include "ffm/io/storage.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"

namespace tensorflow {
namespace data {
namespace {

class FFMListS3Op : public OpKernel {
 public:
  explicit FFMListS3Op(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("storage_options", &storage_options_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& pattern_t = ctx->input(0);
    OP_REQUIRES(ctx, TensorShapeUtils::IsScalar(pattern_t.shape()),
                absl::InvalidArgumentError("pattern must be a scalar string"));
    std::string pattern(pattern_t.scalar<tstring>()());
    // The environment is read per listing, not once per kernel: eager mode
    // caches this kernel across tf_ffm.glob() calls, and a listing should
    // see the environment a dataset created at the same time sees.
    auto storage = ffm::Storage::Create(storage_options_);
    OP_REQUIRES_OK(ctx, storage.status());
    absl::StatusOr<std::vector<std::string>> uris = (*storage)->List(pattern);
    OP_REQUIRES_OK(ctx, uris.status());
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(
                            0, TensorShape({static_cast<int64_t>(uris->size())}),
                            &out));
    for (size_t i = 0; i < uris->size(); ++i) out->vec<tstring>()(i) = (*uris)[i];
  }

 private:
  std::string storage_options_;
};

REGISTER_KERNEL_BUILDER(Name("FFMListS3").Device(DEVICE_CPU), FFMListS3Op);

}  // namespace
}  // namespace data
}  // namespace tensorflow

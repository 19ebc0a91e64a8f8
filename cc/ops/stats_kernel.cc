// TF glue for FFMStats: a snapshot of the engine's process-wide counters.
#include "ffm/io/io_stats.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"

namespace tensorflow {
namespace data {
namespace {

class FFMStatsOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    const ffm::IoStats& s = ffm::IoStats::Global();
    const int64_t values[] = {
        static_cast<int64_t>(s.bytes_read.load()),
        static_cast<int64_t>(s.read_requests.load()),
        static_cast<int64_t>(s.retries.load()),
        static_cast<int64_t>(s.errors.load()),
        static_cast<int64_t>(s.wait_ns.load()),
        s.bytes_in_flight.load(),
    };
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({6}), &out));
    for (int i = 0; i < 6; ++i) out->vec<int64_t>()(i) = values[i];
  }
};

REGISTER_KERNEL_BUILDER(Name("FFMStats").Device(DEVICE_CPU), FFMStatsOp);

}  // namespace
}  // namespace data
}  // namespace tensorflow

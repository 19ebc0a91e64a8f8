// TF glue for the record-index ops: each kernel converts tensors to the
// engine's types, calls one engine function and converts back.
#include <string>
#include <vector>

#include "ffm/index/record_index.h"
#include "ffm/index/record_scanner.h"
#include "ffm/io/storage.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"

namespace tensorflow {
namespace data {
namespace {

template <typename T>
Tensor VectorTensor(DataType dtype, const std::vector<T>& values) {
  Tensor t(dtype, TensorShape({static_cast<int64_t>(values.size())}));
  for (size_t i = 0; i < values.size(); ++i) {
    t.flat<typename std::conditional<std::is_same<T, std::string>::value,
                                     tstring, int64_t>::type>()(i) = values[i];
  }
  return t;
}

Tensor ScalarInt(int64_t v) {
  Tensor t(DT_INT64, TensorShape({}));
  t.scalar<int64_t>()() = v;
  return t;
}

// Base for kernels that reach files. The storage configuration is read at
// each call: eager mode caches kernels, and the environment may change
// between calls.
class FileOpKernel : public OpKernel {
 public:
  explicit FileOpKernel(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("storage_options", &storage_options_));
  }

 protected:
  std::string ScalarString(OpKernelContext* ctx, int i) {
    return std::string(ctx->input(i).scalar<tstring>()());
  }
  absl::StatusOr<std::shared_ptr<ffm::Storage>> Storage() const {
    return ffm::Storage::Create(storage_options_);
  }

 private:
  std::string storage_options_;
};

class ScanFileOp : public FileOpKernel {
 public:
  using FileOpKernel::FileOpKernel;
  void Compute(OpKernelContext* ctx) override {
    std::string uri = ScalarString(ctx, 0);
    auto storage = Storage();
    OP_REQUIRES_OK(ctx, storage.status());
    auto source = (*storage)->Open(uri);
    OP_REQUIRES_OK(ctx, source.status());
    ffm::PrefetchOptions prefetch;
    ffm::ThreadPool pool(prefetch.max_in_flight);
    auto scanned = ffm::ScanRecords(**source, prefetch, &pool);
    OP_REQUIRES_OK(ctx, scanned.status());
    std::vector<int64_t> lengths(scanned->lengths.begin(), scanned->lengths.end());
    ctx->set_output(0, VectorTensor(DT_INT64, lengths));
    ctx->set_output(1, ScalarInt(static_cast<int64_t>(scanned->file.size)));
    ctx->set_output(2, ScalarInt(scanned->file.mtime_ns));
  }
};

class StatFileOp : public FileOpKernel {
 public:
  using FileOpKernel::FileOpKernel;
  void Compute(OpKernelContext* ctx) override {
    auto storage = Storage();
    OP_REQUIRES_OK(ctx, storage.status());
    auto source = (*storage)->Open(ScalarString(ctx, 0));
    OP_REQUIRES_OK(ctx, source.status());
    ctx->set_output(0, ScalarInt(static_cast<int64_t>((*source)->size())));
    ctx->set_output(1, ScalarInt((*source)->mtime_ns()));
  }
};

class ReadFileOp : public FileOpKernel {
 public:
  using FileOpKernel::FileOpKernel;
  void Compute(OpKernelContext* ctx) override {
    auto storage = Storage();
    OP_REQUIRES_OK(ctx, storage.status());
    auto bytes = (*storage)->ReadWhole(ScalarString(ctx, 0));
    OP_REQUIRES_OK(ctx, bytes.status());
    Tensor t(DT_STRING, TensorShape({}));
    t.scalar<tstring>()() = *std::move(bytes);
    ctx->set_output(0, t);
  }
};

class WriteFileOp : public FileOpKernel {
 public:
  using FileOpKernel::FileOpKernel;
  void Compute(OpKernelContext* ctx) override {
    const tstring& contents = ctx->input(1).scalar<tstring>()();
    auto storage = Storage();
    OP_REQUIRES_OK(ctx, storage.status());
    OP_REQUIRES_OK(ctx, (*storage)->WriteWhole(
                            ScalarString(ctx, 0),
                            absl::string_view(contents.data(), contents.size())));
  }
};

class SerializeIndexOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    auto uris = ctx->input(0).flat<tstring>();
    auto sizes = ctx->input(1).flat<int64_t>();
    auto mtimes = ctx->input(2).flat<int64_t>();
    auto counts = ctx->input(3).flat<int64_t>();
    auto lengths = ctx->input(4).flat<int64_t>();
    OP_REQUIRES(ctx, sizes.size() == uris.size() && mtimes.size() == uris.size() &&
                         counts.size() == uris.size(),
                absl::InvalidArgumentError("index file columns differ in length"));
    std::vector<ffm::IndexedFile> files(uris.size());
    for (int64_t i = 0; i < uris.size(); ++i) {
      OP_REQUIRES(ctx, sizes(i) >= 0 && counts(i) >= 0,
                  absl::InvalidArgumentError("negative size or count"));
      files[i] = {std::string(uris(i)), static_cast<uint64_t>(sizes(i)),
                  mtimes(i), static_cast<uint64_t>(counts(i))};
    }
    std::vector<uint64_t> lens(lengths.size());
    for (int64_t i = 0; i < lengths.size(); ++i) {
      OP_REQUIRES(ctx, lengths(i) >= 0,
                  absl::InvalidArgumentError("negative record length"));
      lens[i] = static_cast<uint64_t>(lengths(i));
    }
    auto index = ffm::RecordIndex::Create(std::move(files), std::move(lens));
    OP_REQUIRES_OK(ctx, index.status());
    Tensor t(DT_STRING, TensorShape({}));
    t.scalar<tstring>()() = index->Serialize();
    ctx->set_output(0, t);
  }
};

class ParseIndexOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    const tstring& bytes = ctx->input(0).scalar<tstring>()();
    std::string name(ctx->input(1).scalar<tstring>()());
    auto index = ffm::RecordIndex::Parse(
        absl::string_view(bytes.data(), bytes.size()), name);
    OP_REQUIRES_OK(ctx, index.status());
    std::vector<std::string> uris;
    std::vector<int64_t> sizes, mtimes, counts;
    for (const ffm::IndexedFile& f : index->files()) {
      uris.push_back(f.uri);
      sizes.push_back(static_cast<int64_t>(f.size));
      mtimes.push_back(f.mtime_ns);
      counts.push_back(static_cast<int64_t>(f.num_records));
    }
    std::vector<int64_t> lengths(index->lengths().begin(), index->lengths().end());
    ctx->set_output(0, VectorTensor(DT_STRING, uris));
    ctx->set_output(1, VectorTensor(DT_INT64, sizes));
    ctx->set_output(2, VectorTensor(DT_INT64, mtimes));
    ctx->set_output(3, VectorTensor(DT_INT64, counts));
    ctx->set_output(4, VectorTensor(DT_INT64, lengths));
  }
};

REGISTER_KERNEL_BUILDER(Name("FFMScanFile").Device(DEVICE_CPU), ScanFileOp);
REGISTER_KERNEL_BUILDER(Name("FFMStatFile").Device(DEVICE_CPU), StatFileOp);
REGISTER_KERNEL_BUILDER(Name("FFMReadFile").Device(DEVICE_CPU), ReadFileOp);
REGISTER_KERNEL_BUILDER(Name("FFMWriteFile").Device(DEVICE_CPU), WriteFileOp);
REGISTER_KERNEL_BUILDER(Name("FFMSerializeIndex").Device(DEVICE_CPU),
                        SerializeIndexOp);
REGISTER_KERNEL_BUILDER(Name("FFMParseIndex").Device(DEVICE_CPU), ParseIndexOp);

}  // namespace
}  // namespace data
}  // namespace tensorflow

// TF glue for FFMRecordDataset: checks inputs, fills the engine's options,
// maps the engine's end of data to end_of_sequence and saves/restores its
// position. Everything about bytes and records lives in cc/ffm/.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "ffm/io/open_source.h"
#include "s3_config_from_attr.h"
#include "ffm/reader/sequential_reader.h"
#include "tensorflow/core/framework/dataset.h"
#include "tensorflow/core/framework/model.h"
#include "tensorflow/core/framework/tensor.h"

namespace tensorflow {
namespace data {
namespace {

constexpr char kDatasetType[] = "FFMRecord";
// Files read at once under num_parallel_reads=AUTOTUNE; each file already
// has many reads in flight, so a few files saturate the link.
constexpr size_t kAutoCycleLength = 8;

absl::StatusOr<ffm::Compression> ParseCompression(const std::string& type) {
  if (type.empty()) return ffm::Compression::kNone;
  if (type == "ZLIB") return ffm::Compression::kZlib;
  if (type == "GZIP") return ffm::Compression::kGzip;
  return absl::InvalidArgumentError(
      absl::StrCat("compression_type must be '', 'ZLIB' or 'GZIP', got '",
                   type, "'"));
}

class Dataset : public DatasetBase {
 public:
  Dataset(OpKernelContext* ctx, std::vector<std::string> files,
          std::string compression_type, ffm::SequentialReaderOptions options,
          std::string s3_options, ffm::SourceOptions source_options)
      : DatasetBase(DatasetContext(ctx)),
        files_(std::move(files)),
        compression_type_(std::move(compression_type)),
        options_(options),
        s3_options_(std::move(s3_options)),
        source_options_(std::move(source_options)) {}

  std::unique_ptr<IteratorBase> MakeIteratorInternal(
      const std::string& prefix) const override;

  const DataTypeVector& output_dtypes() const override {
    static DataTypeVector* dtypes = new DataTypeVector({DT_STRING});
    return *dtypes;
  }
  const std::vector<PartialTensorShape>& output_shapes() const override {
    static std::vector<PartialTensorShape>* shapes =
        new std::vector<PartialTensorShape>({{}});
    return *shapes;
  }
  std::string DebugString() const override {
    return "FFMRecordDatasetOp::Dataset";
  }
  absl::Status InputDatasets(
      std::vector<const DatasetBase*>* inputs) const override {
    return absl::OkStatus();
  }
  absl::Status CheckExternalState() const override { return absl::OkStatus(); }

  const std::vector<std::string>& files() const { return files_; }
  const ffm::SequentialReaderOptions& options() const { return options_; }
  const ffm::SourceOptions& source_options() const { return source_options_; }

 protected:
  absl::Status AsGraphDefInternal(SerializationContext* ctx,
                                  DatasetGraphDefBuilder* b,
                                  Node** output) const override {
    Node* filenames = nullptr;
    Node* compression_type = nullptr;
    TF_RETURN_IF_ERROR(b->AddVector(files_, &filenames));
    TF_RETURN_IF_ERROR(
        b->AddScalar(tstring(compression_type_), &compression_type));
    auto int_attr = [b](int64_t v) {
      AttrValue a;
      b->BuildAttrValue(v, &a);
      return a;
    };
    AttrValue verify_crc, s3_options;
    b->BuildAttrValue(options_.cursor.verify_crc, &verify_crc);
    b->BuildAttrValue(s3_options_, &s3_options);
    const ffm::PrefetchOptions& p = options_.cursor.prefetch;
    return b->AddDataset(
        this, {filenames, compression_type},
        {{"cycle_length", int_attr(options_.cycle_length)},
         {"chunk_size", int_attr(static_cast<int64_t>(p.chunk_size))},
         {"first_chunk_size", int_attr(static_cast<int64_t>(p.first_chunk_size))},
         {"memory_budget", int_attr(static_cast<int64_t>(options_.budget_bytes))},
         {"io_threads", int_attr(options_.io_threads)},
         {"verify_crc", verify_crc},
         {"s3_options", s3_options}},
        output);
  }

 private:
  const std::vector<std::string> files_;
  const std::string compression_type_;
  const ffm::SequentialReaderOptions options_;
  const std::string s3_options_;
  const ffm::SourceOptions source_options_;
};

class Iterator : public DatasetIterator<Dataset> {
 public:
  explicit Iterator(const Params& params) : DatasetIterator<Dataset>(params) {}

  absl::Status GetNextInternal(IteratorContext* ctx,
                               std::vector<Tensor>* out_tensors,
                               bool* end_of_sequence) override {
    mutex_lock l(mu_);
    EnsureReader();
    Tensor record(ctx->allocator({}), DT_STRING, {});
    tstring& bytes = record.scalar<tstring>()();
    absl::Status s = reader_->ReadRecord([&bytes](size_t n) {
      bytes.resize_uninitialized(n);
      return bytes.mdata();
    });
    if (absl::IsOutOfRange(s)) {
      *end_of_sequence = true;
      return absl::OkStatus();
    }
    TF_RETURN_IF_ERROR(s);
    out_tensors->push_back(std::move(record));
    *end_of_sequence = false;
    return absl::OkStatus();
  }

 protected:
  std::shared_ptr<model::Node> CreateNode(
      IteratorContext* ctx, model::Node::Args args) const override {
    return model::MakeSourceNode(std::move(args));
  }

  absl::Status SaveInternal(SerializationContext* ctx,
                            IteratorStateWriter* writer) override {
    mutex_lock l(mu_);
    EnsureReader();
    ffm::ReaderPosition p = reader_->position();
    TF_RETURN_IF_ERROR(writer->WriteScalar(prefix(), "next_file", p.next_file));
    TF_RETURN_IF_ERROR(
        writer->WriteScalar(prefix(), "cycle_index", p.cycle_index));
    TF_RETURN_IF_ERROR(
        writer->WriteScalar(prefix(), "end_of_input", p.end_of_input ? 1 : 0));
    TF_RETURN_IF_ERROR(writer->WriteScalar(
        prefix(), "num_slots", static_cast<int64_t>(p.slots.size())));
    for (size_t i = 0; i < p.slots.size(); ++i) {
      TF_RETURN_IF_ERROR(writer->WriteScalar(
          prefix(), absl::StrCat("slot_file_", i), p.slots[i].file));
      TF_RETURN_IF_ERROR(writer->WriteScalar(
          prefix(), absl::StrCat("slot_offset_", i),
          static_cast<int64_t>(p.slots[i].offset)));
    }
    return absl::OkStatus();
  }

  absl::Status RestoreInternal(IteratorContext* ctx,
                               IteratorStateReader* reader) override {
    mutex_lock l(mu_);
    ffm::ReaderPosition p;
    int64_t end_of_input = 0, num_slots = 0;
    TF_RETURN_IF_ERROR(reader->ReadScalar(prefix(), "next_file", &p.next_file));
    TF_RETURN_IF_ERROR(
        reader->ReadScalar(prefix(), "cycle_index", &p.cycle_index));
    TF_RETURN_IF_ERROR(
        reader->ReadScalar(prefix(), "end_of_input", &end_of_input));
    TF_RETURN_IF_ERROR(reader->ReadScalar(prefix(), "num_slots", &num_slots));
    p.end_of_input = end_of_input != 0;
    if (num_slots < 0 || num_slots > (1 << 20)) {
      return absl::DataLossError(
          absl::StrCat("FFMRecordDataset checkpoint has ", num_slots, " slots"));
    }
    p.slots.resize(num_slots);
    for (int64_t i = 0; i < num_slots; ++i) {
      int64_t offset = 0;
      TF_RETURN_IF_ERROR(reader->ReadScalar(
          prefix(), absl::StrCat("slot_file_", i), &p.slots[i].file));
      TF_RETURN_IF_ERROR(reader->ReadScalar(
          prefix(), absl::StrCat("slot_offset_", i), &offset));
      p.slots[i].offset = static_cast<uint64_t>(offset);
    }
    reader_.reset();
    EnsureReader();
    return reader_->Restore(p);
  }

 private:
  void EnsureReader() TF_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reader_ != nullptr) return;
    reader_ = std::make_unique<ffm::SequentialReader>(
        dataset()->files(),
        [dataset = dataset()](const std::string& uri) {
          return ffm::OpenByteSource(uri, dataset->source_options());
        },
        dataset()->options());
  }

  mutex mu_;
  std::unique_ptr<ffm::SequentialReader> reader_ TF_GUARDED_BY(mu_);
};

std::unique_ptr<IteratorBase> Dataset::MakeIteratorInternal(
    const std::string& prefix) const {
  return std::make_unique<Iterator>(
      Iterator::Params{this, absl::StrCat(prefix, "::", kDatasetType)});
}

class FFMRecordDatasetOp : public DatasetOpKernel {
 public:
  explicit FFMRecordDatasetOp(OpKernelConstruction* ctx)
      : DatasetOpKernel(ctx) {
    int64_t cycle_length, chunk_size, first_chunk_size, memory_budget,
        io_threads;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("cycle_length", &cycle_length));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("chunk_size", &chunk_size));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("first_chunk_size", &first_chunk_size));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("memory_budget", &memory_budget));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("io_threads", &io_threads));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("verify_crc", &options_.cursor.verify_crc));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("s3_options", &s3_options_));
    source_options_.s3 = S3ConfigFromEnvAnd(s3_options_);
    OP_REQUIRES(ctx, cycle_length >= 0 && cycle_length <= 4096,
                absl::InvalidArgumentError(absl::StrCat(
                    "cycle_length must be in [0, 4096] (0: automatic), got ",
                    cycle_length)));
    OP_REQUIRES(ctx, chunk_size >= 1 && first_chunk_size >= 1,
                absl::InvalidArgumentError("chunk sizes must be positive"));
    OP_REQUIRES(ctx, memory_budget >= 0,
                absl::InvalidArgumentError("memory_budget must be >= 0"));
    OP_REQUIRES(ctx, io_threads >= 1 && io_threads <= 1024,
                absl::InvalidArgumentError(absl::StrCat(
                    "io_threads must be in [1, 1024], got ", io_threads)));
    options_.cycle_length = static_cast<int>(cycle_length);
    options_.cursor.prefetch.chunk_size = static_cast<uint64_t>(chunk_size);
    options_.cursor.prefetch.first_chunk_size =
        static_cast<uint64_t>(first_chunk_size);
    options_.cursor.prefetch.max_in_flight = static_cast<int>(io_threads);
    options_.budget_bytes = static_cast<uint64_t>(memory_budget);
    options_.io_threads = static_cast<int>(io_threads);
  }

  void MakeDataset(OpKernelContext* ctx, DatasetBase** output) override {
    const Tensor* filenames;
    OP_REQUIRES_OK(ctx, ctx->input("filenames", &filenames));
    OP_REQUIRES(ctx, filenames->dims() <= 1,
                absl::InvalidArgumentError(
                    "filenames must be a scalar or a vector of strings"));
    std::vector<std::string> files;
    files.reserve(filenames->NumElements());
    for (int64_t i = 0; i < filenames->NumElements(); ++i) {
      files.push_back(std::string(filenames->flat<tstring>()(i)));
    }
    tstring compression_type;
    OP_REQUIRES_OK(ctx, ParseScalarArgument<tstring>(ctx, "compression_type",
                                                     &compression_type));
    ffm::SequentialReaderOptions options = options_;
    absl::StatusOr<ffm::Compression> compression =
        ParseCompression(compression_type);
    OP_REQUIRES_OK(ctx, compression.status());
    options.cursor.compression = *compression;
    if (options.cycle_length == 0) {  // AUTOTUNE: a few files at once
      options.cycle_length = static_cast<int>(std::clamp<size_t>(
          files.size(), 1, kAutoCycleLength));
    }
    *output = new Dataset(ctx, std::move(files), std::string(compression_type),
                          options, s3_options_, source_options_);
  }

 private:
  ffm::SequentialReaderOptions options_;
  std::string s3_options_;
  ffm::SourceOptions source_options_;
};

REGISTER_KERNEL_BUILDER(Name("FFMRecordDataset").Device(DEVICE_CPU),
                        FFMRecordDatasetOp);

}  // namespace
}  // namespace data
}  // namespace tensorflow

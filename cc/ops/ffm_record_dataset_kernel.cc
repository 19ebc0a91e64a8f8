// TF glue for FFMRecordDataset: checks inputs, fills the engine's options,
// maps the engine's end of data to end_of_sequence and saves/restores its
// position. Everything about bytes and records lives in cc/ffm/.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "ffm/reader/sequential_reader.h"
#include "file_split_provider.h"
#include "reader_attrs.h"
#include "record_tensor.h"
#include "tensorflow/core/framework/dataset.h"
#include "tensorflow/core/framework/metrics.h"
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
          int64_t cycle_length, int64_t first_chunk_size, ReaderAttrs attrs)
      : DatasetBase(DatasetContext(ctx)),
        files_(std::move(files)),
        compression_type_(std::move(compression_type)),
        options_(options),
        cycle_length_(cycle_length),
        first_chunk_size_(first_chunk_size),
        attrs_(std::move(attrs)) {}

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
  absl::Status MakeSplitProviders(std::vector<std::unique_ptr<SplitProvider>>*
                                      split_providers) const override {
    split_providers->push_back(std::make_unique<FileSplitProvider>(
        static_cast<int64_t>(files_.size())));
    return absl::OkStatus();
  }

  const std::vector<std::string>& files() const { return files_; }
  const ffm::SequentialReaderOptions& options() const { return options_; }
  const ReaderAttrs& attrs() const { return attrs_; }

 protected:
  absl::Status AsGraphDefInternal(SerializationContext* ctx,
                                  DatasetGraphDefBuilder* b,
                                  Node** output) const override {
    Node* filenames = nullptr;
    Node* compression_type = nullptr;
    TF_RETURN_IF_ERROR(b->AddVector(files_, &filenames));
    TF_RETURN_IF_ERROR(
        b->AddScalar(tstring(compression_type_), &compression_type));
    std::vector<std::pair<absl::string_view, AttrValue>> attrs;
    auto add = [&](absl::string_view name, int64_t value) {
      AttrValue a;
      b->BuildAttrValue(value, &a);
      attrs.emplace_back(name, a);
    };
    add("cycle_length", cycle_length_);
    add("first_chunk_size", first_chunk_size_);
    attrs_.AddTo(b, &attrs);
    return b->AddDataset(this, {filenames, compression_type}, attrs,
        output);
  }

 private:
  const std::vector<std::string> files_;
  const std::string compression_type_;
  const ffm::SequentialReaderOptions options_;
  const int64_t cycle_length_;  // as given: 0 means automatic
  const int64_t first_chunk_size_;
  const ReaderAttrs attrs_;
};

class Iterator : public DatasetIterator<Dataset> {
 public:
  explicit Iterator(const Params& params) : DatasetIterator<Dataset>(params) {}

  absl::Status Initialize(IteratorContext* ctx) override {
    if (!ctx->split_providers().empty()) {
      split_provider_ = ctx->split_providers()[0];
    }
    return absl::OkStatus();
  }

  absl::Status GetNextInternal(IteratorContext* ctx,
                               std::vector<Tensor>* out_tensors,
                               bool* end_of_sequence) override {
    mutex_lock l(mu_);
    EnsureReader();
    return NextRecordTensor(
        [this](auto allocate) TF_NO_THREAD_SAFETY_ANALYSIS {
          return reader_->ReadRecord(allocate);
        },
        ctx->allocator({}), bytes_counter_, out_tensors, end_of_sequence);
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
        dataset()->files(), dataset()->attrs().Opener(), dataset()->options());
    if (split_provider_ != nullptr) {
      reader_->set_file_source([provider = split_provider_]() -> absl::StatusOr<int64_t> {
        Tensor split;
        bool end = false;
        TF_RETURN_IF_ERROR(provider->GetNext(&split, &end));
        return end ? int64_t{-1} : split.scalar<int64_t>()();
      });
    }
  }

  monitoring::CounterCell* const bytes_counter_ =
      metrics::GetTFDataBytesReadCounter(kDatasetType);
  mutex mu_;
  std::shared_ptr<SplitProvider> split_provider_;  // set by tf.data service
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
    OP_REQUIRES_OK(ctx, attrs_.Read(ctx));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("cycle_length", &cycle_length_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("first_chunk_size", &first_chunk_size_));
    OP_REQUIRES(ctx, cycle_length_ >= 0 && cycle_length_ <= 4096,
                absl::InvalidArgumentError(absl::StrCat(
                    "cycle_length must be in [0, 4096] (0: automatic), got ",
                    cycle_length_)));
    OP_REQUIRES(ctx, first_chunk_size_ >= 1,
                absl::InvalidArgumentError(absl::StrCat(
                    "first_chunk_size must be positive, got ",
                    first_chunk_size_)));
    options_.cycle_length = static_cast<int>(cycle_length_);
    options_.cursor.verify_crc = attrs_.verify_crc;
    options_.cursor.prefetch.chunk_size = static_cast<uint64_t>(attrs_.chunk_size);
    options_.cursor.prefetch.first_chunk_size =
        static_cast<uint64_t>(first_chunk_size_);
    options_.cursor.prefetch.max_in_flight = static_cast<int>(attrs_.io_threads);
    options_.budget_bytes = static_cast<uint64_t>(attrs_.memory_budget);
    options_.io_threads = static_cast<int>(attrs_.io_threads);
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
                          options, cycle_length_, first_chunk_size_,
                          attrs_.Resolved());
  }

 private:
  ReaderAttrs attrs_;
  int64_t cycle_length_ = 1;
  int64_t first_chunk_size_ = 1;
  ffm::SequentialReaderOptions options_;
};

REGISTER_KERNEL_BUILDER(Name("FFMRecordDataset").Device(DEVICE_CPU),
                        FFMRecordDatasetOp);

}  // namespace
}  // namespace data
}  // namespace tensorflow

// TF glue for FFMRecordDataset: its input is a dataset of file names (a
// list given in Python becomes from_tensor_slices), pulled through
// ffm::FileNames as the engine needs them. Checks inputs, fills the engine's
// options, maps the engine's end of data to end_of_sequence and saves and
// restores its position. Everything about bytes and records is in cc/ffm/.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ffm/reader/sequential_reader.h"
#include "ffm/stream/compression.h"
#include "reader_attrs.h"
#include "record_dataset_base.h"
#include "tensorflow/core/framework/dataset.h"
#include "tensorflow/core/framework/tensor.h"

namespace tensorflow {
namespace data {
namespace {

constexpr char kDatasetType[] = "FFMRecord";
constexpr int64_t kMaxCheckpointEntries = 1 << 20;

ffm::ParallelReads ParseParallelReads(const std::string& mode) {
  if (mode == "always") return ffm::ParallelReads::kAlways;
  if (mode == "never") return ffm::ParallelReads::kNever;
  return ffm::ParallelReads::kAuto;  // the op's attr allows nothing else
}

class Dataset : public RecordDatasetBase {
 public:
  Dataset(OpKernelContext* ctx, const DatasetBase* input,
          std::string compression_type, ffm::SequentialReaderOptions options,
          int64_t cycle_length, int64_t first_chunk_size,
          std::string parallel_reads, ReaderAttrs attrs,
          std::shared_ptr<ffm::Storage> storage)
      : RecordDatasetBase(DatasetContext(ctx)),
        input_(input),
        compression_type_(std::move(compression_type)),
        options_(options),
        cycle_length_(cycle_length),
        first_chunk_size_(first_chunk_size),
        parallel_reads_(std::move(parallel_reads)),
        attrs_(std::move(attrs)),
        storage_(std::move(storage)) {
    input_->Ref();
  }
  ~Dataset() override { input_->Unref(); }

  std::unique_ptr<IteratorBase> MakeIteratorInternal(
      const std::string& prefix) const override;

  std::string DebugString() const override {
    return "FFMRecordDatasetOp::Dataset";
  }
  absl::Status InputDatasets(
      std::vector<const DatasetBase*>* inputs) const override {
    inputs->push_back(input_);
    return absl::OkStatus();
  }
  absl::Status CheckExternalState() const override {
    return input_->CheckExternalState();
  }
  // Without an index, records are found only by reading files in order.
  absl::Status RandomIndexingCompatible() const override {
    return absl::FailedPreconditionError(
        "FFMRecordDataset without an index has no random access, so TF's "
        "global shuffle cannot reorder it: build a tf_ffm.RecordIndex of the "
        "files and pass index= (then global_shuffle works, or use "
        "shuffle=\"global\" of FFMRecordDataset itself)");
  }

  const DatasetBase* input() const { return input_; }
  const ffm::SequentialReaderOptions& options() const { return options_; }
  ffm::SourceOpener Opener() const { return storage_->Opener(); }

 protected:
  absl::Status AsGraphDefInternal(SerializationContext* ctx,
                                  DatasetGraphDefBuilder* b,
                                  Node** output) const override {
    Node* input = nullptr;
    Node* compression_type = nullptr;
    TF_RETURN_IF_ERROR(b->AddInputDataset(ctx, input_, &input));
    TF_RETURN_IF_ERROR(
        b->AddScalar(tstring(compression_type_), &compression_type));
    GraphAttrs attrs(b);
    attrs.Add("cycle_length", cycle_length_)
        .Add("first_chunk_size", first_chunk_size_)
        .Add("parallel_reads", parallel_reads_);
    attrs_.AddTo(&attrs);
    return b->AddDataset(this, {input, compression_type}, attrs.list(), output);
  }

 private:
  const DatasetBase* const input_;
  const std::string compression_type_;
  const ffm::SequentialReaderOptions options_;
  const int64_t cycle_length_;  // as given: 0 means automatic
  const int64_t first_chunk_size_;
  const std::string parallel_reads_;
  const ReaderAttrs attrs_;
  const std::shared_ptr<ffm::Storage> storage_;
};

// The input dataset's elements as ffm::FileNames. The engine asks for names
// only from inside GetNext/Restore, so the context of the current call is
// the one to use.
class InputFileNames final : public ffm::FileNames {
 public:
  void set_context(IteratorContext* ctx) { ctx_ = ctx; }
  std::unique_ptr<IteratorBase>& iterator() { return input_; }

  absl::StatusOr<std::optional<std::string>> Next() override {
    std::vector<Tensor> element;
    bool end = false;
    TF_RETURN_IF_ERROR(input_->GetNext(ctx_, &element, &end));
    if (end) return std::nullopt;
    if (element.size() != 1 || element[0].dtype() != DT_STRING ||
        element[0].NumElements() != 1) {
      return absl::InvalidArgumentError(
          "the filenames dataset must yield scalar strings");
    }
    return std::string(element[0].flat<tstring>()(0));
  }

 private:
  IteratorContext* ctx_ = nullptr;
  std::unique_ptr<IteratorBase> input_;
};

class Iterator : public RecordIterator<Dataset, ffm::SequentialReader> {
 public:
  explicit Iterator(const Params& params)
      : RecordIterator(params, kDatasetType) {}

  absl::Status Initialize(IteratorContext* ctx) override {
    auto names = std::make_unique<InputFileNames>();
    names_ = names.get();
    TF_RETURN_IF_ERROR(dataset()->input()->MakeIterator(
        ctx, this, prefix(), &names->iterator()));
    reader_ = std::make_unique<ffm::SequentialReader>(
        std::move(names), dataset()->Opener(), dataset()->options());
    return absl::OkStatus();
  }

 protected:
  absl::StatusOr<ffm::SequentialReader*> ReaderFor(
      IteratorContext* ctx) override {
    names_->set_context(ctx);  // file names are pulled inside ReadRecord
    return reader_.get();
  }

  absl::Status SaveInternal(SerializationContext* ctx,
                            IteratorStateWriter* writer) override {
    mutex_lock l(mu_);
    TF_RETURN_IF_ERROR(SaveInput(ctx, writer, names_->iterator()));
    ffm::ReaderPosition p = reader_->position();
    TF_RETURN_IF_ERROR(
        writer->WriteScalar(prefix(), ckpt::kCycleIndex, p.cycle_index));
    TF_RETURN_IF_ERROR(writer->WriteScalar(prefix(), ckpt::kEndOfInput,
                                           p.names_exhausted ? 1 : 0));
    TF_RETURN_IF_ERROR(writer->WriteScalar(
        prefix(), ckpt::kNumSlots, static_cast<int64_t>(p.slots.size())));
    for (size_t i = 0; i < p.slots.size(); ++i) {
      TF_RETURN_IF_ERROR(writer->WriteScalar(
          prefix(), absl::StrCat(ckpt::kSlotFile, i), p.slots[i].file));
      TF_RETURN_IF_ERROR(writer->WriteScalar(
          prefix(), absl::StrCat(ckpt::kSlotOffset, i),
          static_cast<int64_t>(p.slots[i].offset)));
    }
    TF_RETURN_IF_ERROR(writer->WriteScalar(
        prefix(), ckpt::kNumPending, static_cast<int64_t>(p.pending.size())));
    for (size_t i = 0; i < p.pending.size(); ++i) {
      TF_RETURN_IF_ERROR(writer->WriteScalar(
          prefix(), absl::StrCat(ckpt::kPendingFile, i), p.pending[i]));
    }
    return absl::OkStatus();
  }

  absl::Status RestoreInternal(IteratorContext* ctx,
                               IteratorStateReader* reader) override {
    mutex_lock l(mu_);
    names_->set_context(ctx);
    TF_RETURN_IF_ERROR(RestoreInput(ctx, reader, names_->iterator()));
    ffm::ReaderPosition p;
    int64_t end_of_input = 0, num_slots = 0, num_pending = 0;
    TF_RETURN_IF_ERROR(
        reader->ReadScalar(prefix(), ckpt::kCycleIndex, &p.cycle_index));
    TF_RETURN_IF_ERROR(
        reader->ReadScalar(prefix(), ckpt::kEndOfInput, &end_of_input));
    TF_RETURN_IF_ERROR(reader->ReadScalar(prefix(), ckpt::kNumSlots, &num_slots));
    TF_RETURN_IF_ERROR(
        reader->ReadScalar(prefix(), ckpt::kNumPending, &num_pending));
    p.names_exhausted = end_of_input != 0;
    if (num_slots < 0 || num_slots > kMaxCheckpointEntries || num_pending < 0 ||
        num_pending > kMaxCheckpointEntries) {
      return absl::DataLossError(absl::StrCat(
          "FFMRecordDataset checkpoint has ", num_slots, " slots and ",
          num_pending, " pending files"));
    }
    p.slots.resize(num_slots);
    for (int64_t i = 0; i < num_slots; ++i) {
      tstring file;
      int64_t offset = 0;
      TF_RETURN_IF_ERROR(reader->ReadScalar(
          prefix(), absl::StrCat(ckpt::kSlotFile, i), &file));
      TF_RETURN_IF_ERROR(reader->ReadScalar(
          prefix(), absl::StrCat(ckpt::kSlotOffset, i), &offset));
      p.slots[i].file = std::string(file);
      p.slots[i].offset = static_cast<uint64_t>(offset);
    }
    for (int64_t i = 0; i < num_pending; ++i) {
      tstring file;
      TF_RETURN_IF_ERROR(reader->ReadScalar(
          prefix(), absl::StrCat(ckpt::kPendingFile, i), &file));
      p.pending.push_back(std::string(file));
    }
    return reader_->Restore(p);
  }

 private:
  InputFileNames* names_ = nullptr;  // owned by reader_
  std::unique_ptr<ffm::SequentialReader> reader_;
};

std::unique_ptr<IteratorBase> Dataset::MakeIteratorInternal(
    const std::string& prefix) const {
  return std::make_unique<Iterator>(
      Iterator::Params{this, absl::StrCat(prefix, "::", kDatasetType)});
}

class FFMRecordDatasetOp : public UnaryDatasetOpKernel {
 public:
  explicit FFMRecordDatasetOp(OpKernelConstruction* ctx)
      : UnaryDatasetOpKernel(ctx) {
    OP_REQUIRES_OK(ctx, attrs_.Read(ctx));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("cycle_length", &cycle_length_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("first_chunk_size", &first_chunk_size_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("parallel_reads", &parallel_reads_));
    OP_REQUIRES(ctx, cycle_length_ >= 0 && cycle_length_ <= 4096,
                absl::InvalidArgumentError(absl::StrCat(
                    "cycle_length must be in [0, 4096] (0: automatic), got ",
                    cycle_length_)));
    OP_REQUIRES(ctx, first_chunk_size_ >= 1,
                absl::InvalidArgumentError(absl::StrCat(
                    "first_chunk_size must be positive, got ",
                    first_chunk_size_)));
    // Automatic (AUTOTUNE): files one after another. Each file already has
    // many reads in flight and the next files are opened ahead, so more
    // files at once add no throughput, only interleaving work per record.
    options_.cycle_length =
        cycle_length_ == 0 ? 1 : static_cast<int>(cycle_length_);
    options_.cursor.verify_crc = attrs_.verify_crc;
    options_.cursor.parallel_reads = ParseParallelReads(parallel_reads_);
    options_.cursor.prefetch.chunk_size = static_cast<uint64_t>(attrs_.chunk_size);
    options_.cursor.prefetch.first_chunk_size =
        static_cast<uint64_t>(first_chunk_size_);
    options_.cursor.prefetch.max_in_flight = static_cast<int>(attrs_.io_threads);
    options_.budget_bytes = static_cast<uint64_t>(attrs_.memory_budget);
    options_.io_threads = static_cast<int>(attrs_.io_threads);
  }

  void MakeDataset(OpKernelContext* ctx, DatasetBase* input,
                   DatasetBase** output) override {
    OP_REQUIRES(ctx,
                input->output_dtypes() == DataTypeVector({DT_STRING}) &&
                    input->output_shapes().size() == 1 &&
                    input->output_shapes()[0].IsCompatibleWith(
                        PartialTensorShape({})),
                absl::InvalidArgumentError(
                    "filenames must be a dataset of scalar strings"));
    tstring compression_type;
    OP_REQUIRES_OK(ctx, ParseScalarArgument<tstring>(ctx, "compression_type",
                                                     &compression_type));
    ffm::SequentialReaderOptions options = options_;
    absl::StatusOr<ffm::Compression> compression =
        ffm::ParseCompression(compression_type);
    OP_REQUIRES_OK(ctx, compression.status());
    options.cursor.compression = *compression;
    absl::StatusOr<std::shared_ptr<ffm::Storage>> storage = attrs_.MakeStorage();
    OP_REQUIRES_OK(ctx, storage.status());
    *output = new Dataset(ctx, input, std::string(compression_type), options,
                          cycle_length_, first_chunk_size_, parallel_reads_,
                          attrs_,
                          *std::move(storage));
  }

 private:
  ReaderAttrs attrs_;
  int64_t cycle_length_ = 1;
  int64_t first_chunk_size_ = 1;
  std::string parallel_reads_;
  ffm::SequentialReaderOptions options_;
};

REGISTER_KERNEL_BUILDER(Name("FFMRecordDataset").Device(DEVICE_CPU),
                        FFMRecordDatasetOp);

}  // namespace
}  // namespace data
}  // namespace tensorflow

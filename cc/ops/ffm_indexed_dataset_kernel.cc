// TF glue for FFMIndexedDataset: records through a RecordIndex, with exact
// cardinality, random access (tf.data.experimental.at), shuffling and
// record-level shards. Ordering and I/O live in cc/ffm/reader/.
//
// TF's random-access protocol (global_shuffle): RandomIndexingCompatible()
// says whether the dataset can be reordered; under global shuffle every
// GetNext carries an index mapper and output k is Get(index_mapper(k)), each
// a ranged read of one record; the iterator's only state is k (saved as
// element_count, restored when the context has restored_element_count), as
// in TF's own sources (range_dataset_op.cc, GlobalShuffleIterator).
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ffm/index/index_store.h"
#include "ffm/index/record_index.h"
#include "ffm/reader/random_reader.h"
#include "ffm/reader/read_plan.h"
#include "reader_attrs.h"
#include "record_dataset_base.h"
#include "tensorflow/core/framework/dataset.h"
#include "tensorflow/core/framework/metrics.h"
#include "tensorflow/core/framework/model.h"
#include "tensorflow/core/framework/tensor.h"

namespace tensorflow {
namespace data {
namespace {

constexpr char kDatasetType[] = "FFMIndexed";
// Records per split under tf.data service's distributed_epoch (fewer for
// small datasets, so that every worker gets some).
constexpr uint64_t kSplitRecords = 4096;
constexpr uint64_t kMinSplits = 64;

// Hands out the splits of an indexed dataset to tf.data service workers
// (distributed_epoch). Split k of epoch e is the int64 e * n + k: every
// worker then reads slices of the same epoch's order, whatever its own
// iterators have counted, so each record comes once per epoch. Each Reset
// (a new repetition) starts the next epoch. Its state is two integers,
// which the dispatcher's journal restores.
class IndexedSplitProvider : public SplitProvider {
 public:
  explicit IndexedSplitProvider(int64_t num_splits) : n_(num_splits) {}

  absl::Status GetNext(Tensor* split, bool* end_of_splits) override {
    mutex_lock l(mu_);
    *end_of_splits = next_ >= n_;
    if (!*end_of_splits) {
      *split = Tensor(DT_INT64, TensorShape({}));
      split->scalar<int64_t>()() = epoch_ * n_ + next_++;
    }
    return absl::OkStatus();
  }
  absl::Status Reset() override {
    mutex_lock l(mu_);
    ++epoch_;
    next_ = 0;
    return absl::OkStatus();
  }
  absl::Status Save(std::function<std::string(std::string)> full_name,
                    IteratorStateWriter* writer) override {
    mutex_lock l(mu_);
    TF_RETURN_IF_ERROR(writer->WriteScalar(full_name(ckpt::kEpoch), epoch_));
    return writer->WriteScalar(full_name(ckpt::kPosition), next_);
  }
  absl::Status Restore(std::function<std::string(std::string)> full_name,
                       IteratorStateReader* reader) override {
    mutex_lock l(mu_);
    TF_RETURN_IF_ERROR(reader->ReadScalar(full_name(ckpt::kEpoch), &epoch_));
    return reader->ReadScalar(full_name(ckpt::kPosition), &next_);
  }
  int64_t Cardinality() const override { return n_; }

 private:
  const int64_t n_;
  mutex mu_;
  int64_t epoch_ TF_GUARDED_BY(mu_) = 0;
  int64_t next_ TF_GUARDED_BY(mu_) = 0;
};

struct IndexedParams {
  std::string shuffle;
  bool index_is_path = false;
  ffm::PlanOptions plan;  // epoch set per iterator
  bool reshuffle_each_iteration = true;
  ReaderAttrs reader;
  std::shared_ptr<ffm::Storage> storage;  // set when the dataset is made
};

class IndexedDataset : public RecordDatasetBase {
 public:
  // `index_input`: the index's bytes, or its path (params.index_is_path).
  IndexedDataset(OpKernelContext* ctx, std::vector<std::string> files,
                 std::string index_input,
                 std::shared_ptr<const ffm::RecordIndex> index,
                 IndexedParams params)
      : RecordDatasetBase(DatasetContext(ctx)),
        files_(std::move(files)),
        index_input_(std::move(index_input)),
        index_(std::move(index)),
        params_(std::move(params)),
        sources_(index_, params_.storage->Opener()) {}

  std::unique_ptr<IteratorBase> MakeIteratorInternal(
      const std::string& prefix) const override;

  std::string DebugString() const override {
    return "FFMIndexedDatasetOp::Dataset";
  }
  int64_t CardinalityInternal(CardinalityOptions options) const override {
    return static_cast<int64_t>(ShardSize());
  }
  absl::Status InputDatasets(
      std::vector<const DatasetBase*>* inputs) const override {
    return absl::OkStatus();
  }
  absl::Status CheckExternalState() const override { return absl::OkStatus(); }
  absl::Status MakeSplitProviders(std::vector<std::unique_ptr<SplitProvider>>*
                                      split_providers) const override {
    split_providers->push_back(
        std::make_unique<IndexedSplitProvider>(static_cast<int64_t>(NumSplits())));
    return absl::OkStatus();
  }
  uint64_t NumSplits() const {
    const uint64_t n = ShardSize();
    return std::max<uint64_t>(
        n > 0 ? 1 : 0,
        std::min(n, std::max(kMinSplits, (n + kSplitRecords - 1) / kSplitRecords)));
  }
  // Unshuffled (sharded or not), positions are records in file order and TF
  // may reorder them. With a shuffle of its own the order would be shuffled
  // twice, and the dataset's reshuffle per epoch lost: refuse, naming the fix.
  absl::Status RandomIndexingCompatible() const override {
    if (params_.plan.shuffle == ffm::ShuffleMode::kNone) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "FFMRecordDataset(index=..., shuffle=\"", params_.shuffle,
        "\") already shuffles its records, so TF's global shuffle cannot "
        "reorder them: use one of the two (drop shuffle= and keep index= to "
        "let global_shuffle order the records, or drop global_shuffle)"));
  }

  absl::Status Get(OpKernelContext* ctx, int64_t i,
                   std::vector<Tensor>* out_tensors) const override {
    return Get(AnyContext(ctx), i, out_tensors);
  }

  // Element `i` of the first epoch's order.
  absl::Status Get(AnyContext ctx, int64_t i,
                   std::vector<Tensor>* out_tensors) const override {
    Tensor record(DT_STRING, {});
    tstring& bytes = record.scalar<tstring>()();
    TF_RETURN_IF_ERROR(ReadElement(i, [&bytes](size_t n) {
      bytes.resize_uninitialized(n);
      return bytes.mdata();
    }));
    out_tensors->push_back(std::move(record));
    return absl::OkStatus();
  }

  // Reads element `i` (one ranged read); OutOfRange past the last element.
  absl::Status ReadElement(int64_t i,
                           absl::FunctionRef<char*(size_t)> allocate) const {
    if (i < 0 || static_cast<uint64_t>(i) >= ShardSize()) {
      return absl::OutOfRangeError(absl::StrCat(
          "index ", i, " is out of range for a dataset of ", ShardSize(),
          " records"));
    }
    absl::StatusOr<uint64_t> record = RecordAt(i);
    if (!record.ok()) return record.status();
    return ffm::ReadIndexedRecord(*index_, &sources_, *record,
                                  params_.reader.verify_crc, allocate);
  }

  ffm::PlanOptions PlanFor(uint64_t epoch) const {
    ffm::PlanOptions p = params_.plan;
    p.epoch = epoch;
    return p;
  }
  uint64_t NextEpoch() const {
    return params_.reshuffle_each_iteration ? next_epoch_.fetch_add(1) : 0;
  }
  const std::shared_ptr<const ffm::RecordIndex>& index() const { return index_; }
  const IndexedParams& params() const { return params_; }

 protected:
  absl::Status AsGraphDefInternal(SerializationContext* ctx,
                                  DatasetGraphDefBuilder* b,
                                  Node** output) const override {
    Node *filenames, *index, *seed;
    TF_RETURN_IF_ERROR(b->AddVector(files_, &filenames));
    TF_RETURN_IF_ERROR(b->AddScalar(tstring(index_input_), &index));
    TF_RETURN_IF_ERROR(
        b->AddScalar(static_cast<int64_t>(params_.plan.seed), &seed));
    GraphAttrs attrs(b);
    attrs.Add("shuffle", params_.shuffle)
        .Add("reshuffle_each_iteration", params_.reshuffle_each_iteration)
        .Add("num_shards", static_cast<int64_t>(params_.plan.num_shards))
        .Add("shard_index", static_cast<int64_t>(params_.plan.shard_index))
        .Add("index_is_path", params_.index_is_path);
    params_.reader.AddTo(&attrs);
    return b->AddDataset(this, {filenames, index, seed}, attrs.list(), output);
  }

 private:
  // Position k * N / n of the epoch's order: where shard k starts.
  uint64_t ShardStart(uint64_t k) const {
    return ffm::SlicePoint(index_->num_records(), k, params_.plan.num_shards);
  }
  uint64_t ShardSize() const {
    const uint64_t k = params_.plan.shard_index;
    return ShardStart(k + 1) - ShardStart(k);
  }
  // The record id at position `i` (< ShardSize()) of the first epoch.
  absl::StatusOr<uint64_t> RecordAt(int64_t i) const {
    std::lock_guard<std::mutex> lock(plan_mu_);
    if (!first_epoch_.has_value()) {
      absl::StatusOr<ffm::ReadPlan> plan = ffm::ReadPlan::Make(index_, PlanFor(0));
      if (!plan.ok()) return plan.status();
      first_epoch_.emplace(*std::move(plan));
    }
    return first_epoch_->RecordAt(static_cast<uint64_t>(i));
  }

  const std::vector<std::string> files_;
  const std::string index_input_;
  const std::shared_ptr<const ffm::RecordIndex> index_;
  const IndexedParams params_;
  mutable ffm::IndexedSources sources_;  // for Get(); thread-safe
  mutable std::atomic<uint64_t> next_epoch_{0};
  mutable std::mutex plan_mu_;
  mutable std::optional<ffm::ReadPlan> first_epoch_;
};

class IndexedIterator
    : public RecordIterator<IndexedDataset, ffm::RandomReader> {
 public:
  explicit IndexedIterator(const Params& params)
      : RecordIterator(params, kDatasetType) {}

 protected:
  absl::Status Initialize(IteratorContext* ctx) override {
    if (!ctx->split_providers().empty()) {
      split_provider_ = ctx->split_providers()[0];
    }
    return absl::OkStatus();
  }

  // Under distributed_epoch: the records of each split the dispatcher hands
  // out, one split after another, until it has none left.
  absl::Status GetNextInternal(IteratorContext* ctx,
                               std::vector<Tensor>* out_tensors,
                               bool* end_of_sequence) override {
    if (split_provider_ == nullptr || ctx->index_mapper() != nullptr) {
      return RecordIterator::GetNextInternal(ctx, out_tensors, end_of_sequence);
    }
    for (;;) {
      {
        mutex_lock l(mu_);
        if (reader_ == nullptr) {
          TF_RETURN_IF_ERROR(StartSplit(end_of_sequence));
          if (*end_of_sequence) return absl::OkStatus();
        }
      }
      TF_RETURN_IF_ERROR(
          RecordIterator::GetNextInternal(ctx, out_tensors, end_of_sequence));
      if (!*end_of_sequence) return absl::OkStatus();
      mutex_lock l(mu_);
      reader_.reset();  // the split is done
    }
  }

  absl::StatusOr<ffm::RandomReader*> ReaderFor(IteratorContext* ctx) override {
    if (reader_ == nullptr) TF_RETURN_IF_ERROR(StartEpoch(dataset()->NextEpoch()));
    return reader_.get();
  }

  absl::Status ReadByIndex(IteratorContext* ctx,
                           absl::FunctionRef<char*(size_t)> allocate) override
      TF_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    TF_RETURN_IF_ERROR(dataset()->RandomIndexingCompatible());
    by_index_ = true;
    // NotFound: the mapper skips this position (e.g. it belongs to another
    // input of a concatenation); OutOfRange: the end.
    absl::StatusOr<size_t> position = absl::NotFoundError("");
    while (absl::IsNotFound(position.status())) {
      position = ctx->index_mapper()(static_cast<size_t>(element_count_++));
    }
    if (!position.ok()) return position.status();
    return dataset()->ReadElement(static_cast<int64_t>(*position), allocate);
  }

  absl::Status SaveInternal(SerializationContext* ctx,
                            IteratorStateWriter* writer) override {
    mutex_lock l(mu_);
    if (split_provider_ != nullptr) {
      return absl::FailedPreconditionError(
          "FFMIndexedDataset cannot save an iterator that reads tf.data service "
          "splits: the dispatcher keeps that state");
    }
    TF_RETURN_IF_ERROR(
        writer->WriteScalar(prefix(), ckpt::kElementCount, element_count_));
    if (by_index_) return absl::OkStatus();  // no reader, no epoch of its own
    if (reader_ == nullptr) TF_RETURN_IF_ERROR(StartEpoch(dataset()->NextEpoch()));
    TF_RETURN_IF_ERROR(
        writer->WriteScalar(prefix(), ckpt::kEpoch, static_cast<int64_t>(epoch_)));
    return writer->WriteScalar(prefix(), ckpt::kPosition,
                               static_cast<int64_t>(reader_->position()));
  }

  absl::Status RestoreInternal(IteratorContext* ctx,
                               IteratorStateReader* reader) override {
    mutex_lock l(mu_);
    if (ctx->restored_element_count().has_value()) {
      // Under global shuffle: continue at output position k. Our own count
      // (it includes positions the mapper skipped) or, from a checkpoint
      // written without it, the shuffle's.
      int64_t count = *ctx->restored_element_count();
      if (reader->Contains(prefix(), ckpt::kElementCount)) {
        TF_RETURN_IF_ERROR(
            reader->ReadScalar(prefix(), ckpt::kElementCount, &count));
      }
      if (count < 0) {
        return absl::DataLossError("FFMIndexedDataset checkpoint is corrupt");
      }
      element_count_ = count;
      by_index_ = true;
      reader_.reset();
      return absl::OkStatus();
    }
    int64_t epoch = 0, position = 0;
    TF_RETURN_IF_ERROR(reader->ReadScalar(prefix(), ckpt::kEpoch, &epoch));
    TF_RETURN_IF_ERROR(reader->ReadScalar(prefix(), ckpt::kPosition, &position));
    if (epoch < 0 || position < 0) {
      return absl::DataLossError("FFMIndexedDataset checkpoint is corrupt");
    }
    TF_RETURN_IF_ERROR(StartEpoch(static_cast<uint64_t>(epoch)));
    return reader_->SkipTo(static_cast<uint64_t>(position));
  }

 private:
  // Reads the slice of an epoch that the next split names.
  absl::Status StartSplit(bool* end_of_splits) TF_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Tensor split;
    TF_RETURN_IF_ERROR(split_provider_->GetNext(&split, end_of_splits));
    if (*end_of_splits) return absl::OkStatus();
    const uint64_t n = dataset()->NumSplits();
    const int64_t value = split.scalar<int64_t>()();
    if (value < 0 || n == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("FFMIndexedDataset got split ", value, " of ", n));
    }
    const uint64_t epoch = dataset()->params().reshuffle_each_iteration
                               ? static_cast<uint64_t>(value) / n
                               : 0;
    const uint64_t k = static_cast<uint64_t>(value) % n;
    if (!split_plan_.has_value() || split_epoch_ != epoch) {
      absl::StatusOr<ffm::ReadPlan> plan =
          ffm::ReadPlan::Make(dataset()->index(), dataset()->PlanFor(epoch));
      if (!plan.ok()) return plan.status();
      split_plan_.emplace(*std::move(plan));
      split_epoch_ = epoch;
    }
    const uint64_t records = split_plan_->num_records();
    StartReader(split_plan_->Slice(ffm::SlicePoint(records, k, n),
                                   ffm::SlicePoint(records, k + 1, n)));
    return absl::OkStatus();
  }

  absl::Status StartEpoch(uint64_t epoch) TF_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<ffm::ReadPlan> plan =
        ffm::ReadPlan::Make(dataset()->index(), dataset()->PlanFor(epoch));
    if (!plan.ok()) return plan.status();
    epoch_ = epoch;
    StartReader(*std::move(plan));
    return absl::OkStatus();
  }

  void StartReader(ffm::ReadPlan plan) TF_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const IndexedParams& p = dataset()->params();
    ffm::RandomReaderOptions options;
    options.verify_crc = p.reader.verify_crc;
    options.budget_bytes = static_cast<uint64_t>(p.reader.memory_budget);
    options.io_threads = static_cast<int>(p.reader.io_threads);
    reader_.reset();
    reader_ = std::make_unique<ffm::RandomReader>(
        dataset()->index(), std::move(plan), p.storage->Opener(), options);
  }

  uint64_t epoch_ TF_GUARDED_BY(mu_) = 0;
  // Under tf.data service: where splits come from, and the plan of the
  // epoch they are slices of.
  std::shared_ptr<SplitProvider> split_provider_;
  std::optional<ffm::ReadPlan> split_plan_ TF_GUARDED_BY(mu_);
  uint64_t split_epoch_ TF_GUARDED_BY(mu_) = 0;
  std::unique_ptr<ffm::RandomReader> reader_ TF_GUARDED_BY(mu_);
  // Under global shuffle: output positions taken from the index mapper.
  bool by_index_ TF_GUARDED_BY(mu_) = false;
  int64_t element_count_ TF_GUARDED_BY(mu_) = 0;
};

std::unique_ptr<IteratorBase> IndexedDataset::MakeIteratorInternal(
    const std::string& prefix) const {
  return std::make_unique<IndexedIterator>(
      IndexedIterator::Params{this, absl::StrCat(prefix, "::", kDatasetType)});
}

class FFMIndexedDatasetOp : public DatasetOpKernel {
 public:
  explicit FFMIndexedDatasetOp(OpKernelConstruction* ctx)
      : DatasetOpKernel(ctx) {
    int64_t num_shards, shard_index;
    OP_REQUIRES_OK(ctx, params_.reader.Read(ctx));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("shuffle", &params_.shuffle));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("reshuffle_each_iteration",
                                     &params_.reshuffle_each_iteration));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("num_shards", &num_shards));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("shard_index", &shard_index));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("index_is_path", &params_.index_is_path));
    OP_REQUIRES(ctx, num_shards >= 1 && shard_index >= 0 && shard_index < num_shards,
                absl::InvalidArgumentError(absl::StrCat(
                    "shard=(", num_shards, ", ", shard_index,
                    ") needs num_shards >= 1 and 0 <= index < num_shards")));
    auto mode = ffm::ParseShuffleMode(params_.shuffle);
    OP_REQUIRES_OK(ctx, mode.status());
    params_.plan.shuffle = *mode;
    params_.plan.num_shards = static_cast<uint64_t>(num_shards);
    params_.plan.shard_index = static_cast<uint64_t>(shard_index);
    params_.plan.range_bytes = static_cast<uint64_t>(params_.reader.chunk_size);
  }

  void MakeDataset(OpKernelContext* ctx, DatasetBase** output) override {
    const Tensor* filenames;
    OP_REQUIRES_OK(ctx, ctx->input("filenames", &filenames));
    tstring index_input;
    int64_t seed;
    OP_REQUIRES_OK(ctx, ParseScalarArgument<tstring>(ctx, "index", &index_input));
    OP_REQUIRES_OK(ctx, ParseScalarArgument<int64_t>(ctx, "seed", &seed));
    IndexedParams params = params_;
    params.plan.seed = static_cast<uint64_t>(seed);
    absl::StatusOr<std::shared_ptr<ffm::Storage>> storage =
        params_.reader.MakeStorage();
    OP_REQUIRES_OK(ctx, storage.status());
    params.storage = *std::move(storage);
    absl::StatusOr<std::shared_ptr<const ffm::RecordIndex>> index;
    if (params.index_is_path) {
      index = ffm::OpenIndexFile(std::string(index_input),
                                 params.storage->Opener());
    } else {
      absl::StatusOr<ffm::RecordIndex> parsed = ffm::RecordIndex::Parse(
          absl::string_view(index_input.data(), index_input.size()), "index");
      if (parsed.ok()) {
        index = std::make_shared<const ffm::RecordIndex>(*std::move(parsed));
      } else {
        index = parsed.status();
      }
    }
    OP_REQUIRES_OK(ctx, index.status());
    std::vector<std::string> files;
    for (int64_t i = 0; i < filenames->NumElements(); ++i) {
      files.push_back(std::string(filenames->flat<tstring>()(i)));
    }
    // The index must describe exactly these files, in this order: record
    // numbers are defined by it.
    bool same = files.size() == (*index)->files().size();
    for (size_t i = 0; same && i < files.size(); ++i) {
      same = files[i] == (*index)->files()[i].uri;
    }
    OP_REQUIRES(ctx, same,
                absl::InvalidArgumentError(absl::StrCat(
                    "the index covers ", (*index)->files().size(),
                    " files that differ from the ", files.size(),
                    " filenames given; build the index from the same list")));
    *output = new IndexedDataset(ctx, std::move(files), std::string(index_input),
                                 *std::move(index), std::move(params));
  }

 private:
  IndexedParams params_;
};

REGISTER_KERNEL_BUILDER(Name("FFMIndexedDataset").Device(DEVICE_CPU),
                        FFMIndexedDatasetOp);

}  // namespace
}  // namespace data
}  // namespace tensorflow

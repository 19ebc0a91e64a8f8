// What the two record datasets (FFMRecordDataset, FFMIndexedDataset) share
// as TF glue: one scalar string per element, attrs written back by
// AsGraphDef, and the checkpoint keys they use.
#ifndef TF_FFM_OPS_RECORD_DATASET_BASE_H_
#define TF_FFM_OPS_RECORD_DATASET_BASE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "record_tensor.h"
#include "tensorflow/core/framework/dataset.h"
#include "tensorflow/core/framework/metrics.h"
#include "tensorflow/core/framework/model.h"

namespace tensorflow {
namespace data {

// Names of the values an iterator writes to a checkpoint.
namespace ckpt {
inline constexpr char kCycleIndex[] = "cycle_index";
inline constexpr char kEndOfInput[] = "end_of_input";
inline constexpr char kNumSlots[] = "num_slots";
inline constexpr char kSlotFile[] = "slot_file_";      // + slot number
inline constexpr char kSlotOffset[] = "slot_offset_";  // + slot number
inline constexpr char kNumPending[] = "num_pending";
inline constexpr char kPendingFile[] = "pending_file_";  // + position
inline constexpr char kEpoch[] = "epoch";
inline constexpr char kPosition[] = "position";
inline constexpr char kElementCount[] = "element_count";  // global shuffle
}  // namespace ckpt

class RecordDatasetBase : public DatasetBase {
 public:
  using DatasetBase::DatasetBase;

  const DataTypeVector& output_dtypes() const override {
    static const DataTypeVector* dtypes = new DataTypeVector({DT_STRING});
    return *dtypes;
  }
  const std::vector<PartialTensorShape>& output_shapes() const override {
    static const auto* shapes = new std::vector<PartialTensorShape>({{}});
    return *shapes;
  }
};

// The iterator glue both datasets share: one record per GetNext from an
// engine reader (anything with ReadRecord(allocate)), counted in tf.data's
// bytes-read metric under `dataset_type`. Under TF's global shuffle (an
// index mapper in the context) the record comes from ReadByIndex instead.
template <typename DatasetT, typename ReaderT>
class RecordIterator : public DatasetIterator<DatasetT> {
 public:
  RecordIterator(const typename DatasetIterator<DatasetT>::Params& params,
                 const char* dataset_type)
      : DatasetIterator<DatasetT>(params),
        bytes_counter_(metrics::GetTFDataBytesReadCounter(dataset_type)) {}

  absl::Status GetNextInternal(IteratorContext* ctx,
                               std::vector<Tensor>* out_tensors,
                               bool* end_of_sequence) override {
    mutex_lock l(mu_);
    if (ctx->index_mapper() != nullptr) {
      return NextRecordTensor(
          [this, ctx](auto allocate) { return ReadByIndex(ctx, allocate); },
          ctx->allocator({}), bytes_counter_, out_tensors, end_of_sequence);
    }
    absl::StatusOr<ReaderT*> found = ReaderFor(ctx);
    if (!found.ok()) return found.status();
    ReaderT* reader = *found;
    return NextRecordTensor(
        [reader](auto allocate) { return reader->ReadRecord(allocate); },
        ctx->allocator({}), bytes_counter_, out_tensors, end_of_sequence);
  }

 protected:
  // The reader the next record comes from; called with mu_ held.
  virtual absl::StatusOr<ReaderT*> ReaderFor(IteratorContext* ctx) = 0;

  // The record at output position ctx->index_mapper()(k) for the next k, as
  // TF's random-access protocol asks; OutOfRange ends the sequence. Called
  // with mu_ held. A dataset without random access refuses with the reason
  // its RandomIndexingCompatible() gives (the global shuffle op checks that
  // too, when the pipeline is built), never falling back to its own order.
  virtual absl::Status ReadByIndex(IteratorContext* ctx,
                                   absl::FunctionRef<char*(size_t)> allocate) {
    absl::Status s = this->dataset()->RandomIndexingCompatible();
    if (!s.ok()) return s;
    return absl::UnimplementedError(absl::StrCat(
        this->dataset()->DebugString(), " has no random-access iterator"));
  }

  std::shared_ptr<model::Node> CreateNode(
      IteratorContext* ctx, model::Node::Args args) const override {
    return model::MakeSourceNode(std::move(args));
  }

  mutex mu_;

 private:
  monitoring::CounterCell* const bytes_counter_;
};

// Collects the attrs AsGraphDef hands to AddDataset.
class GraphAttrs {
 public:
  explicit GraphAttrs(DatasetBase::DatasetGraphDefBuilder* b) : b_(b) {}

  template <typename T>
  GraphAttrs& Add(absl::string_view name, const T& value) {
    AttrValue a;
    b_->BuildAttrValue(value, &a);
    attrs_.emplace_back(name, a);
    return *this;
  }
  const std::vector<std::pair<absl::string_view, AttrValue>>& list() const {
    return attrs_;
  }

 private:
  DatasetBase::DatasetGraphDefBuilder* const b_;
  std::vector<std::pair<absl::string_view, AttrValue>> attrs_;
};

}  // namespace data
}  // namespace tensorflow

#endif  // TF_FFM_OPS_RECORD_DATASET_BASE_H_

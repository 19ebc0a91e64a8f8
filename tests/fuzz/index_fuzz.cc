// libFuzzer target: the record-index loader must reject any corrupt bytes
// with DataLoss (no crash, no huge allocation), whether the index is parsed
// whole or opened in place and located record by record; what it accepts
// must serialise back to the same bytes and plan without error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "ffm/index/index_writer.h"
#include "ffm/index/record_index.h"
#include "ffm/reader/read_plan.h"
#include "ffm/tfrecord/format.h"

namespace {

uint32_t Crc(absl::string_view bytes) {
  return ffm::tfrecord::MaskCrc(ffm::tfrecord::Crc32c(bytes));
}

// Signs the sections of a TFFMIDX2 index again (block CRCs, file table,
// header), so that mutations reach the structure checks instead of stopping
// at a checksum. Sizes the header claims are trusted only within the input.
void Resign(std::string* s) {
  if (s->size() < 64 || s->compare(0, 8, "TFFMIDX2") != 0) return;
  const uint64_t n = ffm::tfrecord::DecodeFixed64(&(*s)[16]);
  const uint64_t k = ffm::tfrecord::DecodeFixed64(&(*s)[24]);
  const uint64_t files_at = ffm::tfrecord::DecodeFixed64(&(*s)[32]);
  if (k > 0 && n <= (s->size() - 64) / 8) {
    const uint64_t blocks = (n + k - 1) / k;
    const uint64_t crcs_at = 64 + 8 * n;
    if (blocks <= (s->size() - crcs_at) / 4) {
      for (uint64_t b = 0; b < blocks; ++b) {
        const uint64_t begin = b * k, end = std::min(n, begin + k);
        ffm::tfrecord::EncodeFixed32(
            &(*s)[crcs_at + 4 * b],
            Crc(absl::string_view(*s).substr(64 + 8 * begin, 8 * (end - begin))));
      }
    }
  }
  if (files_at <= s->size()) {
    ffm::tfrecord::EncodeFixed32(&(*s)[48],
                                 Crc(absl::string_view(*s).substr(files_at)));
  }
  ffm::tfrecord::EncodeFixed32(&(*s)[52], Crc(absl::string_view(*s).substr(0, 52)));
}

void ExpectDataLoss(const absl::Status& s) {
  if (!absl::IsDataLoss(s)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Odd first byte: sign the rest again.
  std::string input(reinterpret_cast<const char*>(data), size);
  if (!input.empty() && (input[0] & 1)) {
    input.erase(0, 1);
    Resign(&input);
  }
  absl::StatusOr<ffm::RecordIndex> index =
      ffm::RecordIndex::Parse(input, "fuzz://index");
  if (!index.ok()) {
    ExpectDataLoss(index.status());
  } else if (input.compare(0, 8, "TFFMIDX2") == 0 && index->Serialize() != input) {
    std::abort();
  }
  // In place: whatever opens must locate each record or say DataLoss.
  absl::StatusOr<ffm::RecordIndex> opened =
      ffm::RecordIndex::Open(ffm::OwnedRegion(input), "fuzz://index");
  if (!opened.ok()) {
    ExpectDataLoss(opened.status());
    return 0;
  }
  if (opened->num_records() > 100000) return 0;
  auto shared = std::make_shared<const ffm::RecordIndex>(*std::move(opened));
  for (uint64_t i = 0; i < shared->num_records(); ++i) {
    absl::StatusOr<ffm::RecordLocation> loc = shared->Find(i);
    if (!loc.ok()) {
      ExpectDataLoss(loc.status());
      continue;
    }
    const ffm::IndexedFile& f = shared->files()[loc->file];
    if (loc->offset + ffm::tfrecord::FramedSize(loc->length) > f.size) std::abort();
  }
  for (ffm::ShuffleMode mode : {ffm::ShuffleMode::kNone, ffm::ShuffleMode::kGlobal,
                                ffm::ShuffleMode::kBlock}) {
    ffm::PlanOptions options;
    options.shuffle = mode;
    options.range_bytes = 1 << 16;
    absl::StatusOr<ffm::ReadPlan> plan = ffm::ReadPlan::Make(shared, options);
    if (!plan.ok()) {
      ExpectDataLoss(plan.status());
      continue;
    }
    for (uint64_t p = 0; p < plan->num_records();) {
      absl::StatusOr<ffm::ReadGroup> group = plan->GroupAt(p);
      if (!group.ok()) {
        ExpectDataLoss(group.status());
        break;
      }
      if (group->records.empty()) std::abort();
      p += group->records.size();
    }
  }
  return 0;
}

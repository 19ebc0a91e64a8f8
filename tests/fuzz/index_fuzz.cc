// libFuzzer target: the record-index loader must reject any corrupt bytes
// with DataLoss (no crash, no huge allocation), and whatever it accepts must
// serialise back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ffm/index/record_index.h"
#include "ffm/reader/read_plan.h"
#include "ffm/tfrecord/format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Odd first byte: append the right checksum so mutations reach the
  // structure parser instead of stopping at the CRC check.
  std::string input(reinterpret_cast<const char*>(data), size);
  if (!input.empty() && (input[0] & 1)) {
    input.erase(0, 1);
    char crc[4];
    ffm::tfrecord::EncodeFixed32(
        crc, ffm::tfrecord::MaskCrc(ffm::tfrecord::Crc32c(input)));
    input.append(crc, 4);
  }
  absl::string_view bytes(input);
  absl::StatusOr<ffm::RecordIndex> index =
      ffm::RecordIndex::Parse(bytes, "fuzz://index");
  if (!index.ok()) {
    if (!absl::IsDataLoss(index.status())) std::abort();
    return 0;
  }
  if (index->Serialize() != bytes) std::abort();
  if (index->num_records() < 100000) {
    ffm::PlanOptions plan;
    plan.shuffle = ffm::ShuffleMode::kBlock;
    plan.range_bytes = 1 << 16;
    ffm::MakeReadPlan(*index, plan);
  }
  return 0;
}

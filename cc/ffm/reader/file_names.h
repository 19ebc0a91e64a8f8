// Where a SequentialReader's file names come from, one at a time and in
// order: a fixed list, or (in the TF op) the iterator of a tf.data dataset
// of file names, which may be a generator that changes between epochs.
#ifndef FFM_READER_FILE_NAMES_H_
#define FFM_READER_FILE_NAMES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ffm {

class FileNames {
 public:
  virtual ~FileNames() = default;

  // The next name, or nullopt when there are no more. Called only on the
  // reader's consumer thread, from ReadRecord and Restore.
  virtual absl::StatusOr<std::optional<std::string>> Next() = 0;
};

class FileNameList final : public FileNames {
 public:
  // Starts at `names[first]` (a restored reader continues after the names
  // it had taken).
  explicit FileNameList(std::vector<std::string> names, size_t first = 0)
      : names_(std::move(names)), next_(first) {}

  absl::StatusOr<std::optional<std::string>> Next() override {
    if (next_ >= names_.size()) return std::nullopt;
    return names_[next_++];
  }

 private:
  const std::vector<std::string> names_;
  size_t next_;
};

}  // namespace ffm

#endif  // FFM_READER_FILE_NAMES_H_

#include "ffm/io/storage_options.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ffm {

absl::StatusOr<StorageOptions> StorageOptions::Parse(absl::string_view text) {
  StorageOptions out;
  for (absl::string_view item :
       absl::StrSplit(text, ';', absl::SkipWhitespace())) {
    size_t dot = item.find('.');
    size_t eq = item.find('=');
    if (dot == absl::string_view::npos || eq == absl::string_view::npos ||
        dot == 0 || dot > eq) {
      return absl::InvalidArgumentError(absl::StrCat(
          "storage option '", item, "' is not scheme.key=value"));
    }
    std::string& settings = out.by_scheme[std::string(item.substr(0, dot))];
    absl::StrAppend(&settings, settings.empty() ? "" : ";", item.substr(dot + 1));
  }
  return out;
}

std::string StorageOptions::ToString() const {
  std::vector<std::string> items;
  for (const auto& [scheme, settings] : by_scheme) {
    for (absl::string_view item :
         absl::StrSplit(settings, ';', absl::SkipWhitespace())) {
      items.push_back(absl::StrCat(scheme, ".", item));
    }
  }
  return absl::StrJoin(items, ";");
}

const std::string& StorageOptions::For(const std::string& scheme) const {
  static const std::string* const kNone = new std::string();
  auto it = by_scheme.find(scheme);
  return it == by_scheme.end() ? *kNone : it->second;
}

}  // namespace ffm

// ForwardingSource: passes every call to the source it wraps, so a layer
// overrides only what it changes.
#include "ffm/io/forwarding_source.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

class WithMtime final : public ByteSource {
 public:
  explicit WithMtime(std::shared_ptr<bool> destroyed)
      : inner_("mem://d/inner", "0123456789"), destroyed_(destroyed) {}
  ~WithMtime() override { *destroyed_ = true; }
  const std::string& uri() const override { return inner_.uri(); }
  uint64_t size() const override { return inner_.size(); }
  int64_t mtime_ns() const override { return 42; }
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override {
    return inner_.ReadAt(offset, n, dst);
  }

 private:
  StringSource inner_;
  std::shared_ptr<bool> destroyed_;
};

// Overrides only ReadAt: upper-cases what the inner source returns.
class Shouting final : public ForwardingSource {
 public:
  using ForwardingSource::ForwardingSource;
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n,
                                char* dst) const override {
    absl::StatusOr<size_t> got = inner().ReadAt(offset, n, dst);
    if (got.ok()) {
      for (size_t i = 0; i < *got; ++i) {
        if (dst[i] >= 'a' && dst[i] <= 'z') dst[i] -= 'a' - 'A';
      }
    }
    return got;
  }
};

TEST(ForwardingSourceTest, ForwardsEveryCall) {
  auto destroyed = std::make_shared<bool>(false);
  ForwardingSource source(std::make_unique<WithMtime>(destroyed));
  EXPECT_EQ(source.uri(), "mem://d/inner");
  EXPECT_EQ(source.size(), 10u);
  EXPECT_EQ(source.mtime_ns(), 42);
  char buf[4];
  absl::StatusOr<size_t> got = source.ReadAt(8, 4, buf);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(std::string(buf, *got), "89");
}

TEST(ForwardingSourceTest, ForwardsErrors) {
  StringSourceOptions o;
  o.fail_offset = 5;
  o.fail_code = absl::StatusCode::kUnavailable;
  ForwardingSource source(
      std::make_unique<StringSource>("mem://d/flaky", "0123456789", o));
  char buf[10];
  EXPECT_TRUE(StatusIs(source.ReadAt(0, 10, buf).status(),
                       absl::StatusCode::kUnavailable, {"mem://d/flaky"}));
  EXPECT_TRUE(source.ReadAt(0, 5, buf).ok());
}

TEST(ForwardingSourceTest, SubclassOverridesOnlyWhatItChanges) {
  Shouting source(std::make_unique<StringSource>("mem://d/s", "abc-def"));
  EXPECT_EQ(source.uri(), "mem://d/s");
  EXPECT_EQ(source.size(), 7u);
  char buf[7];
  absl::StatusOr<size_t> got = source.ReadAt(0, 7, buf);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(std::string(buf, *got), "ABC-DEF");
}

TEST(ForwardingSourceTest, OwnsTheInnerSource) {
  auto destroyed = std::make_shared<bool>(false);
  {
    ForwardingSource source(std::make_unique<WithMtime>(destroyed));
    EXPECT_FALSE(*destroyed);
  }
  EXPECT_TRUE(*destroyed);
}

}  // namespace
}  // namespace test
}  // namespace ffm

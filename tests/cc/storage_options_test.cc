// StorageOptions: the "scheme.key=value;..." form the ops and the Python API
// carry, grouped by scheme, printed back in the same form; malformed items
// are InvalidArgument naming the item.
#include "ffm/io/storage_options.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace ffm {
namespace test {
namespace {

TEST(StorageOptionsTest, ParseGroupsSettingsByScheme) {
  absl::StatusOr<StorageOptions> o = StorageOptions::Parse(
      "s3.endpoint_url=http://h:9000;s3.region=eu-west-1;gs.project=p");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->by_scheme.size(), 2u);
  EXPECT_EQ(o->For("s3"), "endpoint_url=http://h:9000;region=eu-west-1");
  EXPECT_EQ(o->For("gs"), "project=p");
  EXPECT_EQ(o->For("az"), "");
  EXPECT_EQ(o->For(""), "");
}

TEST(StorageOptionsTest, EmptyTextIsNoOptions) {
  for (const char* text : {"", ";", " ; ;"}) {
    absl::StatusOr<StorageOptions> o = StorageOptions::Parse(text);
    ASSERT_TRUE(o.ok()) << "'" << text << "': " << o.status();
    EXPECT_TRUE(o->by_scheme.empty()) << "'" << text << "'";
    EXPECT_EQ(o->ToString(), "");
  }
}

TEST(StorageOptionsTest, ValuesMayHoldDotsAndEqualsSigns) {
  absl::StatusOr<StorageOptions> o =
      StorageOptions::Parse("s3.endpoint_url=https://a.b.example:9000/x=y");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->For("s3"), "endpoint_url=https://a.b.example:9000/x=y");
}

TEST(StorageOptionsTest, ToStringRoundTrips) {
  for (const char* text :
       {"s3.region=eu-west-1",
        "s3.endpoint_url=http://h:9000;s3.region=eu-west-1",
        "gs.project=p;s3.anonymous=true;s3.max_attempts=3"}) {
    absl::StatusOr<StorageOptions> o = StorageOptions::Parse(text);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->ToString(), text);
    absl::StatusOr<StorageOptions> again = StorageOptions::Parse(o->ToString());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->by_scheme, o->by_scheme);
  }
}

TEST(StorageOptionsTest, ToStringOfABuiltValueParsesBack) {
  StorageOptions o;
  o.by_scheme["s3"] = "region=us-east-1;verify_tls=false";
  o.by_scheme["gs"] = "project=p";
  absl::StatusOr<StorageOptions> parsed = StorageOptions::Parse(o.ToString());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->by_scheme, o.by_scheme);
}

TEST(StorageOptionsTest, ItemsThatAreNotSchemeKeyValueAreInvalidArgument) {
  for (const char* item : {"region=eu-west-1", "s3.region", ".region=x",
                           "endpoint=http://a.b", "s3"}) {
    absl::StatusOr<StorageOptions> o =
        StorageOptions::Parse(absl::StrCat("s3.anonymous=true;", item));
    EXPECT_TRUE(
        StatusIs(o.status(), absl::StatusCode::kInvalidArgument, {item}))
        << item;
  }
}

}  // namespace
}  // namespace test
}  // namespace ffm
